"""No secret in plain text: not in the database file, not in any log line at any level, not
in any HTTP response (the access-token response, which exists to return one, excepted)."""

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.observability import configure_logging
from adapters.settings import Settings
from tests.conftest import migrated_backend
from tests.e2e.test_oauth_flow import PUBLIC_URL, MovableClock, consent
from tests.support.oauth_provider import RunningProvider


@pytest.fixture
def service_logging() -> Iterator[None]:
    """The service's logging configuration at DEBUG, undone afterwards: it replaces the root
    logger's handlers, which must not outlive this test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    libraries = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    configure_logging("DEBUG")
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, library_level in libraries.items():
            logging.getLogger(name).setLevel(library_level)


def third_party(logger: str) -> bool:
    """The test provider's own loggers: Authlib logs its clients' secrets."""
    return logger.startswith(("werkzeug", "authlib"))


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    yield running
    running.stop()


async def test_no_secret_is_stored_logged_or_answered_in_plain_text(
    tmp_path: Path,
    provider: RunningProvider,
    service_logging: None,  # before caplog: torn down after it, so the levels end restored
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert logging.getLogger("httpx").level == logging.WARNING  # never logs request lines
    assert logging.getLogger("httpcore").level == logging.WARNING
    logging.getLogger().addHandler(caplog.handler)  # configure_logging replaced the handlers
    caplog.set_level(logging.DEBUG)
    provider.provider.expires_in = 120
    responses: list[httpx.Response] = []
    token_responses: list[httpx.Response] = []
    clock = MovableClock()
    async with migrated_backend("sqlite", tmp_path) as backend:
        keyring = Keyring.parse(generate_key_spec())
        created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
        oauth_client = provider.provider.register(
            f"{PUBLIC_URL}/oauth2/callback/{created.organisation.id}"
        )
        app = create_app(
            Settings(database_url="unused://", public_url=PUBLIC_URL),
            backend=backend,
            keyring=keyring,
            clock=clock,
        )
        headers = {"Authorization": f"Bearer {created.api_key}"}
        async with AsyncTestClient(app) as client:

            async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                response = await client.request(method, path, headers=headers, **kwargs)
                (token_responses if path.endswith("/access-token") else responses).append(response)
                return response

            credential = (
                await call(
                    "POST",
                    "/credentials",
                    json={
                        "name": "c",
                        "clientId": oauth_client.client_id,
                        "clientSecret": oauth_client.client_secret,
                    },
                )
            ).json()
            hub = (
                await call(
                    "POST", "/hubs", json={"name": "h", "allowedOrigins": ["https://a.example"]}
                )
            ).json()
            connector = (
                await call(
                    "POST",
                    f"/hubs/{hub['id']}/connectors",
                    json={"name": "p", "tokenUrl": provider.provider.token_url},
                )
            ).json()
            url = (
                await call(
                    "POST",
                    f"/embed/{hub['id']}/connector/{connector['id']}/oauth2/initialise",
                    json={
                        "authorizeUrl": provider.provider.authorize_url,
                        "clientId": oauth_client.client_id,
                        "credential": {
                            "id": credential["id"],
                            "organisationId": created.organisation.id,
                        },
                    },
                )
            ).json()["url"]
            returned = consent(url)
            await call("GET", f"/oauth2/callback/{created.organisation.id}", params=returned)
            connection = (
                await call(
                    "POST",
                    f"/hubs/{hub['id']}/users/u-1/connections",
                    json={
                        "connectorId": connector["id"],
                        "code": returned["code"],
                        "state": returned["state"],
                    },
                )
            ).json()
            await call("GET", f"/connections/{connection['id']}")
            await call("GET", f"/hubs/{hub['id']}/users/u-1/connections")
            await call("POST", f"/connections/{connection['id']}/access-token")
            clock.offset = timedelta(seconds=61)  # due: refreshed, and the refresh token rotated
            await call("POST", f"/connections/{connection['id']}/access-token")
            await call("GET", "/credentials")
            await call("GET", f"/credentials/{credential['id']}")

    issued = provider.provider.tokens.values()
    secrets = {
        "client secret": oauth_client.client_secret,
        "API key": created.api_key,
        "authorization code": returned["code"],
        **{f"access token {n}": t.access_token for n, t in enumerate(issued)},
        **{f"refresh token {n}": t.refresh_token for n, t in enumerate(issued) if t.refresh_token},
    }
    assert len(secrets) >= 7  # two access and two refresh tokens: the refresh happened
    assert len(provider.provider.refresh_requests()) == 1

    database = tmp_path / "test.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = database.read_bytes()
    ours = [r for r in caplog.records if not third_party(r.name)]
    answered = "\n".join(f"{r.headers} {r.text}" for r in responses)
    written = "\n".join(  # the access log and every other line on standard error but theirs
        line
        for line in capsys.readouterr().err.splitlines()
        if not line.startswith('{"time"') or not third_party(json.loads(line)["logger"])
    )
    for name, secret in secrets.items():
        assert secret.encode() not in stored, f"{name} is in the database file"
        leaking = [
            f"{r.name}: {r.getMessage()[:300]}"
            for r in ours
            if secret in f"{r.getMessage()} {r.__dict__}"
        ]
        assert not leaking, f"{name} is in the logs: {leaking[:3]}"
        assert secret not in written, f"{name} is written to standard error"
        assert secret not in answered, f"{name} is in an HTTP response"
    assert written.count('"logger":"embed_oauth.access"') >= len(responses)  # logs were captured
    assert token_responses[-1].json()["accessToken"] in {t.access_token for t in issued}
