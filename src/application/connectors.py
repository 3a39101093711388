"""Connectors: one provider's token endpoint and habits, inside a hub."""

from dataclasses import dataclass, replace
from typing import TypeVar

from application.callers import Caller, check_connector, check_hub
from application.errors import NotFound, ProviderTimeout, ProviderUnavailable
from application.identity import new_id
from application.integrity import sealed
from application.ports.crypto import SecretCipher
from application.ports.provider import MetadataSource, ProviderCatalogue
from application.ports.storage import ConnectorRepository, HubRepository
from application.ports.system import Clock, RandomSource
from application.validation import check_name
from domain.discovery import Discovered, InvalidMetadata, metadata_urls, read_metadata
from domain.endpoint_url import InvalidEndpointUrl, parse_endpoint_url
from domain.errors import FieldErrors
from domain.model import (
    Connector,
    OfflineAccess,
    ProviderSettings,
    ProviderTemplate,
    TokenAuthMethod,
    TokenRequestFormat,
)
from domain.prompt import normalise_prompt
from domain.provider_settings import check_provider_settings
from domain.scopes import ScopeSeparator

T = TypeVar("T")


def pick(given: T | None, kept: T) -> T:
    return kept if given is None else given


@dataclass(frozen=True, slots=True)
class GivenSettings:
    """The provider settings a request gave (``None``: not given, so the template's or the
    default stands)."""

    authorize_url: str | None = None
    authorize_params: tuple[tuple[str, str], ...] | None = None
    offline_access: OfflineAccess | None = None
    default_prompt: str | None = None
    token_request_format: TokenRequestFormat | None = None
    token_response_path: str | None = None
    metadata_fields: tuple[str, ...] | None = None
    callback_params: tuple[str, ...] | None = None
    default_expires_in: int | None = None
    revocation_url: str | None = None

    def over(self, base: ProviderSettings, provider: str | None) -> ProviderSettings:
        return ProviderSettings(
            authorize_url=pick(self.authorize_url, base.authorize_url),
            authorize_params=pick(self.authorize_params, base.authorize_params),
            offline_access=pick(self.offline_access, base.offline_access),
            default_prompt=pick(self.default_prompt, base.default_prompt),
            token_request_format=pick(self.token_request_format, base.token_request_format),
            token_response_path=pick(self.token_response_path, base.token_response_path),
            metadata_fields=pick(self.metadata_fields, base.metadata_fields),
            callback_params=pick(self.callback_params, base.callback_params),
            default_expires_in=pick(self.default_expires_in, base.default_expires_in),
            revocation_url=pick(self.revocation_url, base.revocation_url),
            provider=provider,
        )


@dataclass(frozen=True, slots=True)
class NewConnector:
    """``provider``: a catalogue entry to start from; every field given wins over it."""

    name: str
    token_url: str | None = None
    provider: str | None = None
    scope_separator: ScopeSeparator | None = None
    pkce: bool | None = None
    token_auth_method: TokenAuthMethod | None = None
    issuer: str | None = None
    iss_parameter_supported: bool | None = None
    settings: GivenSettings = GivenSettings()
    discover: bool = False  # read the issuer's metadata (RFC 8414, else OpenID Discovery)


