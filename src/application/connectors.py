"""Connectors: one provider's token endpoint and habits, inside a hub."""

from dataclasses import dataclass

from application.errors import NotFound
from application.identity import new_id
from application.integrity import sealed
from application.ports.crypto import SecretCipher
from application.ports.storage import ConnectorRepository, HubRepository
from application.ports.system import Clock, RandomSource
from application.validation import check_name
from domain.endpoint_url import InvalidEndpointUrl, parse_endpoint_url
from domain.errors import FieldErrors
from domain.model import Connector, TokenAuthMethod
from domain.scopes import ScopeSeparator


@dataclass(frozen=True, slots=True)
class NewConnector:
    name: str
    token_url: str
    scope_separator: ScopeSeparator = ScopeSeparator.SPACE
    pkce: bool = True
    token_auth_method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC
    issuer: str | None = None
    iss_parameter_supported: bool = True


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

    async def _require_hub(self, organisation_id: str, hub_id: str) -> None:
        if await self._hubs.get(organisation_id, hub_id) is None:
            raise NotFound("hub")

    async def create(self, organisation_id: str, hub_id: str, new: NewConnector) -> Connector:
        await self._require_hub(organisation_id, hub_id)
        errors = FieldErrors()
        check_name(errors, new.name)
        if not new.token_url:
            errors.add("tokenUrl", "is required")
        else:
            try:
                parse_endpoint_url(new.token_url, self._allow_local)
            except InvalidEndpointUrl as exc:
                errors.add("tokenUrl", str(exc))
        if new.issuer is not None:
            try:
                if parse_endpoint_url(new.issuer, self._allow_local).query or "?" in new.issuer:
                    errors.add("issuer", "must not have a query (RFC 8414 §2)")
            except InvalidEndpointUrl as exc:
                errors.add("issuer", str(exc))
        errors.raise_if_any()
        connector_id, now = new_id(self._clock, self._random)
        connector = Connector(
            id=connector_id,
            hub_id=hub_id,
            name=new.name,
            token_url=new.token_url,
            scope_separator=new.scope_separator,
            pkce=new.pkce,
            token_auth_method=new.token_auth_method,
            created_at=now,
            issuer=new.issuer,
            iss_parameter_supported=new.iss_parameter_supported,
        )
        connector = sealed(self._cipher, connector)
        await self._connectors.add(connector)
        return connector

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
