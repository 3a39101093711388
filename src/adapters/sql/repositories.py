"""SQL implementations of the storage ports.

Outside a unit of work each call is one short transaction of its own; inside one, every call
runs on the unit's connection and commits with it. Failures are translated into the
application's errors here (``adapters.sql.errors``), so nothing above sees SQLAlchemy.
"""

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import tables as t
from adapters.sql.database import SqlDatabase, SqlRepository, checkpoint
from adapters.sql.errors import translated
from adapters.sql.outbox import SqlOutbox, SqlWebhookRepository
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
    OfflineAccess,
    Organisation,
    ProviderSettings,
    RefreshHealth,
    SigningAlgorithm,
    SigningKey,
    TokenAuthMethod,
    TokenRequestFormat,
)
from domain.scopes import ScopeSeparator


class SqlOrganisationRepository(SqlRepository):
    async def add(self, organisation: Organisation) -> None:
        await self._insert(
            t.organisations,
            {
                "id": organisation.id,
                "name": organisation.name,
                "created_at": organisation.created_at,
            },
        )

    async def get(self, organisation_id: str) -> Organisation | None:
        row = await self._one(
            sa.select(t.organisations).where(t.organisations.c.id == organisation_id)
        )
        return Organisation(id=row.id, name=row.name, created_at=row.created_at) if row else None


def _api_key(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        organisation_id=row.organisation_id,
        key_hash=row.key_hash,
        created_at=row.created_at,
        seal=row.seal,
    )


class SqlApiKeyRepository(SqlRepository):
    async def add(self, api_key: ApiKey) -> None:
        await self._insert(
            t.api_keys,
            {
                "id": api_key.id,
                "organisation_id": api_key.organisation_id,
                "key_hash": api_key.key_hash,
                "created_at": api_key.created_at,
                "seal": api_key.seal,
            },
        )

    async def find(self, key_hash: bytes) -> ApiKey | None:
        row = await self._one(sa.select(t.api_keys).where(t.api_keys.c.key_hash == key_hash))
        return _api_key(row) if row else None

    async def delete(self, key_hash: bytes) -> bool:
        return await self._delete(t.api_keys.delete().where(t.api_keys.c.key_hash == key_hash))


def _credential(row: sa.Row[Any]) -> Credential:
    return Credential(
        id=row.id,
        organisation_id=row.organisation_id,
        name=row.name,
        client_id=row.client_id,
        sealed_secret=row.sealed_secret,
        created_at=row.created_at,
    )


class SqlCredentialRepository(SqlRepository):
    async def add(self, credential: Credential) -> None:
        await self._insert(
            t.credentials,
            {
                "id": credential.id,
                "organisation_id": credential.organisation_id,
                "name": credential.name,
                "client_id": credential.client_id,
                "sealed_secret": credential.sealed_secret,
                "created_at": credential.created_at,
            },
        )

    async def get(self, organisation_id: str, credential_id: str) -> Credential | None:
        c = t.credentials.c
        row = await self._one(
            sa.select(t.credentials).where(
                c.id == credential_id, c.organisation_id == organisation_id
            )
        )
        return _credential(row) if row else None

    async def list(self, organisation_id: str) -> list[Credential]:
        c = t.credentials.c
        rows = await self._all(
            sa.select(t.credentials)
            .where(c.organisation_id == organisation_id)
            .order_by(c.created_at, c.id)
        )
        return [_credential(row) for row in rows]

    async def delete(self, organisation_id: str, credential_id: str) -> bool:
        """Refused with ``CredentialInUse`` while connections use it (ON DELETE RESTRICT)."""
        c = t.credentials.c
        with translated(still_referenced=CredentialInUse):
            deleted = await self._delete(
                t.credentials.delete().where(
                    c.id == credential_id, c.organisation_id == organisation_id
                )
            )
        if deleted:
            await self._db.secrets_destroyed()
        return deleted


def _hub(row: sa.Row[Any]) -> Hub:
    return Hub(
        id=row.id,
        organisation_id=row.organisation_id,
        name=row.name,
        allowed_origins=tuple(row.allowed_origins),
        created_at=row.created_at,
        seal=row.seal,
    )


