"""Someone who can write to the SQLite file but has not got the keys: each change below is
made to the file behind the running service (no caches, so it is read at once), and no
secret, token or event leaves for where the change points.

The tests' real authorization server issues the tokens; the attacker's server is a real
HTTP receiver on loopback that records whatever reaches it.
"""

import asyncio
import hashlib
import json
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_oauth_flow import (
    APP_ORIGIN,
    PUBLIC_URL,
    Flow,
    consent,
    running_flow,
    running_provider,
)
from tests.support.end_user_keys import KeyPair, claims, generate, sign
from tests.support.oauth_provider import RunningProvider
from tests.support.webhook_receiver import Receiver, RunningReceiver

__all__ = ["running_provider"]


@pytest.fixture
async def flow(running_provider: RunningProvider, tmp_path: Path) -> AsyncIterator[Flow]:
    async with running_flow(
        "sqlite", tmp_path, running_provider, cache_seconds=0, webhook_retry_seconds=(1, 1)
    ) as running:
        yield running


@pytest.fixture
def attacker() -> Iterator[Receiver]:
    running = RunningReceiver()
    yield running.receiver
    running.stop()


def tamper(flow: Flow, statement: str, *params: object) -> None:
    assert flow.db_path is not None
    with sqlite3.connect(flow.db_path) as db:
        assert db.execute(statement, params).rowcount == 1


def refused(caplog: pytest.LogCaptureFixture, table: str) -> bool:
    """The service logged the refusal, naming what failed."""
    return any(
        r.levelno == logging.ERROR and f"stored {table}" in r.getMessage()
        for r in caplog.records
        if "integrity check" in r.getMessage()
    )


async def connected(flow: Flow, expires_in: int = 120) -> tuple[dict[str, str], str]:
    flow.provider.expires_in = expires_in
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    created = await flow.connect(ids, returned["code"], returned["state"])
    assert created.status_code == 201, created.text
    return ids, str(created.json()["id"])


