"""Alembic migrations: from empty to head and back down, on SQLite and PostgreSQL, and what
they do to the rows already stored."""

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.sql import schema
from adapters.sql import tables as t
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from adapters.sql.tables import metadata
from application.errors import TamperedRecord
from application.integrity import check_record
from tests.conftest import SQL_BACKENDS, sql_engine


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_migrations_go_up_to_head_and_down_to_empty(backend: str, tmp_path: Path) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        assert await schema.current_revision(engine) is None
        await schema.upgrade(engine)
        assert await schema.current_revision(engine) == schema.head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
        await schema.downgrade(engine)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await schema.upgrade(engine)
        assert await schema.current_revision(engine) == schema.head_revision()


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_migrated_schema_matches_the_table_definitions(backend: str, tmp_path: Path) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        await schema.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    assert diff == []


async def test_a_new_sqlite_database_and_its_wal_are_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "private" / "db.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await schema.upgrade(engine)
        async with engine.connect() as conn:  # an open connection keeps the WAL files
            await conn.execute(sa.text("SELECT 1 FROM organisations"))
            for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert name.exists(), name
                assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
    finally:
        await engine.dispose()


async def store_rows_of_revision_0005(engine: AsyncEngine) -> None:
    """One row of each sealed kind, as a service before seals wrote them."""
    org, hub, connector, credential, user, connection, key, hook = (
        f"01900000-0000-7000-8000-{n:012d}" for n in range(1, 9)
    )
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        for table, row in [
            (t.organisations, {"id": org, "name": "o", "created_at": now}),
            (t.api_keys, {"id": key, "organisation_id": org, "key_hash": b"k" * 32,
                          "created_at": now}),
            (t.hubs, {"id": hub, "organisation_id": org, "name": "h",
                      "allowed_origins": ["https://app.example"], "created_at": now}),
            (t.connectors, {"id": connector, "hub_id": hub, "name": "c",
                            "token_url": "https://p.example/token", "scope_separator": " ",
                            "pkce": True, "token_auth_method": "client_secret_basic",
                            "created_at": now, "iss_parameter_supported": True}),
            (t.credentials, {"id": credential, "organisation_id": org, "name": "c",
                             "client_id": "cid", "sealed_secret": "v1.k.x", "created_at": now}),
            (t.end_users, {"id": user, "hub_id": hub, "external_id": "u-1", "created_at": now}),
            (t.connections, {"id": connection, "organisation_id": org, "hub_id": hub,
                             "end_user_id": user, "connector_id": connector,
                             "credential_id": credential, "name": "n", "scopes": ["a"],
                             "token_type": "Bearer", "sealed_access_token": "v1.k.a",
                             "status": "active", "created_at": now}),
            (t.webhooks, {"id": hook, "organisation_id": org, "url": "https://hooks.example/in",
                          "events": ["connection.created"], "sealed_secret": "v1.k.s",
                          "created_at": now}),
        ]:  # fmt: skip
            await conn.execute(table.insert().values(**row))


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_the_upgrade_that_adds_seals_seals_the_rows_already_stored(
    backend: str, tmp_path: Path
) -> None:
    cipher = AesGcmSecretCipher(Keyring.parse(generate_key_spec()))
    async with sql_engine(backend, tmp_path) as engine:
        await schema.upgrade(engine, "0005")
        await store_rows_of_revision_0005(engine)
        applied = await schema.upgrade(engine, keys=lambda: cipher)
        assert applied[0].startswith("0006:")
        storage = sql_storage(engine)
        org = "01900000-0000-7000-8000-000000000001"
        records = [
            await storage.api_keys.find(b"k" * 32),
            await storage.hubs.find("01900000-0000-7000-8000-000000000002"),
            await storage.connectors.get(
                "01900000-0000-7000-8000-000000000002", "01900000-0000-7000-8000-000000000003"
            ),
            await storage.connections.get(org, "01900000-0000-7000-8000-000000000006"),
            await storage.webhooks.get(org, "01900000-0000-7000-8000-000000000008"),
        ]
        found = [record for record in records if record is not None]
        assert len(found) == len(records)
        for record in found:
            check_record(cipher, record)
        with pytest.raises(TamperedRecord):  # under other keys, the seals do not hold
            check_record(AesGcmSecretCipher(Keyring.parse(generate_key_spec())), found[1])


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_without_keys_a_database_with_rows_to_seal_is_not_upgraded(
    backend: str, tmp_path: Path
) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        await schema.upgrade(engine, "0005")
        await store_rows_of_revision_0005(engine)
        with pytest.raises(schema.MigrationRefused, match="needs the encryption keys"):
            await schema.upgrade(engine)
        assert await schema.current_revision(engine) == "0005"
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("hubs"))
        assert "seal" not in {column["name"] for column in columns}


async def store_callers_of_revision_0007(engine: AsyncEngine) -> tuple[str, str]:
    """An organisation, a hub, a signing key and a connect session, as a service before
    their seals wrote them."""
    org, hub, key = (f"01900000-0000-7000-8000-{n:012d}" for n in (1, 2, 9))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(t.organisations.insert().values(id=org, name="o", created_at=now))
        await conn.execute(
            t.hubs.insert().values(
                id=hub, organisation_id=org, name="h", allowed_origins=[], created_at=now
            )
        )
        await conn.execute(
            t.signing_keys.insert().values(
                id=key, organisation_id=org, name="k", algorithm="ES256",
                public_key="-----BEGIN PUBLIC KEY-----\n", created_at=now,
            )
        )  # fmt: skip
        await conn.execute(
            t.connect_sessions.insert().values(
                token_hash=b"s" * 32, organisation_id=org, hub_id=hub, user_id="u-1",
                connector_ids=None, expires_at=now + timedelta(minutes=30), created_at=now,
            )
        )  # fmt: skip
    return org, key


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_the_upgrade_that_seals_callers_seals_the_keys_and_sessions_already_stored(
    backend: str, tmp_path: Path
) -> None:
    cipher = AesGcmSecretCipher(Keyring.parse(generate_key_spec()))
    async with sql_engine(backend, tmp_path) as engine:
        await schema.upgrade(engine, "0007")
        org, key_id = await store_callers_of_revision_0007(engine)
        applied = await schema.upgrade(engine, keys=lambda: cipher)
        assert applied[0].startswith("0008:")
        storage = sql_storage(engine)
        key = await storage.signing_keys.get(org, key_id)
        session = await storage.connect_sessions.get(b"s" * 32)
        assert key is not None
        assert session is not None
        for record in (key, session):
            check_record(cipher, record)
            with pytest.raises(TamperedRecord):  # under other keys, the seal does not hold
                check_record(AesGcmSecretCipher(Keyring.parse(generate_key_spec())), record)


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_without_keys_a_database_with_signing_keys_or_sessions_stays_at_0007(
    backend: str, tmp_path: Path
) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        await schema.upgrade(engine, "0007")
        await store_callers_of_revision_0007(engine)
        with pytest.raises(schema.MigrationRefused, match="0008 seals the signing keys"):
            await schema.upgrade(engine)
        assert await schema.current_revision(engine) == "0007"