class SqlHubRepository(SqlRepository):
    async def add(self, hub: Hub) -> None:
        await self._insert(
            t.hubs,
            {
                "id": hub.id,
                "organisation_id": hub.organisation_id,
                "name": hub.name,
                "allowed_origins": list(hub.allowed_origins),
                "created_at": hub.created_at,
                "seal": hub.seal,
            },
        )

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None:
        c = t.hubs.c
        row = await self._one(
            sa.select(t.hubs).where(c.id == hub_id, c.organisation_id == organisation_id)
        )
        return _hub(row) if row else None

    async def find(self, hub_id: str) -> Hub | None:
        row = await self._one(sa.select(t.hubs).where(t.hubs.c.id == hub_id))
        return _hub(row) if row else None

    async def list(self, organisation_id: str) -> list[Hub]:
        c = t.hubs.c
        rows = await self._all(
            sa.select(t.hubs)
            .where(c.organisation_id == organisation_id)
            .order_by(c.created_at, c.id)
        )
        return [_hub(row) for row in rows]

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        """Connectors go with the hub through the foreign key's ON DELETE CASCADE."""
        c = t.hubs.c
        deleted = await self._delete(
            t.hubs.delete().where(c.id == hub_id, c.organisation_id == organisation_id)
        )
        if deleted:
            await self._db.secrets_destroyed()
        return deleted


def settings_to_row(settings: ProviderSettings) -> dict[str, Any] | None:
    """Only what differs from the defaults, so rows stay small and old rows read as default."""
    if settings == ProviderSettings():
        return None
    values: dict[str, Any] = {}
    for name, default in _SETTING_DEFAULTS.items():
        value = getattr(settings, name)
        if value != default:
            values[name] = [list(pair) for pair in value] if name == "authorize_params" else value
    return values


def settings_from_row(values: dict[str, Any] | None) -> ProviderSettings:
    if not values:
        return ProviderSettings()
    return ProviderSettings(
        authorize_url=values.get("authorize_url"),
        authorize_params=tuple((str(n), str(v)) for n, v in values.get("authorize_params", ())),
        offline_access=OfflineAccess(values.get("offline_access", OfflineAccess.SCOPE)),
        default_prompt=values.get("default_prompt"),
        token_request_format=TokenRequestFormat(
            values.get("token_request_format", TokenRequestFormat.FORM)
        ),
        token_response_path=values.get("token_response_path"),
        metadata_fields=tuple(values.get("metadata_fields", ())),
        callback_params=tuple(values.get("callback_params", ())),
        default_expires_in=values.get("default_expires_in"),
        revocation_url=values.get("revocation_url"),
        provider=values.get("provider"),
    )


_SETTING_DEFAULTS = {
    name: getattr(ProviderSettings(), name) for name in ProviderSettings.__dataclass_fields__
}


def _connector(row: sa.Row[Any]) -> Connector:
    return Connector(
        id=row.id,
        hub_id=row.hub_id,
        name=row.name,
        token_url=row.token_url,
        scope_separator=ScopeSeparator(row.scope_separator),
        pkce=row.pkce,
        token_auth_method=TokenAuthMethod(row.token_auth_method),
        created_at=row.created_at,
        issuer=row.issuer,
        iss_parameter_supported=row.iss_parameter_supported,
        settings=settings_from_row(row.settings),
        seal=row.seal,
    )


class SqlConnectorRepository(SqlRepository):
    async def add(self, connector: Connector) -> None:
        await self._insert(
            t.connectors,
            {
                "id": connector.id,
                "hub_id": connector.hub_id,
                "name": connector.name,
                "token_url": connector.token_url,
                "scope_separator": connector.scope_separator.value,
                "pkce": connector.pkce,
                "token_auth_method": connector.token_auth_method.value,
                "created_at": connector.created_at,
                "issuer": connector.issuer,
                "iss_parameter_supported": connector.iss_parameter_supported,
                "seal": connector.seal,
                "settings": settings_to_row(connector.settings),
            },
        )

    async def get(self, hub_id: str, connector_id: str) -> Connector | None:
        c = t.connectors.c
        row = await self._one(
            sa.select(t.connectors).where(c.id == connector_id, c.hub_id == hub_id)
        )
        return _connector(row) if row else None

    async def list(self, hub_id: str) -> list[Connector]:
        c = t.connectors.c
        rows = await self._all(
            sa.select(t.connectors).where(c.hub_id == hub_id).order_by(c.created_at, c.id)
        )
        return [_connector(row) for row in rows]

    async def delete(self, hub_id: str, connector_id: str) -> bool:
        c = t.connectors.c
        deleted = await self._delete(
            t.connectors.delete().where(c.id == connector_id, c.hub_id == hub_id)
        )
        if deleted:
            await self._db.secrets_destroyed()
        return deleted