class ManageConnectors:
    """Every operation first checks that the hub is the caller's organisation's."""

    def __init__(
        self,
        hubs: HubRepository,
        connectors: ConnectorRepository,
        clock: Clock,
        random: RandomSource,
        *,
        cipher: SecretCipher,
        catalogue: ProviderCatalogue,
        metadata: MetadataSource | None = None,
        allow_local_providers: bool = True,
    ) -> None:
        """Without ``allow_local_providers`` (production), token URLs and issuers must be
        https, even on loopback."""
        self._allow_local = allow_local_providers
        self._hubs = hubs
        self._connectors = connectors
        self._clock = clock
        self._random = random
        self._cipher = cipher
        self._catalogue = catalogue
        self._metadata = metadata

    async def _require_hub(self, organisation_id: str, hub_id: str) -> None:
        if await self._hubs.get(organisation_id, hub_id) is None:
            raise NotFound("hub")

    async def create(self, organisation_id: str, hub_id: str, new: NewConnector) -> Connector:
        """From the catalogue's template when ``provider`` names one, with every given field
        winning; the result obeys the same rules either way."""
        await self._require_hub(organisation_id, hub_id)
        errors = FieldErrors()
        check_name(errors, new.name)
        template: ProviderTemplate | None = None
        if new.provider is not None:
            template = self._catalogue.get(new.provider)
            if template is None:
                errors.add("provider", "is not in the catalogue (GET /providers lists it)")
        base = template or ProviderTemplate("", "", "", "")
        issuer = pick(new.issuer, base.issuer)
        discovered: Discovered | None = None
        if new.discover:
            discovered = await self._discover(issuer, errors)
            if discovered is not None:
                base = replace(
                    base,
                    token_url=discovered.token_url,
                    token_auth_method=discovered.token_auth_method,
                    pkce=discovered.pkce,
                    iss_parameter_supported=discovered.iss_parameter_supported,
                    settings=replace(
                        base.settings,
                        authorize_url=discovered.authorize_url,
                        revocation_url=discovered.revocation_url,
                    ),
                )
        token_url = new.token_url or base.token_url
        settings = new.settings.over(base.settings, new.provider)
        if not token_url:
            if not (new.discover and discovered is None):  # else the issuer error says why
                errors.add("tokenUrl", "is required")
        else:
            try:
                parse_endpoint_url(token_url, self._allow_local)
            except InvalidEndpointUrl as exc:
                errors.add("tokenUrl", str(exc))
        if issuer is not None:
            try:
                if parse_endpoint_url(issuer, self._allow_local).query or "?" in issuer:
                    errors.add("issuer", "must not have a query (RFC 8414 §2)")
            except InvalidEndpointUrl as exc:
                errors.add("issuer", str(exc))
        check_provider_settings(settings, errors, allow_loopback_http=self._allow_local)
        auth_method = pick(new.token_auth_method, base.token_auth_method)
        pkce = pick(new.pkce, base.pkce)
        if auth_method is TokenAuthMethod.NONE and not pkce:
            errors.add("pkce", "must be on for a public client (tokenAuthMethod none)")
        errors.raise_if_any()
        if settings.default_prompt is not None:
            settings = replace(settings, default_prompt=normalise_prompt(settings.default_prompt))
        connector_id, now = new_id(self._clock, self._random)
        connector = Connector(
            id=connector_id,
            hub_id=hub_id,
            name=new.name,
            token_url=token_url,
            scope_separator=pick(new.scope_separator, base.scope_separator),
            pkce=pkce,
            token_auth_method=auth_method,
            created_at=now,
            issuer=issuer,
            iss_parameter_supported=pick(new.iss_parameter_supported, base.iss_parameter_supported),
            settings=settings,
        )
        connector = sealed(self._cipher, connector)
        await self._connectors.add(connector)
        return connector

    async def _discover(self, issuer: str | None, errors: FieldErrors) -> Discovered | None:
        """The issuer's metadata, from the first well-known URL that has it; a failure is an
        ``issuer`` error naming what went wrong."""
        if issuer is None:
            errors.add("issuer", "is required to discover")
            return None
        if self._metadata is None:
            errors.add("issuer", "cannot be discovered here")
            return None
        try:
            parse_endpoint_url(issuer, self._allow_local)
        except InvalidEndpointUrl:
            return None  # reported with the issuer's other checks
        tried: list[str] = []
        for url in metadata_urls(issuer):
            try:
                answer = await self._metadata.fetch(url)
            except (ProviderUnavailable, ProviderTimeout) as exc:
                errors.add("issuer", f"its metadata at {url} could not be read: {exc.message}")
                return None
            if answer.status == 404:
                tried.append(url)
                continue
            if 300 <= answer.status < 400:
                errors.add("issuer", f"{url} answered a redirect (HTTP {answer.status}), "
                           "which is not followed")  # fmt: skip
                return None
            if answer.status != 200:
                errors.add("issuer", f"{url} answered HTTP {answer.status}")
                return None
            try:
                return read_metadata(answer.body, issuer)
            except InvalidMetadata as exc:
                errors.add("issuer", f"the metadata at {url} cannot be used: {exc}")
                return None
        errors.add("issuer", f"has no metadata at {' or '.join(tried)}")
        return None

    async def list(self, organisation_id: str, hub_id: str) -> list[Connector]:
        await self._require_hub(organisation_id, hub_id)
        return await self._connectors.list(hub_id)

    async def get(self, organisation_id: str, hub_id: str, connector_id: str) -> Connector:
        await self._require_hub(organisation_id, hub_id)
        connector = await self._connectors.get(hub_id, connector_id)
        if connector is None:
            raise NotFound("connector")
        return connector

    async def delete(self, organisation_id: str, hub_id: str, connector_id: str) -> None:
        await self._require_hub(organisation_id, hub_id)
        if not await self._connectors.delete(hub_id, connector_id):
            raise NotFound("connector")

    async def for_embedding(self, caller: Caller, hub_id: str, connector_id: str) -> Connector:
        """What the embedding page may know of a connector (its name, provider and default
        authorize URL): for the hub's backend, and for its end users within their token."""
        check_hub(caller, hub_id)
        check_connector(caller, connector_id)
        return await self.get(caller.organisation_id, hub_id, connector_id)
