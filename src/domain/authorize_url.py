"""The authorize URL policy: which parameters reach the provider, and how.

Two pure functions. ``parse_authorization_request`` validates what the caller asked for and
reports every offending field at once; ``build_authorize_url`` adds the parameters the
service owns. Random values (state, PKCE challenge) come in as arguments.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from domain.endpoint_url import EndpointUrl, InvalidEndpointUrl, parse_endpoint_url, same_endpoint
from domain.errors import FieldErrors
from domain.form_encoding import (
    MalformedFormData,
    encode_component,
    parameter_names,
    parse_form,
)
from domain.model import OfflineAccess, ProviderSettings
from domain.pkce import METHOD as PKCE_METHOD
from domain.prompt import DEFAULT_PROMPT, InvalidPrompt, normalise_prompt
from domain.scopes import ScopeSeparator, normalise_scopes

NO_SETTINGS = ProviderSettings()

# Set by the service on every URL; a caller may never supply them (``prompt`` aside, below).
SERVICE_PARAMETERS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "prompt",
        "code_challenge",
        "code_challenge_method",
    }
)
# Would move parameters out of our control (a request object, RFC 9101) or answer somewhere
# else than the query our callback reads (OAuth 2.0 Multiple Response Type Encoding).
REFUSED_PARAMETERS = frozenset({"request", "request_uri", "response_mode"})
APPROVAL_PROMPT = "approval_prompt"
MAX_CLIENT_ID_LENGTH = 512
MAX_ADDITIONAL_PARAMS_LENGTH = 8192
VSCHAR = re.compile(r"[\x20-\x7e]+")  # RFC 6749 Appendix A: client ids and secrets


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated request: everything the caller controls, normalised."""

    endpoint: EndpointUrl
    client_id: str
    scopes: tuple[str, ...]
    scope_separator: ScopeSeparator
    prompt: str | None
    extra_params: tuple[tuple[str, str], ...]


def parameter_keys(name: str) -> set[str]:
    """The names a provider's framework could read ``name`` as: case folded, and ``.``,
    space and ``[`` read as ``_`` (as PHP does), or cut at ``[`` (a PHP array)."""
    folded = name.lower()
    keys = {folded, folded.replace(".", "_").replace(" ", "_").replace("[", "_")}
    if "[" in folded:
        keys.add(folded.split("[", 1)[0].replace(".", "_").replace(" ", "_"))
    return keys


def controlled_parameter(name: str) -> str | None:
    """The service or refused parameter ``name`` could stand for, if any."""
    for key in sorted(parameter_keys(name)):
        if key in SERVICE_PARAMETERS or key in REFUSED_PARAMETERS:
            return key
    return None


def _conflict_message(name: str, key: str, where: str) -> str:
    if key in REFUSED_PARAMETERS:
        return f"'{name}' is not allowed: it would take the request out of the service's control"
    spelled = "" if name == key else f" (a provider may read '{name}' as '{key}')"
    return f"'{key}' is set by the service and {where}{spelled}"


def validate_client_id(client_id: str, errors: FieldErrors, field: str = "clientId") -> None:
    if not client_id:
        errors.add(field, "is required")
    elif len(client_id) > MAX_CLIENT_ID_LENGTH:
        errors.add(field, f"must be at most {MAX_CLIENT_ID_LENGTH} characters")
    elif VSCHAR.fullmatch(client_id) is None:
        errors.add(field, "must be printable ASCII (RFC 6749 Appendix A)")


def parse_authorization_request(
    *,
    authorize_url: str,
    client_id: str,
    scopes: Sequence[str],
    prompt: str | None,
    additional_params: str | None,
    disable_offline_access: bool,
    scope_separator: ScopeSeparator,
    allow_loopback_http: bool = True,
    provider: ProviderSettings = NO_SETTINGS,
) -> AuthorizationRequest:
    """See ``_parse``. A pure function, so repeated requests (a product sends the same shape
    again and again) are answered from memory; refusals are always computed afresh."""
    return _parse(  # positional, and of strings and tuples: the cache's key is cheap to build
        authorize_url,
        client_id,
        tuple(scopes),
        prompt,
        additional_params,
        not disable_offline_access and provider.offline_access is OfflineAccess.SCOPE,
        scope_separator,
        allow_loopback_http,
        provider.authorize_url,
        provider.authorize_params,
        provider.default_prompt,
    )


