"""Rules for a connector's provider settings, and the parts of a token response they pick.

The settings say how a real provider departs from RFC 6749; each is checked here once, for
connectors made by hand and for the catalogue's templates alike.
"""

import re
from collections.abc import Mapping

from domain.authorize_url import controlled_parameter
from domain.endpoint_url import InvalidEndpointUrl, parse_endpoint_url
from domain.errors import FieldErrors
from domain.model import ProviderSettings
from domain.prompt import InvalidPrompt, normalise_prompt
from domain.tokens import MAX_EXPIRES_IN

MAX_FIXED_PARAMS = 20
MAX_PARAM_LENGTH = 512
MAX_KEPT_FIELDS = 20
MAX_METADATA_VALUE_LENGTH = 2048
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# A kept field is shown on the connection: nothing named like a credential may be kept.
_SECRET_LIKE = re.compile(r"token|secret|password|passwd|assertion|credential|code", re.I)
# The callback's own parameters (RFC 6749 §4.1.2, RFC 9207): read by the service itself.
_CALLBACK_OWN = frozenset({"state", "code", "iss", "error", "error_description", "error_uri"})


def _path_error(path: str) -> str | None:
    segments = path.split(".")
    if len(segments) > 5 or not all(_SEGMENT.fullmatch(s) for s in segments):
        return "must be a dotted path of at most 5 names of [A-Za-z0-9_-]"
    return None


def check_provider_settings(
    settings: ProviderSettings,
    errors: FieldErrors,
    *,
    allow_loopback_http: bool,
) -> None:
    """Every setting's rule, errors named by the API's field names."""
    for field, url in (
        ("authorizeUrl", settings.authorize_url),
        ("revocationUrl", settings.revocation_url),
    ):
        if url is not None:
            try:
                parse_endpoint_url(url, allow_loopback_http)
            except InvalidEndpointUrl as exc:
                errors.add(field, str(exc))
    if len(settings.authorize_params) > MAX_FIXED_PARAMS:
        errors.add("authorizeParams", f"must have at most {MAX_FIXED_PARAMS} parameters")
    for name, value in settings.authorize_params:
        field = f"authorizeParams.{name}"
        if not name or len(name) > MAX_PARAM_LENGTH or len(value) > MAX_PARAM_LENGTH:
            errors.add(field, f"names and values must be 1 to {MAX_PARAM_LENGTH} characters")
        elif _PRINTABLE.fullmatch(name + value) is None:
            errors.add(field, "must be printable ASCII")
        elif (key := controlled_parameter(name)) is not None:
            errors.add(field, f"'{key}' is set by the service (use defaultPrompt for prompt)")
    if settings.default_prompt is not None:
        try:
            normalise_prompt(settings.default_prompt)
        except InvalidPrompt as exc:
            errors.add("defaultPrompt", str(exc))
    if settings.token_response_path is not None and (
        problem := _path_error(settings.token_response_path)
    ):
        errors.add("tokenResponsePath", problem)
    for field, names in (
        ("metadataFields", settings.metadata_fields),
        ("callbackParams", settings.callback_params),
    ):
        if len(names) > MAX_KEPT_FIELDS:
            errors.add(field, f"must have at most {MAX_KEPT_FIELDS} entries")
        for index, name in enumerate(names):
            problem = (
                _path_error(name)
                if field == "metadataFields"
                else (None if _PARAM_NAME.fullmatch(name) else "must be 1 to 64 of [A-Za-z0-9_.-]")
            )
            if problem is None and _SECRET_LIKE.search(name):
                problem = "is named like a secret; metadata is never secret, so it is not kept"
            if problem is None and field == "callbackParams" and name in _CALLBACK_OWN:
                problem = "is read by the service itself"
            if problem:
                errors.add(f"{field}[{index}]", problem)
    if settings.default_expires_in is not None and not (
        0 < settings.default_expires_in <= MAX_EXPIRES_IN
    ):
        errors.add("defaultExpiresInSeconds", f"must be 1 to {MAX_EXPIRES_IN}")


def at_path(payload: object, path: str) -> object:
    """The value at a dotted path of a JSON object, or ``None``."""
    for segment in path.split("."):
        if not isinstance(payload, Mapping):
            return None
        payload = payload.get(segment)
    return payload


def _flat(payload: object, name: str) -> object:
    return payload.get(name) if isinstance(payload, Mapping) else None


def kept_value(value: object) -> str | None:
    """A metadata value as stored: a string, number or boolean, at most 2048 characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_METADATA_VALUE_LENGTH:
        return value if value.isprintable() else None
    return None


def pick_metadata(
    payload: object, fields: tuple[str, ...], *, dotted: bool
) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """The ``fields`` a token response (``dotted``: names are paths into nested objects) or
    a callback query (names as they are, dots included) holds as usable values, and the
    names of those it lacks."""
    kept: list[tuple[str, str]] = []
    missing: list[str] = []
    for name in fields:
        found = at_path(payload, name) if dotted else _flat(payload, name)
        value = kept_value(found)
        if value is None:
            missing.append(name)
        else:
            kept.append((name, value))
    return tuple(kept), missing
