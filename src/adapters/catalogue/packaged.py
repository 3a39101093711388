"""The provider catalogue shipped in the package (``providers.json``), read and checked once
at start: an entry that breaks a connector rule stops the service, naming it."""

from importlib import resources
from typing import Literal

import msgspec

from domain.endpoint_url import InvalidEndpointUrl, parse_endpoint_url
from domain.errors import FieldErrors
from domain.model import (
    OfflineAccess,
    ProviderSettings,
    ProviderTemplate,
    TokenAuthMethod,
    TokenRequestFormat,
)
from domain.provider_settings import check_provider_settings
from domain.scopes import ScopeSeparator


class InvalidCatalogue(ValueError):
    """The packaged catalogue breaks a rule; the message names the entry and the field."""


class _Entry(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    id: str
    name: str
    docs_url: str
    authorize_url: str
    token_url: str
    notes: str
    revocation_url: str | None = None
    scope_separator: Literal[" ", ","] = " "
    pkce: bool = True
    token_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    issuer: str | None = None
    iss_parameter_supported: bool = True
    authorize_params: dict[str, str] = {}
    offline_access: Literal["scope", "none"] = "scope"
    default_prompt: str | None = None
    token_request_format: Literal["form", "json"] = "form"
    token_response_path: str | None = None
    metadata_fields: list[str] = []
    callback_params: list[str] = []
    default_expires_in_seconds: int | None = None


def _template(entry: _Entry) -> ProviderTemplate:
    return ProviderTemplate(
        id=entry.id,
        name=entry.name,
        docs_url=entry.docs_url,
        token_url=entry.token_url,
        scope_separator=ScopeSeparator(entry.scope_separator),
        pkce=entry.pkce,
        token_auth_method=TokenAuthMethod(entry.token_auth_method),
        issuer=entry.issuer,
        iss_parameter_supported=entry.iss_parameter_supported,
        settings=ProviderSettings(
            authorize_url=entry.authorize_url,
            authorize_params=tuple(entry.authorize_params.items()),
            offline_access=OfflineAccess(entry.offline_access),
            default_prompt=entry.default_prompt,
            token_request_format=TokenRequestFormat(entry.token_request_format),
            token_response_path=entry.token_response_path,
            metadata_fields=tuple(entry.metadata_fields),
            callback_params=tuple(entry.callback_params),
            default_expires_in=entry.default_expires_in_seconds,
            revocation_url=entry.revocation_url,
            provider=entry.id,
        ),
        notes=entry.notes,
    )


def _problems(template: ProviderTemplate) -> list[str]:
    """The connector rules (production's: https only), and the catalogue's own."""
    errors = FieldErrors()
    for field, url in (("tokenUrl", template.token_url), ("docsUrl", template.docs_url)):
        try:
            parse_endpoint_url(url, allow_loopback_http=False)
        except InvalidEndpointUrl as exc:
            errors.add(field, str(exc))
    check_provider_settings(template.settings, errors, allow_loopback_http=False)
    if template.token_auth_method is TokenAuthMethod.NONE and not template.pkce:
        errors.add("pkce", "must be on for a public client")
    return [f"{e.field} {e.message}" for e in errors.invalid]


def parse_catalogue(raw: bytes) -> list[ProviderTemplate]:
    """Raises ``InvalidCatalogue`` naming every broken entry."""
    try:
        entries = msgspec.json.decode(raw, type=list[_Entry])
    except msgspec.ValidationError as exc:
        raise InvalidCatalogue(f"the provider catalogue is malformed: {exc}") from None
    templates = [_template(entry) for entry in entries]
    problems = [f"{t.id}: {p}" for t in templates for p in _problems(t)]
    ids = [t.id for t in templates]
    if ids != sorted(set(ids)):
        problems.append("entries must be sorted by id, each id once")
    if problems:
        raise InvalidCatalogue("the provider catalogue is invalid: " + "; ".join(problems))
    return templates


class PackagedCatalogue:
    def __init__(self, templates: list[ProviderTemplate]) -> None:
        self._templates = templates
        self._by_id = {t.id: t for t in templates}

    @classmethod
    def load(cls) -> "PackagedCatalogue":
        raw = resources.files("adapters.catalogue").joinpath("providers.json").read_bytes()
        return cls(parse_catalogue(raw))

    def all(self) -> list[ProviderTemplate]:
        return list(self._templates)

    def get(self, provider_id: str) -> ProviderTemplate | None:
        return self._by_id.get(provider_id)