async def test_a_planted_api_key_hash_matches_nothing(flow: Flow) -> None:
    planted = "eo_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(planted.encode()).digest()
    # Even with a real row's seal copied onto it: the seal names the hash it was made for.
    tamper(
        flow,
        "INSERT INTO api_keys (id, organisation_id, key_hash, created_at, seal) "
        "SELECT ?, organisation_id, ?, created_at, seal FROM api_keys WHERE organisation_id = ?",
        "01900000-0000-7000-8000-00000000beef",
        digest,
        flow.organisation_id,
    )
    assert (await flow.client.get("/hubs", headers=flow.auth)).status_code == 200
    answer = await flow.client.get("/hubs", headers={"Authorization": f"Bearer {planted}"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"


async def test_a_key_moved_to_another_organisation_acts_for_neither(flow: Flow) -> None:
    _, b_key = await flow.new_organisation("B")
    b_auth = {"Authorization": f"Bearer {b_key}"}
    assert (await flow.client.get("/hubs", headers=b_auth)).status_code == 200
    tamper(
        flow,
        "UPDATE api_keys SET organisation_id = ? WHERE key_hash = ?",
        flow.organisation_id,
        hashlib.sha256(b_key.encode()).digest(),
    )
    assert (await flow.client.get("/hubs", headers=b_auth)).status_code == 401


async def test_a_changed_token_url_gets_no_refresh_token_or_client_secret(
    flow: Flow, attacker: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    ids, connection_id = await connected(flow)
    tamper(flow, "UPDATE connectors SET token_url = ? WHERE id = ?", attacker.url, ids["connector"])
    before = len(flow.provider.refresh_requests())
    flow.clock.offset += timedelta(seconds=61)  # due for a refresh
    answer = await flow.client.post(f"/connections/{connection_id}/access-token", headers=flow.auth)
    assert answer.status_code == 500
    assert answer.json()["code"] == "integrity_check_failed"
    assert "accessToken" not in answer.json()
    await asyncio.sleep(0.2)
    assert attacker.received == []
    assert len(flow.provider.refresh_requests()) == before
    assert refused(caplog, "connector")


async def test_a_changed_token_url_gets_no_code_either(
    flow: Flow, attacker: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    tamper(flow, "UPDATE connectors SET token_url = ? WHERE id = ?", attacker.url, ids["connector"])
    page = await flow.client.get(flow.callback_path, params=returned)
    assert "integrity check" in page.text
    assert returned["code"] not in page.text
    created = await flow.connect(ids, returned["code"], returned["state"])
    assert created.status_code == 500
    assert created.json()["code"] == "integrity_check_failed"
    await asyncio.sleep(0.2)
    assert attacker.received == []
    assert refused(caplog, "connector")


async def test_an_added_hub_origin_is_not_trusted(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    path = f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise"

    async def allowed(origin: str) -> str | None:
        preflight = await flow.client.options(
            path, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        origin_header: str | None = preflight.headers.get("access-control-allow-origin")
        return origin_header

    assert await allowed(APP_ORIGIN) == APP_ORIGIN
    evil = "https://evil.example"
    tamper(
        flow,
        "UPDATE hubs SET allowed_origins = ? WHERE id = ?",
        json.dumps([APP_ORIGIN, evil]),
        ids["hub"],
    )
    assert await allowed(evil) is None
    assert await allowed(APP_ORIGIN) is None  # the hub as a whole is refused
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    page = await flow.client.get(flow.callback_path, params=returned)
    assert evil not in page.text
    assert returned["code"] not in page.text


async def test_a_changed_webhook_url_gets_no_event(
    flow: Flow, attacker: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    legitimate = RunningReceiver()
    try:
        hook = (await flow.post("/webhooks", {"url": legitimate.receiver.url})).json()
        tamper(flow, "UPDATE webhooks SET url = ? WHERE id = ?", attacker.url, hook["id"])
        await connected(flow)  # announces connection.created
        deliveries: list[dict[str, Any]] = []
        for _ in range(60):
            await asyncio.sleep(0.1)
            listed = await flow.client.get(f"/webhooks/{hook['id']}/deliveries", headers=flow.auth)
            deliveries = listed.json()["items"]
            if deliveries and deliveries[0]["attempts"] >= 1:
                break
        assert deliveries, "no delivery was attempted"
        assert "integrity check" in (deliveries[0]["lastError"] or "")
        assert attacker.received == []
        assert legitimate.receiver.received == []
        assert refused(caplog, "webhook")
    finally:
        legitimate.stop()


async def test_a_connection_moved_to_another_organisation_gives_it_no_token(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    _, connection_id = await connected(flow)
    b_id, b_key = await flow.new_organisation("B")
    tamper(flow, "UPDATE connections SET organisation_id = ? WHERE id = ?", b_id, connection_id)
    answer = await flow.client.post(
        f"/connections/{connection_id}/access-token",
        headers={"Authorization": f"Bearer {b_key}"},
    )
    assert answer.status_code == 500
    assert answer.json()["code"] == "integrity_check_failed"
    assert refused(caplog, "connection")


async def test_a_connection_switched_to_another_credential_is_not_refreshed(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    _, connection_id = await connected(flow)
    other = await flow.post(
        "/credentials", {"name": "other", "clientId": "attacker-client", "clientSecret": "x"}
    )
    tamper(
        flow,
        "UPDATE connections SET credential_id = ? WHERE id = ?",
        other.json()["id"],
        connection_id,
    )
    before = len(flow.provider.token_requests)
    flow.clock.offset += timedelta(seconds=61)
    answer = await flow.client.post(f"/connections/{connection_id}/access-token", headers=flow.auth)
    assert answer.status_code == 500
    assert len(flow.provider.token_requests) == before
    assert refused(caplog, "connection")


async def test_a_changed_revocation_url_gets_no_token_and_the_deletion_goes_on(
    flow: Flow, attacker: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    flow.provider.expires_in = 120
    ids = await flow.connector(
        flow.provider.register(flow.redirect_uri), revocationUrl=flow.provider.revocation_url
    )
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    created = await flow.connect(ids, returned["code"], returned["state"])
    connection_id = created.json()["id"]
    tamper(
        flow,
        "UPDATE connectors SET settings = ? WHERE id = ?",
        json.dumps({"revocation_url": attacker.url}),
        ids["connector"],
    )
    before = len(flow.provider.revocation_requests)
    deleted = await flow.client.delete(f"/connections/{connection_id}", headers=flow.auth)
    assert deleted.status_code == 204
    gone = await flow.client.get(f"/connections/{connection_id}", headers=flow.auth)
    assert gone.status_code == 404
    await asyncio.sleep(0.2)
    assert attacker.received == []
    assert len(flow.provider.revocation_requests) == before
    assert refused(caplog, "connector")


async def end_user_answer(flow: Flow, key: KeyPair, kid: str, hub_id: str) -> int:
    """What an end user's JWT, signed with ``key`` under ``kid``, gets on their own
    connections in ``hub_id``."""
    token = sign(key, kid, claims("u-1", hub_id, PUBLIC_URL))
    answer = await flow.client.get(
        f"/hubs/{hub_id}/users/u-1/connections", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


async def new_hub(flow: Flow, auth: dict[str, str]) -> str:
    answer = await flow.client.post("/hubs", json={"name": "h"}, headers=auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def registered(flow: Flow, auth: dict[str, str], key: KeyPair) -> str:
    answer = await flow.client.post(
        "/signing-keys", json={"name": "backend", "publicKey": key.public_pem}, headers=auth
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.mark.parametrize("copied_seal", [False, True])
async def test_a_planted_signing_key_signs_no_end_user_token(
    flow: Flow, caplog: pytest.LogCaptureFixture, copied_seal: bool
) -> None:
    hub_id = await new_hub(flow, flow.auth)
    own = generate("ec")
    own_kid = await registered(flow, flow.auth, own)
    assert await end_user_answer(flow, own, own_kid, hub_id) == 200
    planted, planted_kid = generate("ec"), "01900000-0000-7000-8000-00000000f00d"
    # With no seal, or with the organisation's real key's seal copied onto it: that seal
    # names the public key it was made for.
    tamper(
        flow,
        "INSERT INTO signing_keys (id, organisation_id, name, algorithm, public_key, "
        "created_at, seal) SELECT ?, organisation_id, 'planted', algorithm, ?, created_at, "
        "CASE WHEN ? THEN seal END FROM signing_keys WHERE id = ?",
        planted_kid,
        planted.public_pem,
        copied_seal,
        own_kid,
    )
    assert await end_user_answer(flow, planted, planted_kid, hub_id) == 401
    assert refused(caplog, "signing_key")
    assert await end_user_answer(flow, own, own_kid, hub_id) == 200


async def test_a_signing_key_moved_to_another_organisation_signs_for_neither(
    flow: Flow,
) -> None:
    _, b_key = await flow.new_organisation("B")
    b_auth = {"Authorization": f"Bearer {b_key}"}
    a_hub, b_hub = await new_hub(flow, flow.auth), await new_hub(flow, b_auth)
    key = generate("ec")
    kid = await registered(flow, b_auth, key)
    assert await end_user_answer(flow, key, kid, b_hub) == 200
    tamper(
        flow, "UPDATE signing_keys SET organisation_id = ? WHERE id = ?", flow.organisation_id, kid
    )
    assert await end_user_answer(flow, key, kid, a_hub) == 401
    assert await end_user_answer(flow, key, kid, b_hub) == 401


async def session_token(flow: Flow, auth: dict[str, str], hub_id: str, user: str) -> str:
    answer = await flow.client.post(
        "/connect-sessions", json={"hubId": hub_id, "userId": user}, headers=auth
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


async def session_answer(flow: Flow, token: str, hub_id: str, user: str) -> int:
    answer = await flow.client.get(
        f"/hubs/{hub_id}/users/{user}/connections", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


@pytest.mark.parametrize("moved_to", ["organisation", "user"])
async def test_a_connect_session_moved_to_another_user_or_organisation_acts_for_nobody(
    flow: Flow, caplog: pytest.LogCaptureFixture, moved_to: str
) -> None:
    _, b_key = await flow.new_organisation("B")
    b_auth = {"Authorization": f"Bearer {b_key}"}
    a_hub, b_hub = await new_hub(flow, flow.auth), await new_hub(flow, b_auth)
    token = await session_token(flow, b_auth, b_hub, "mallory")
    assert await session_answer(flow, token, b_hub, "mallory") == 200
    if moved_to == "organisation":
        tamper(
            flow,
            "UPDATE connect_sessions SET organisation_id = ?, hub_id = ? WHERE hub_id = ?",
            flow.organisation_id,
            a_hub,
            b_hub,
        )
        hub, user = a_hub, "mallory"
    else:
        tamper(flow, "UPDATE connect_sessions SET user_id = 'alice' WHERE hub_id = ?", b_hub)
        hub, user = b_hub, "alice"
    assert await session_answer(flow, token, hub, user) == 401
    assert refused(caplog, "connect_session")


async def test_an_expired_connect_session_is_not_brought_back(flow: Flow) -> None:
    hub = await new_hub(flow, flow.auth)
    token = await session_token(flow, flow.auth, hub, "u-1")
    flow.clock.offset += timedelta(hours=2)  # past the session's 30 minutes
    assert await session_answer(flow, token, hub, "u-1") == 401
    tamper(
        flow, "UPDATE connect_sessions SET expires_at = '2999-01-01 00:00:00' WHERE hub_id = ?", hub
    )
    assert await session_answer(flow, token, hub, "u-1") == 401
