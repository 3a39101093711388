"""In-memory implementations of the storage ports, with the same semantics as the SQL ones."""

from datetime import datetime

from application.ports import Storage
from domain.model import ApiKey, Connector, Credential, Hub, Organisation


class DuplicateKey(Exception):
    """Raised where the SQL adapters would hit a primary-key or unique constraint."""


class InMemoryOrganisationRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Organisation] = {}

    async def add(self, organisation: Organisation) -> None:
        if organisation.id in self.rows:
            raise DuplicateKey(organisation.id)
        self.rows[organisation.id] = organisation

    async def get(self, organisation_id: str) -> Organisation | None:
        return self.rows.get(organisation_id)


class InMemoryApiKeyRepository:
    def __init__(self) -> None:
        self.by_hash: dict[bytes, ApiKey] = {}

    async def add(self, api_key: ApiKey) -> None:
        if api_key.key_hash in self.by_hash:
            raise DuplicateKey("key_hash")
        self.by_hash[api_key.key_hash] = api_key

    async def organisation_for(self, key_hash: bytes) -> str | None:
        key = self.by_hash.get(key_hash)
        return key.organisation_id if key else None


class InMemoryCredentialRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Credential] = {}

    async def add(self, credential: Credential) -> None:
        if credential.id in self.rows:
            raise DuplicateKey(credential.id)
        self.rows[credential.id] = credential

    async def get(self, organisation_id: str, credential_id: str) -> Credential | None:
        row = self.rows.get(credential_id)
        return row if row and row.organisation_id == organisation_id else None

    async def list(self, organisation_id: str) -> list[Credential]:
        rows = [r for r in self.rows.values() if r.organisation_id == organisation_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, organisation_id: str, credential_id: str) -> bool:
        if await self.get(organisation_id, credential_id) is None:
            return False
        del self.rows[credential_id]
        return True


class InMemoryConnectorRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Connector] = {}

    async def add(self, connector: Connector) -> None:
        if connector.id in self.rows:
            raise DuplicateKey(connector.id)
        self.rows[connector.id] = connector

    async def get(self, hub_id: str, connector_id: str) -> Connector | None:
        row = self.rows.get(connector_id)
        return row if row and row.hub_id == hub_id else None

    async def list(self, hub_id: str) -> list[Connector]:
        rows = [r for r in self.rows.values() if r.hub_id == hub_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, hub_id: str, connector_id: str) -> bool:
        if await self.get(hub_id, connector_id) is None:
            return False
        del self.rows[connector_id]
        return True


class InMemoryHubRepository:
    def __init__(self, connectors: InMemoryConnectorRepository) -> None:
        self.rows: dict[str, Hub] = {}
        self._connectors = connectors

    async def add(self, hub: Hub) -> None:
        if hub.id in self.rows:
            raise DuplicateKey(hub.id)
        self.rows[hub.id] = hub

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None:
        row = self.rows.get(hub_id)
        return row if row and row.organisation_id == organisation_id else None

    async def list(self, organisation_id: str) -> list[Hub]:
        rows = [r for r in self.rows.values() if r.organisation_id == organisation_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        if await self.get(organisation_id, hub_id) is None:
            return False
        del self.rows[hub_id]
        for connector in await self._connectors.list(hub_id):
            del self._connectors.rows[connector.id]
        return True


class InMemoryUsedStateRepository:
    def __init__(self) -> None:
        self.rows: dict[bytes, datetime] = {}

    async def mark_used(self, state_id: bytes, expires_at: datetime) -> bool:
        # No await between the check and the write: atomic on one event loop.
        if state_id in self.rows:
            return False
        self.rows[state_id] = expires_at
        return True

    async def is_used(self, state_id: bytes) -> bool:
        return state_id in self.rows

    async def delete_expired(self, now: datetime) -> int:
        expired = [k for k, expires_at in self.rows.items() if expires_at <= now]
        for key in expired:
            del self.rows[key]
        return len(expired)


class InMemoryHealthCheck:
    async def ping(self) -> None:
        return None


def in_memory_storage() -> Storage:
    connectors = InMemoryConnectorRepository()
    return Storage(
        organisations=InMemoryOrganisationRepository(),
        api_keys=InMemoryApiKeyRepository(),
        credentials=InMemoryCredentialRepository(),
        hubs=InMemoryHubRepository(connectors),
        connectors=connectors,
        used_states=InMemoryUsedStateRepository(),
        health=InMemoryHealthCheck(),
    )