def _upsert_builder(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


_CONNECTION_COLUMNS = [*t.connections.c, t.end_users.c.external_id.label("user_id")]
_CONNECTIONS = t.connections.join(t.end_users, t.connections.c.end_user_id == t.end_users.c.id)


def _connection(row: sa.Row[Any]) -> Connection:
    return Connection(
        id=row.id,
        organisation_id=row.organisation_id,
        hub_id=row.hub_id,
        user_id=row.user_id,
        connector_id=row.connector_id,
        credential_id=row.credential_id,
        name=row.name,
        tokens=ConnectionTokens(
            token_type=row.token_type,
            sealed_access_token=row.sealed_access_token,
            sealed_refresh_token=row.sealed_refresh_token,
            expires_at=row.expires_at,
            scopes=tuple(row.scopes),
            lifetime_seconds=row.token_lifetime_seconds,
        ),
        status=ConnectionStatus(row.status),
        created_at=row.created_at,
        health=RefreshHealth(
            version=row.token_version,
            last_refreshed_at=row.last_refreshed_at,
            failures=row.refresh_failures,
            not_before=row.refresh_not_before,
        ),
        status_reason=row.status_reason,
        seal=row.seal,
        metadata=tuple((str(n), str(v)) for n, v in row.metadata or ()),
    )


class SqlConnectionRepository(SqlRepository):
    async def add(self, connection: Connection) -> None:
        """The end user row is created on first use; a racing first use is absorbed by the
        unique (hub, user id) constraint, and both connections land on the one end user."""
        users = t.end_users.c
        async with self._db.write() as conn:
            insert = _upsert_builder(conn)(t.end_users).values(
                id=connection.id,  # the first connection's id names its end user: unique
                hub_id=connection.hub_id,
                external_id=connection.user_id,
                created_at=connection.created_at,
            )
            await conn.execute(
                insert.on_conflict_do_nothing(index_elements=["hub_id", "external_id"])
            )
            end_user_id = (
                await conn.execute(
                    sa.select(users.id).where(
                        users.hub_id == connection.hub_id, users.external_id == connection.user_id
                    )
                )
            ).scalar_one()
            await conn.execute(
                t.connections.insert().values(
                    id=connection.id,
                    organisation_id=connection.organisation_id,
                    hub_id=connection.hub_id,
                    end_user_id=end_user_id,
                    connector_id=connection.connector_id,
                    credential_id=connection.credential_id,
                    name=connection.name,
                    **_token_columns(connection.tokens),
                    status=connection.status.value,
                    status_reason=connection.status_reason,
                    created_at=connection.created_at,
                    token_version=connection.health.version,
                    last_refreshed_at=connection.health.last_refreshed_at,
                    refresh_failures=connection.health.failures,
                    refresh_not_before=connection.health.not_before,
                    seal=connection.seal,
                    metadata=[list(pair) for pair in connection.metadata] or None,
                )
            )

    async def get(self, organisation_id: str, connection_id: str) -> Connection | None:
        c = t.connections.c
        row = await self._one(
            sa.select(*_CONNECTION_COLUMNS)
            .select_from(_CONNECTIONS)
            .where(c.id == connection_id, c.organisation_id == organisation_id)
        )
        return _connection(row) if row else None

    async def hub_of(self, connection_id: str) -> str | None:
        c = t.connections.c
        row = await self._one(sa.select(c.hub_id).where(c.id == connection_id))
        return str(row.hub_id) if row else None

    async def list_for_user(
        self, organisation_id: str, hub_id: str, user_id: str
    ) -> list[Connection]:
        c = t.connections.c
        rows = await self._all(
            sa.select(*_CONNECTION_COLUMNS)
            .select_from(_CONNECTIONS)
            .where(
                c.organisation_id == organisation_id,
                c.hub_id == hub_id,
                t.end_users.c.external_id == user_id,
            )
            .order_by(c.created_at, c.id)
        )
        return [_connection(row) for row in rows]

    async def delete(self, organisation_id: str, connection_id: str) -> bool:
        c = t.connections.c
        deleted = await self._delete(
            t.connections.delete().where(
                c.id == connection_id, c.organisation_id == organisation_id
            )
        )
        if deleted:
            await self._db.secrets_destroyed()
        return deleted

    async def update_tokens(
        self,
        connection_id: str,
        tokens: ConnectionTokens,
        *,
        expected_version: int,
        refreshed_at: datetime,
    ) -> bool:
        c = t.connections.c
        changed = await self._change(
            t.connections.update()
            .where(c.id == connection_id, c.token_version == expected_version)
            .values(
                **_token_columns(tokens),
                token_version=expected_version + 1,
                last_refreshed_at=refreshed_at,
                refresh_failures=0,
                refresh_not_before=None,
            )
        )
        return changed == 1

    async def reauthorise(
        self,
        connection_id: str,
        credential_id: str,
        tokens: ConnectionTokens,
        seal: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        c = t.connections.c
        changed = await self._change(
            t.connections.update()
            .where(c.id == connection_id)
            .values(
                **_token_columns(tokens),
                credential_id=credential_id,
                seal=seal,
                metadata=[list(pair) for pair in metadata] or None,
                token_version=c.token_version + 1,
                refresh_failures=0,
                refresh_not_before=None,
                status=ConnectionStatus.ACTIVE.value,
                status_reason=None,
            )
        )
        return changed == 1

    async def record_refresh_failure(
        self, connection_id: str, *, failures: int, not_before: datetime
    ) -> None:
        await self._change(
            t.connections.update()
            .where(t.connections.c.id == connection_id)
            .values(refresh_failures=failures, refresh_not_before=not_before)
        )

    async def set_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        c = t.connections.c
        statement = t.connections.update().where(c.id == connection_id)
        if expected_version is not None:
            statement = statement.where(c.token_version == expected_version)
        changed = await self._change(statement.values(status=status.value, status_reason=reason))
        return changed == 1

    async def due_for_refresh(
        self, expiring_before: datetime, now: datetime, limit: int
    ) -> list[Connection]:
        c = t.connections.c
        rows = await self._all(
            sa.select(*_CONNECTION_COLUMNS)
            .select_from(_CONNECTIONS)
            .where(
                c.status == ConnectionStatus.ACTIVE.value,
                c.sealed_refresh_token.is_not(None),
                c.expires_at < expiring_before,
                sa.or_(c.refresh_not_before.is_(None), c.refresh_not_before <= now),
            )
            .order_by(c.expires_at)
            .limit(limit)
        )
        return [_connection(row) for row in rows]


def _token_columns(tokens: ConnectionTokens) -> dict[str, Any]:
    return {
        "token_type": tokens.token_type,
        "sealed_access_token": tokens.sealed_access_token,
        "sealed_refresh_token": tokens.sealed_refresh_token,
        "expires_at": tokens.expires_at,
        "scopes": list(tokens.scopes),
        "token_lifetime_seconds": tokens.lifetime_seconds,
    }


class SqlRefreshLock(SqlRepository):
    async def acquire(
        self, connection_id: str, holder: str, now: datetime, until: datetime
    ) -> bool:
        """One statement: insert the lock, or take it over only when its lease has run out."""
        locks = t.refresh_locks
        async with self._db.write() as conn:
            insert = _upsert_builder(conn)(locks).values(
                connection_id=connection_id, holder=holder, expires_at=until
            )
            statement = insert.on_conflict_do_update(
                index_elements=["connection_id"],
                set_={"holder": holder, "expires_at": until},
                where=locks.c.expires_at <= now,
            )
            return bool((await conn.execute(statement)).rowcount == 1)

    async def release(self, connection_id: str, holder: str) -> None:
        c = t.refresh_locks.c
        await self._delete(
            t.refresh_locks.delete().where(c.connection_id == connection_id, c.holder == holder)
        )

    async def delete_expired(self, now: datetime) -> int:
        return await self._change(
            t.refresh_locks.delete().where(t.refresh_locks.c.expires_at <= now)
        )


def _signing_key(row: sa.Row[Any]) -> SigningKey:
    return SigningKey(
        id=row.id,
        organisation_id=row.organisation_id,
        name=row.name,
        algorithm=SigningAlgorithm(row.algorithm),
        public_key=row.public_key,
        created_at=row.created_at,
        seal=row.seal,
    )


class SqlSigningKeyRepository(SqlRepository):
    async def add(self, key: SigningKey) -> None:
        await self._insert(
            t.signing_keys,
            {
                "id": key.id,
                "organisation_id": key.organisation_id,
                "name": key.name,
                "algorithm": key.algorithm.value,
                "public_key": key.public_key,
                "created_at": key.created_at,
                "seal": key.seal,
            },
        )

    async def get(self, organisation_id: str, key_id: str) -> SigningKey | None:
        c = t.signing_keys.c
        row = await self._one(
            sa.select(t.signing_keys).where(c.id == key_id, c.organisation_id == organisation_id)
        )
        return _signing_key(row) if row else None

    async def find(self, key_id: str) -> SigningKey | None:
        row = await self._one(sa.select(t.signing_keys).where(t.signing_keys.c.id == key_id))
        return _signing_key(row) if row else None

    async def list(self, organisation_id: str) -> list[SigningKey]:
        c = t.signing_keys.c
        rows = await self._all(
            sa.select(t.signing_keys)
            .where(c.organisation_id == organisation_id)
            .order_by(c.created_at, c.id)
        )
        return [_signing_key(row) for row in rows]

    async def delete(self, organisation_id: str, key_id: str) -> bool:
        c = t.signing_keys.c
        return await self._delete(
            t.signing_keys.delete().where(c.id == key_id, c.organisation_id == organisation_id)
        )


class SqlConnectSessionRepository(SqlRepository):
    async def add(self, session: ConnectSession) -> None:
        await self._insert(
            t.connect_sessions,
            {
                "token_hash": session.token_hash,
                "organisation_id": session.organisation_id,
                "hub_id": session.hub_id,
                "user_id": session.user_id,
                "connector_ids": (
                    None if session.connector_ids is None else list(session.connector_ids)
                ),
                "expires_at": session.expires_at,
                "created_at": session.created_at,
                "seal": session.seal,
            },
        )

    async def get(self, token_hash: bytes) -> ConnectSession | None:
        row = await self._one(
            sa.select(t.connect_sessions).where(t.connect_sessions.c.token_hash == token_hash)
        )
        if row is None:
            return None
        return ConnectSession(
            token_hash=row.token_hash,
            organisation_id=row.organisation_id,
            hub_id=row.hub_id,
            user_id=row.user_id,
            connector_ids=None if row.connector_ids is None else tuple(row.connector_ids),
            expires_at=row.expires_at,
            created_at=row.created_at,
            seal=row.seal,
        )

    async def delete(self, organisation_id: str, token_hash: bytes) -> bool:
        c = t.connect_sessions.c
        return await self._delete(
            t.connect_sessions.delete().where(
                c.token_hash == token_hash, c.organisation_id == organisation_id
            )
        )

    async def delete_expired(self, now: datetime) -> int:
        return await self._change(
            t.connect_sessions.delete().where(t.connect_sessions.c.expires_at <= now)
        )


class SqlUsedStateRepository(SqlRepository):
    async def mark_used(self, state_id: bytes, expires_at: datetime) -> bool:
        """The primary key makes the second of two racing inserts fail: that is the atomicity."""
        try:
            await self._insert(t.used_states, {"state_id": state_id, "expires_at": expires_at})
        except DuplicateKey:
            return False
        return True

    async def is_used(self, state_id: bytes) -> bool:
        c = t.used_states.c
        return await self._one(sa.select(c.state_id).where(c.state_id == state_id)) is not None

    async def delete_expired(self, now: datetime) -> int:
        return await self._change(t.used_states.delete().where(t.used_states.c.expires_at <= now))


_SEALED_COLUMNS = {
    SealedKind.API_KEY_SEAL: (t.api_keys, t.api_keys.c.seal),
    SealedKind.HUB_SEAL: (t.hubs, t.hubs.c.seal),
    SealedKind.CONNECTOR_SEAL: (t.connectors, t.connectors.c.seal),
    SealedKind.CONNECTION_SEAL: (t.connections, t.connections.c.seal),
    SealedKind.WEBHOOK_SEAL: (t.webhooks, t.webhooks.c.seal),
    SealedKind.SIGNING_KEY_SEAL: (t.signing_keys, t.signing_keys.c.seal),
    SealedKind.CLIENT_SECRET: (t.credentials, t.credentials.c.sealed_secret),
    SealedKind.ACCESS_TOKEN: (t.connections, t.connections.c.sealed_access_token),
    SealedKind.REFRESH_TOKEN: (t.connections, t.connections.c.sealed_refresh_token),
    SealedKind.WEBHOOK_SECRET: (t.webhooks, t.webhooks.c.sealed_secret),
    SealedKind.WEBHOOK_PREVIOUS_SECRET: (t.webhooks, t.webhooks.c.sealed_previous_secret),
}


class SqlSealedValueStore(SqlRepository):
    async def not_starting_with(self, prefixes: Sequence[str], limit: int) -> list[SealedValue]:
        found: list[SealedValue] = []
        for kind, (table, column) in _SEALED_COLUMNS.items():
            rows = await self._all(
                sa.select(table.c.id, column)
                .where(
                    column.is_not(None),
                    *(sa.not_(column.startswith(p, autoescape=True)) for p in prefixes),
                )
                .order_by(table.c.id)
                .limit(limit - len(found))
            )
            found += [SealedValue(kind, str(row.id), str(row._mapping[column])) for row in rows]
            if len(found) >= limit:
                break
        return found

    async def replace(self, sealed: SealedValue, new_value: str) -> bool:
        table, column = _SEALED_COLUMNS[sealed.kind]
        changed = await self._change(
            table.update()
            .where(table.c.id == sealed.row_id, column == sealed.value)
            .values({column.name: new_value})
        )
        return changed == 1


class SqlHealthCheck(SqlRepository):
    async def ping(self) -> None:
        async with self._db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))


