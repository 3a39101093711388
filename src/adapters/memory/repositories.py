"""In-memory implementations of the storage ports, with the same semantics as the SQL ones
(the contract suite in tests/adapters runs against both)."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from adapters.memory.outbox import InMemoryOutbox, InMemoryWebhookRepository
from application.errors import CredentialInUse, DuplicateKey
from application.ports.storage import SealedKind, SealedValue, Storage
from domain.model import (
    ApiKey,
    Connection,
    ConnectionStatus,
    ConnectionTokens,
    Connector,
    ConnectSession,
    Credential,
    Hub,
    Organisation,
    RefreshHealth,
    SigningKey,
)


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

    async def find(self, key_hash: bytes) -> ApiKey | None:
        return self.by_hash.get(key_hash)

    async def delete(self, key_hash: bytes) -> bool:
        return self.by_hash.pop(key_hash, None) is not None


class InMemoryConnectionRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Connection] = {}
        self.end_users: set[tuple[str, str]] = set()

    async def add(self, connection: Connection) -> None:
        if connection.id in self.rows:
            raise DuplicateKey(connection.id)
        self.end_users.add((connection.hub_id, connection.user_id))
        self.rows[connection.id] = connection

    async def get(self, organisation_id: str, connection_id: str) -> Connection | None:
        row = self.rows.get(connection_id)
        return row if row and row.organisation_id == organisation_id else None

    async def hub_of(self, connection_id: str) -> str | None:
        row = self.rows.get(connection_id)
        return row.hub_id if row else None

    async def list_for_user(
        self, organisation_id: str, hub_id: str, user_id: str
    ) -> list[Connection]:
        rows = [
            r
            for r in self.rows.values()
            if (r.organisation_id, r.hub_id, r.user_id) == (organisation_id, hub_id, user_id)
        ]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, organisation_id: str, connection_id: str) -> bool:
        if await self.get(organisation_id, connection_id) is None:
            return False
        del self.rows[connection_id]
        return True

    async def update_tokens(
        self,
        connection_id: str,
        tokens: ConnectionTokens,
        *,
        expected_version: int,
        refreshed_at: datetime,
    ) -> bool:
        row = self.rows.get(connection_id)
        if row is None or row.health.version != expected_version:
            return False
        health = RefreshHealth(version=expected_version + 1, last_refreshed_at=refreshed_at)
        self.rows[connection_id] = replace(row, tokens=tokens, health=health)
        return True

    async def reauthorise(
        self,
        connection_id: str,
        credential_id: str,
        tokens: ConnectionTokens,
        seal: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        row = self.rows.get(connection_id)
        if row is None:
            return False
        health = replace(row.health, version=row.health.version + 1, failures=0, not_before=None)
        self.rows[connection_id] = replace(
            row,
            credential_id=credential_id,
            seal=seal,
            metadata=metadata,
            tokens=tokens,
            health=health,
            status=ConnectionStatus.ACTIVE,
            status_reason=None,
        )
        return True

    async def record_refresh_failure(
        self, connection_id: str, *, failures: int, not_before: datetime
    ) -> None:
        row = self.rows.get(connection_id)
        if row is not None:
            health = replace(row.health, failures=failures, not_before=not_before)
            self.rows[connection_id] = replace(row, health=health)

    async def set_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        row = self.rows.get(connection_id)
        if row is None or expected_version not in (None, row.health.version):
            return False
        self.rows[connection_id] = replace(row, status=status, status_reason=reason)
        return True

    async def due_for_refresh(
        self, expiring_before: datetime, now: datetime, limit: int
    ) -> list[Connection]:
        due = [
            row
            for row in self.rows.values()
            if row.status is ConnectionStatus.ACTIVE
            and row.tokens.sealed_refresh_token is not None
            and row.tokens.expires_at is not None
            and row.tokens.expires_at < expiring_before
            and (row.health.not_before is None or row.health.not_before <= now)
        ]
        return sorted(due, key=lambda row: row.tokens.expires_at or now)[:limit]

    def remove_where(self, hub_id: str | None = None, connector_id: str | None = None) -> None:
        """The cascades the SQL schema declares."""
        for key, row in list(self.rows.items()):
            if row.hub_id == hub_id or row.connector_id == connector_id:
                del self.rows[key]
        if hub_id is not None:
            self.end_users = {u for u in self.end_users if u[0] != hub_id}


class InMemoryRefreshLock:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, datetime]] = {}

    async def acquire(
        self, connection_id: str, holder: str, now: datetime, until: datetime
    ) -> bool:
        current = self.rows.get(connection_id)
        if current is not None and current[1] > now:
            return False
        self.rows[connection_id] = (holder, until)
        return True

    async def release(self, connection_id: str, holder: str) -> None:
        if self.rows.get(connection_id, ("", None))[0] == holder:
            del self.rows[connection_id]

    async def delete_expired(self, now: datetime) -> int:
        expired = [key for key, (_, until) in self.rows.items() if until <= now]
        for key in expired:
            del self.rows[key]
        return len(expired)


class InMemoryCredentialRepository:
    def __init__(self, connections: InMemoryConnectionRepository) -> None:
        self.rows: dict[str, Credential] = {}
        self._connections = connections

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
        if any(c.credential_id == credential_id for c in self._connections.rows.values()):
            raise CredentialInUse
        del self.rows[credential_id]
        return True


class InMemoryConnectorRepository:
    def __init__(self, connections: InMemoryConnectionRepository) -> None:
        self.rows: dict[str, Connector] = {}
        self._connections = connections

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
        self._connections.remove_where(connector_id=connector_id)
        return True


class InMemorySigningKeyRepository:
    def __init__(self) -> None:
        self.rows: dict[str, SigningKey] = {}

    async def add(self, key: SigningKey) -> None:
        if key.id in self.rows:
            raise DuplicateKey(key.id)
        self.rows[key.id] = key

    async def get(self, organisation_id: str, key_id: str) -> SigningKey | None:
        row = self.rows.get(key_id)
        return row if row and row.organisation_id == organisation_id else None

    async def find(self, key_id: str) -> SigningKey | None:
        return self.rows.get(key_id)

    async def list(self, organisation_id: str) -> list[SigningKey]:
        rows = [r for r in self.rows.values() if r.organisation_id == organisation_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, organisation_id: str, key_id: str) -> bool:
        if await self.get(organisation_id, key_id) is None:
            return False
        del self.rows[key_id]
        return True


class InMemoryConnectSessionRepository:
    def __init__(self) -> None:
        self.rows: dict[bytes, ConnectSession] = {}

    async def add(self, session: ConnectSession) -> None:
        if session.token_hash in self.rows:
            raise DuplicateKey("token_hash")
        self.rows[session.token_hash] = session

    async def get(self, token_hash: bytes) -> ConnectSession | None:
        return self.rows.get(token_hash)

    async def delete(self, organisation_id: str, token_hash: bytes) -> bool:
        row = self.rows.get(token_hash)
        if row is None or row.organisation_id != organisation_id:
            return False
        del self.rows[token_hash]
        return True

    async def delete_expired(self, now: datetime) -> int:
        expired = [key for key, row in self.rows.items() if row.expires_at <= now]
        for key in expired:
            del self.rows[key]
        return len(expired)

    def remove_hub(self, hub_id: str) -> None:
        """The cascade the SQL schema declares."""
        for key, row in list(self.rows.items()):
            if row.hub_id == hub_id:
                del self.rows[key]


class InMemoryHubRepository:
    def __init__(
        self,
        connectors: InMemoryConnectorRepository,
        connections: InMemoryConnectionRepository,
        sessions: InMemoryConnectSessionRepository,
    ) -> None:
        self.rows: dict[str, Hub] = {}
        self._connectors = connectors
        self._connections = connections
        self._sessions = sessions

    async def add(self, hub: Hub) -> None:
        if hub.id in self.rows:
            raise DuplicateKey(hub.id)
        self.rows[hub.id] = hub

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None:
        row = self.rows.get(hub_id)
        return row if row and row.organisation_id == organisation_id else None

    async def find(self, hub_id: str) -> Hub | None:
        return self.rows.get(hub_id)

    async def list(self, organisation_id: str) -> list[Hub]:
        rows = [r for r in self.rows.values() if r.organisation_id == organisation_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        if await self.get(organisation_id, hub_id) is None:
            return False
        del self.rows[hub_id]
        for connector in await self._connectors.list(hub_id):
            del self._connectors.rows[connector.id]
        self._connections.remove_where(hub_id=hub_id)
        self._sessions.remove_hub(hub_id)
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


_Rows = dict[Any, Any]
_Read = Callable[[Any], str | None]
_Write = Callable[[Any, str], Any]


class InMemorySealedValueStore:
    """Each kind of encrypted value: the table holding it, how to read it from a row, and
    how to make the row with another value."""

    def __init__(
        self,
        *,
        api_keys: InMemoryApiKeyRepository,
        hubs: InMemoryHubRepository,
        connectors: InMemoryConnectorRepository,
        credentials: InMemoryCredentialRepository,
        connections: InMemoryConnectionRepository,
        webhooks: InMemoryWebhookRepository,
        signing_keys: InMemorySigningKeyRepository,
    ) -> None:
        self._columns: dict[SealedKind, tuple[_Rows, _Read, _Write]] = {
            SealedKind.API_KEY_SEAL: (
                api_keys.by_hash,
                lambda k: k.seal,
                lambda k, v: replace(k, seal=v),
            ),
            SealedKind.HUB_SEAL: (hubs.rows, lambda h: h.seal, lambda h, v: replace(h, seal=v)),
            SealedKind.CONNECTOR_SEAL: (
                connectors.rows,
                lambda c: c.seal,
                lambda c, v: replace(c, seal=v),
            ),
            SealedKind.CONNECTION_SEAL: (
                connections.rows,
                lambda c: c.seal,
                lambda c, v: replace(c, seal=v),
            ),
            SealedKind.WEBHOOK_SEAL: (
                webhooks.rows,
                lambda w: w.seal,
                lambda w, v: replace(w, seal=v),
            ),
            SealedKind.SIGNING_KEY_SEAL: (
                signing_keys.rows,
                lambda k: k.seal,
                lambda k, v: replace(k, seal=v),
            ),
            SealedKind.CLIENT_SECRET: (
                credentials.rows,
                lambda c: c.sealed_secret,
                lambda c, v: replace(c, sealed_secret=v),
            ),
            SealedKind.ACCESS_TOKEN: (
                connections.rows,
                lambda c: c.tokens.sealed_access_token,
                lambda c, v: replace(c, tokens=replace(c.tokens, sealed_access_token=v)),
            ),
            SealedKind.REFRESH_TOKEN: (
                connections.rows,
                lambda c: c.tokens.sealed_refresh_token,
                lambda c, v: replace(c, tokens=replace(c.tokens, sealed_refresh_token=v)),
            ),
            SealedKind.WEBHOOK_SECRET: (
                webhooks.rows,
                lambda w: w.sealed_secret,
                lambda w, v: replace(w, sealed_secret=v),
            ),
            SealedKind.WEBHOOK_PREVIOUS_SECRET: (
                webhooks.rows,
                lambda w: w.sealed_previous_secret,
                lambda w, v: replace(w, sealed_previous_secret=v),
            ),
        }

    def _all(self) -> list[SealedValue]:
        return [
            SealedValue(kind, row.id, value)
            for kind, (rows, read, _) in self._columns.items()
            for row in rows.values()
            if (value := read(row)) is not None
        ]

    async def not_starting_with(self, prefixes: Sequence[str], limit: int) -> list[SealedValue]:
        return [v for v in self._all() if not v.value.startswith(tuple(prefixes))][:limit]

    async def replace(self, sealed: SealedValue, new_value: str) -> bool:
        rows, read, write = self._columns[sealed.kind]
        for key, row in rows.items():
            if row.id == sealed.row_id and read(row) == sealed.value:
                rows[key] = write(row, new_value)
                return True
        return False


class InMemoryHealthCheck:
    async def ping(self) -> None:
        return None


class InMemoryUnitOfWork:
    """Transactions one at a time; a block that raises restores every table as it found it.

    Writes made meanwhile outside any unit of work would be undone with it: the fakes serve
    tests and development, where that does not happen."""

    def __init__(self) -> None:
        self.tables: list[Any] = []  # every repository holding rows, set by in_memory_storage
        self.storage: Storage | None = None
        self._lock = asyncio.Lock()
        self._open = False

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Storage]:
        if self.storage is None:
            raise RuntimeError("in_memory_storage() sets the storage of its unit of work")
        if self._open:  # a unit begun inside another joins it
            yield self.storage
            return
        async with self._lock:
            self._open = True
            try:
                with self._restored_on_error():
                    yield self.storage
            finally:
                self._open = False

    @contextmanager
    def _restored_on_error(self) -> Iterator[None]:
        saved = [
            (table, name, value.copy())
            for table in self.tables
            for name, value in vars(table).items()
            if isinstance(value, dict | set)
        ]
        try:
            yield
        except BaseException:
            for table, name, value in saved:
                setattr(table, name, value)
            raise


def in_memory_storage() -> Storage:
    connections = InMemoryConnectionRepository()
    connectors = InMemoryConnectorRepository(connections)
    credentials = InMemoryCredentialRepository(connections)
    unit_of_work = InMemoryUnitOfWork()
    sessions = InMemoryConnectSessionRepository()
    webhooks = InMemoryWebhookRepository()
    outbox = InMemoryOutbox(webhooks)
    api_keys = InMemoryApiKeyRepository()
    hubs = InMemoryHubRepository(connectors, connections, sessions)
    signing_keys = InMemorySigningKeyRepository()
    storage = Storage(
        organisations=InMemoryOrganisationRepository(),
        api_keys=api_keys,
        credentials=credentials,
        hubs=hubs,
        connectors=connectors,
        signing_keys=signing_keys,
        connect_sessions=sessions,
        webhooks=webhooks,
        outbox=outbox,
        used_states=InMemoryUsedStateRepository(),
        connections=connections,
        refresh_locks=InMemoryRefreshLock(),
        sealed_values=InMemorySealedValueStore(
            api_keys=api_keys,
            hubs=hubs,
            connectors=connectors,
            credentials=credentials,
            connections=connections,
            webhooks=webhooks,
            signing_keys=signing_keys,
        ),
        health=InMemoryHealthCheck(),
        unit_of_work=unit_of_work,
    )
    unit_of_work.tables = [
        storage.organisations,
        storage.api_keys,
        credentials,
        storage.hubs,
        connectors,
        storage.signing_keys,
        sessions,
        webhooks,
        outbox,
        storage.used_states,
        connections,
        storage.refresh_locks,
    ]
    unit_of_work.storage = storage
    return storage