@lru_cache(maxsize=1024)
def _parse(  # noqa: PLR0917  (positional: a cheaper cache key)
    authorize_url: str,
    client_id: str,
    scopes: tuple[str, ...],
    prompt: str | None,
    additional_params: str | None,
    offline: bool,
    scope_separator: ScopeSeparator,
    allow_loopback_http: bool,
    pinned_url: str | None,
    authorize_params: tuple[tuple[str, str], ...],
    default_prompt: str | None,
) -> AuthorizationRequest:
    """Validate the caller's part of an authorize URL; empty strings count as absent.
    ``offline``, ``pinned_url``, ``authorize_params`` and ``default_prompt`` come from the
    request and the connector's provider settings.

    Rules: the authorize URL is an absolute https URL (http only on loopback) whose own query
    may not carry a service parameter, and with the connector's ``authorizeUrl`` set, has its
    scheme, host, port and path; scopes are scope-tokens, de-duplicated, with
    ``offline_access`` appended unless disabled (by the request, or by the connector's
    ``offlineAccess: none``); ``prompt`` defaults to the connector's ``defaultPrompt``, else
    ``login``, unless ``approval_prompt`` is present, and cannot be combined with it;
    ``additionalParams`` is strict form-urlencoded, keeps repeated names in order, may carry
    ``prompt`` only when the request does not, and may not repeat a name of the connector's
    ``authorizeParams``, which come first. Raises ``InvalidInput`` (every bad field) or
    ``ParameterConflict``.
    """
    errors = FieldErrors()
    endpoint: EndpointUrl | None = None
    if not authorize_url:
        errors.add("authorizeUrl", "is required")
    else:
        try:
            endpoint = parse_endpoint_url(authorize_url, allow_loopback_http)
        except InvalidEndpointUrl as exc:
            errors.add("authorizeUrl", str(exc))
    validate_client_id(client_id, errors)
    if (
        endpoint is not None
        and pinned_url is not None
        and not same_endpoint(pinned_url, endpoint.url)
    ):
        errors.add(
            "authorizeUrl",
            "must have the scheme, host, port and path of the connector's authorizeUrl, "
            f"{pinned_url}",
        )
    kept_scopes = normalise_scopes(
        scopes, separator=scope_separator, offline_access=offline, errors=errors
    )
    requested_prompt: str | None = None
    if prompt:
        try:
            requested_prompt = normalise_prompt(prompt)
        except InvalidPrompt as exc:
            errors.add("prompt", str(exc))
    extras: list[tuple[str, str]] = []
    if additional_params:
        if len(additional_params) > MAX_ADDITIONAL_PARAMS_LENGTH:
            errors.add(
                "additionalParams", f"must be at most {MAX_ADDITIONAL_PARAMS_LENGTH} characters"
            )
        else:
            try:
                extras = parse_form(additional_params)
            except MalformedFormData as exc:
                errors.add("additionalParams", f"is not a valid URL-encoded query string: {exc}")

    if endpoint is not None and ";" in endpoint.query:
        errors.add("authorizeUrl", "must separate its query parameters with '&', not ';'")
    url_names = parameter_names(endpoint.query) if endpoint else []
    for name in dict.fromkeys(url_names):
        if (key := controlled_parameter(name)) is not None:
            where = "must not be in the authorize URL's query"
            errors.conflict("authorizeUrl", name, _conflict_message(name, key, where))
    extra_names = [name for name, _ in extras]
    fixed = {key for name, _ in authorize_params for key in parameter_keys(name)}
    for name in dict.fromkeys(extra_names):
        if name != "prompt" and (key := controlled_parameter(name)) is not None:
            errors.conflict(
                "additionalParams", name, _conflict_message(name, key, "cannot be overridden")
            )
        elif parameter_keys(name) & fixed:
            errors.conflict(
                "additionalParams", name, f"'{name}' is set by the connector's authorizeParams"
            )
    has_approval_prompt = APPROVAL_PROMPT in url_names or APPROVAL_PROMPT in extra_names
    final_prompt = _final_prompt(
        requested_prompt,
        [v for n, v in extras if n == "prompt"],
        has_approval_prompt,
        errors,
        default=default_prompt or DEFAULT_PROMPT,
    )
    errors.raise_if_any()
    assert endpoint is not None  # guaranteed: a missing endpoint is an error raised above
    return AuthorizationRequest(
        endpoint=endpoint,
        client_id=client_id,
        scopes=kept_scopes,
        scope_separator=scope_separator,
        prompt=final_prompt,
        extra_params=(
            *authorize_params,
            *((n, v) for n, v in extras if n != "prompt"),
        ),
    )


def _final_prompt(
    requested: str | None,
    from_additional: list[str],
    has_approval_prompt: bool,
    errors: FieldErrors,
    *,
    default: str,
) -> str | None:
    """The one ``prompt`` value to send, or ``None`` for no ``prompt`` parameter."""
    if from_additional:
        if requested is not None:
            errors.conflict(
                "additionalParams", "prompt", "'prompt' is already set by the prompt field"
            )
        elif len(from_additional) > 1:
            errors.conflict("additionalParams", "prompt", "'prompt' may appear only once")
        elif has_approval_prompt:
            errors.conflict(
                "additionalParams", "prompt", "'prompt' cannot be combined with 'approval_prompt'"
            )
        return from_additional[0]
    if requested is not None:
        if has_approval_prompt:
            errors.conflict(
                "prompt",
                "prompt",
                "'prompt' cannot be combined with 'approval_prompt': providers reject both",
            )
        return requested
    return None if has_approval_prompt else default


def build_authorize_url(
    request: AuthorizationRequest,
    *,
    redirect_uri: str,
    state: str,
    code_challenge: str | None,
) -> str:
    """The URL to send the end user to: the endpoint as given, then our parameters, then
    the caller's additional ones, each encoded so that it decodes to exactly its value."""
    head, middle, tail = _fixed_parts(request, redirect_uri)
    challenge = (
        f"&code_challenge={encode_component(code_challenge)}&code_challenge_method={PKCE_METHOD}"
        if code_challenge is not None
        else ""
    )
    return f"{head}state={encode_component(state)}{middle}{challenge}{tail}"


def _encode(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{encode_component(n)}={encode_component(v)}" for n, v in params)


@lru_cache(maxsize=1024)
def _fixed_parts(request: AuthorizationRequest, redirect_uri: str) -> tuple[str, str, str]:
    """Everything but the state and the challenge, which differ on every URL: the URL up to
    ``state=``, what goes between the state and the challenge, and what follows."""
    before: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", request.client_id),
        ("redirect_uri", redirect_uri),
    ]
    if request.scopes:
        before.append(("scope", request.scope_separator.join(request.scopes)))
    url = request.endpoint.url
    if "?" not in url:
        joiner = "?"
    elif url.endswith(("?", "&")):
        joiner = ""
    else:
        joiner = "&"
    middle = f"&prompt={encode_component(request.prompt)}" if request.prompt is not None else ""
    tail = "&" + _encode(list(request.extra_params)) if request.extra_params else ""
    return url + joiner + _encode(before) + "&", middle, tail