class SqlUnitOfWork:
    """A transaction on one connection; a unit begun inside another joins it."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Storage]:
        if self._db.in_transaction:
            yield _storage(self._db)
            return
        with translated():
            conn = await self._db.engine.connect()
            try:
                transaction = await conn.begin()
            except BaseException:
                await conn.close()
                raise
        db = SqlDatabase(self._db.engine, conn)
        try:
            # Only the statements are translated: an error of the block's own is its own.
            yield _storage(db)
        except BaseException:
            with contextlib.suppress(Exception):  # a dead connection: the original error tells
                await transaction.rollback()
            raise
        else:
            with translated():
                await transaction.commit()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
        if db.destroyed:
            await checkpoint(self._db.engine)


def _storage(db: SqlDatabase) -> Storage:
    return Storage(
        organisations=SqlOrganisationRepository(db),
        api_keys=SqlApiKeyRepository(db),
        credentials=SqlCredentialRepository(db),
        hubs=SqlHubRepository(db),
        connectors=SqlConnectorRepository(db),
        signing_keys=SqlSigningKeyRepository(db),
        connect_sessions=SqlConnectSessionRepository(db),
        webhooks=SqlWebhookRepository(db),
        outbox=SqlOutbox(db),
        used_states=SqlUsedStateRepository(db),
        connections=SqlConnectionRepository(db),
        refresh_locks=SqlRefreshLock(db),
        sealed_values=SqlSealedValueStore(db),
        health=SqlHealthCheck(db),
        unit_of_work=SqlUnitOfWork(db),
    )


def sql_storage(engine: AsyncEngine) -> Storage:
    return _storage(SqlDatabase(engine))
