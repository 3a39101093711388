"""The database locked or unreachable: 503 with Retry-After, and recovery without a restart."""

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from adapters.bootstrap import create_app
from adapters.composition.backends import Backend
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from adapters.sql import schema
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from tests.conftest import migrated_backend, needs_postgres
from tests.support.processes import free_port
from tests.support.tcp_proxy import TcpProxy


async def test_a_locked_sqlite_database_answers_503_then_recovers(tmp_path: Path) -> None:
    settings = Settings(database_url="unused://")
    async with migrated_backend("sqlite", tmp_path) as backend:
        keyring = Keyring.parse(generate_key_spec())
        created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
        app = create_app(settings, backend=backend, keyring=keyring)
        headers = {"Authorization": f"Bearer {created.api_key}"}
        body = {"name": "c", "clientId": "cid", "clientSecret": "s"}
        async with AsyncTestClient(app) as client:
            assert (await client.get("/credentials", headers=headers)).status_code == 200
            locker = sqlite3.connect(tmp_path / "test.sqlite3", isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
            try:
                locked = await client.post("/credentials", json=body, headers=headers)
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            assert locked.status_code == 503
            assert locked.headers["retry-after"] == "2"
            assert locked.json()["code"] == "storage_unavailable"
            assert (await client.get("/credentials", headers=headers)).json()["items"] == []
            recovered = await client.post("/credentials", json=body, headers=headers)
            assert recovered.status_code == 201


async def test_an_unreachable_postgresql_answers_503_and_readiness_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    )
    app = create_app(settings, keyring=Keyring.parse(generate_key_spec()))
    caplog.set_level(logging.WARNING, logger="embed_oauth.health")
    async with AsyncTestClient(app) as client:
        api = await client.get("/hubs", headers={"Authorization": "Bearer eo_anything"})
        assert api.status_code == 503
        assert api.json()["code"] == "storage_unavailable"
        assert "Traceback" not in api.text
        ready = await asyncio.wait_for(client.get("/health/ready"), timeout=30)
        assert ready.status_code == 503
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200
    (logged,) = [r for r in caplog.records if r.name == "embed_oauth.health"]  # once per minute
    assert logged.getMessage() == "not ready: the database does not answer"
    assert (
        "refused" in logged.__dict__["reason"].lower()
        or "connect" in logged.__dict__["reason"].lower()
    )


@dataclass
class ProxiedPostgres:
    """A migrated PostgreSQL database reached through a TCP proxy that can be cut."""

    proxy: TcpProxy
    url: str
    organisation_id: str
    api_key: str
    keyring: Keyring


@pytest.fixture
async def proxied_postgres(fresh_postgres_database: str) -> AsyncIterator[ProxiedPostgres]:
    real = make_url(fresh_postgres_database)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    proxy.start()
    url = real.set(port=proxy.port).render_as_string(hide_password=False)
    engine = create_engine(url)
    await schema.upgrade(engine)
    keyring = Keyring.parse(generate_key_spec())
    created = await create_organisation(sql_storage(engine), AesGcmSecretCipher(keyring))("Acme")
    await engine.dispose()
    try:
        yield ProxiedPostgres(proxy, url, created.organisation.id, created.api_key, keyring)
    finally:
        proxy.close()


@needs_postgres
@pytest.mark.postgres
async def test_postgresql_going_down_and_back_up_needs_no_restart(
    proxied_postgres: ProxiedPostgres,
) -> None:
    proxy, url = proxied_postgres.proxy, proxied_postgres.url
    app = create_app(Settings(database_url=url, cache_seconds=0), keyring=proxied_postgres.keyring)
    headers = {"Authorization": f"Bearer {proxied_postgres.api_key}"}
    async with AsyncTestClient(app) as client:
        assert (await client.get("/hubs", headers=headers)).status_code == 200
        proxy.cut()
        down = await client.get("/hubs", headers=headers)
        assert down.status_code == 503
        assert down.headers["retry-after"] == "2"
        assert (await client.get("/health/ready")).status_code == 503
        proxy.start()  # the database is back, on the same address
        assert (await client.get("/health/ready")).status_code == 200
        assert (await client.get("/hubs", headers=headers)).status_code == 200


def initialise_body(organisation_id: str) -> dict[str, object]:
    return {
        "authorizeUrl": "https://provider.example/authorize",
        "clientId": "cid",
        "credential": {
            "id": "01900000-0000-7000-8000-000000000001",
            "organisationId": organisation_id,
        },
    }


async def test_initialise_on_cold_caches_with_sqlite_gone_answers_503(tmp_path: Path) -> None:
    """The API key is cached; the hub, connector and credential are not, and the database
    file can no longer be opened: the one initialise route answers the documented 503."""
    folder = tmp_path / "db"
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'test.sqlite3'}")
    await schema.upgrade(engine)
    keyring = Keyring.parse(generate_key_spec())
    created = await create_organisation(sql_storage(engine), AesGcmSecretCipher(keyring))("Acme")
    app = create_app(
        Settings(database_url="unused://"),
        backend=Backend(sql_storage(engine), engine.dispose),
        keyring=keyring,
    )
    headers = {"Authorization": f"Bearer {created.api_key}"}
    body = initialise_body(created.organisation.id)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/hubs", headers=headers)).status_code == 200  # key cached
        await engine.dispose()
        folder.rename(tmp_path / "moved")
        answer = await client.post(
            "/embed/h/connector/c/oauth2/initialise", json=body, headers=headers
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "storage_unavailable"
        assert answer.headers["retry-after"] == "2"


@needs_postgres
@pytest.mark.postgres
async def test_initialise_on_cold_caches_with_postgresql_down_answers_503(
    proxied_postgres: ProxiedPostgres,
) -> None:
    app = create_app(Settings(database_url=proxied_postgres.url), keyring=proxied_postgres.keyring)
    headers = {"Authorization": f"Bearer {proxied_postgres.api_key}"}
    body = initialise_body(proxied_postgres.organisation_id)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/hubs", headers=headers)).status_code == 200  # key cached
        proxied_postgres.proxy.cut()
        answer = await client.post(
            "/embed/h/connector/c/oauth2/initialise", json=body, headers=headers
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "storage_unavailable"
