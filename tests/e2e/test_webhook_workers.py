"""Webhook deliveries across real `embed-oauth serve` processes: a SIGKILL with deliveries
pending loses none of them, and two instances on one PostgreSQL database deliver each event
exactly once."""

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters.composition.backends import open_backend
from adapters.crypto.keyring import generate_key_spec
from domain.model import WebhookEvent
from tests.conftest import needs_postgres
from tests.e2e.test_oauth_flow import consent
from tests.support.oauth_provider import RunningProvider
from tests.support.processes import create_organisation, free_port, run_cli, serving, start_server
from tests.support.provisioning import provision
from tests.support.webhook_receiver import Receiver, RunningReceiver

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = RunningReceiver()
    yield running.receiver
    running.stop()


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    yield running
    running.stop()


def test_deliveries_pending_at_a_sigkill_are_all_made_after_the_restart(
    tmp_path: Path, provider: RunningProvider, receiver: Receiver
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hooks.sqlite3'}",
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": base,
        "EMBED_OAUTH_WEBHOOK_RETRY_SECONDS": "1,1,1,1,1,1,1,1,1,1",
        # A delivery the kill cuts short stays leased for 3 timeouts + 5 s: 11 s here.
        "EMBED_OAUTH_WEBHOOK_TIMEOUT_SECONDS": "2",
    }
    org = create_organisation(env)
    oauth_client = provider.provider.register(f"{base}/oauth2/callback/{org['organisationId']}")
    headers = {"Authorization": f"Bearer {org['apiKey']}"}
    receiver.statuses = [500]  # down while the events happen
    process = start_server(env, port, new_session=True)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            hook = client.post("/webhooks", json={"url": receiver.url}).json()
            ids = provision(client, provider.provider, oauth_client, org["organisationId"])
            for n in range(3):
                grant = consent(ids.authorize_url(client, provider.provider), "allow")
                created = client.post(
                    f"/hubs/{ids.hub_id}/users/u-{n}/connections",
                    json={"connectorId": ids.connector_id, **grant},
                )
                assert created.status_code == 201, created.text
        receiver.wait_for(3)  # each event tried at least once, and failed
    finally:
        os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        process.wait()
    receiver.statuses = [200]
    failed_ids = {r.headers["webhook-id"] for r in receiver.received}
    with serving(env, port), httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for _ in range(200):  # up to 40 s: first a lease of the killed worker runs out
            items = client.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
            if len(items) == 3 and all(d["status"] == "succeeded" for d in items):
                break
            time.sleep(0.2)
    assert [d["status"] for d in items] == ["succeeded"] * 3
    delivered = {
        r.headers["webhook-id"] for r in receiver.received if r.headers["webhook-id"] in failed_ids
    }
    assert len(failed_ids) == 3
    assert delivered == failed_ids == {d["eventId"] for d in items}


EVENTS = 200


@needs_postgres
async def test_two_instances_on_one_postgresql_database_deliver_each_event_exactly_once(
    fresh_postgres_database: str, receiver: Receiver
) -> None:
    first_port, second_port = free_port(), free_port()
    env = {
        "EMBED_OAUTH_DATABASE_URL": fresh_postgres_database,
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": f"http://127.0.0.1:{first_port}",
    }
    run_cli(env, "db", "upgrade")
    org = create_organisation(env)
    headers = {"Authorization": f"Bearer {org['apiKey']}"}
    with serving(env, first_port) as first, serving(env, second_port):
        async with httpx.AsyncClient(base_url=first, headers=headers) as client:
            hook = (await client.post("/webhooks", json={"url": receiver.url})).json()
        backend = open_backend(fresh_postgres_database)
        try:
            now = datetime.now(UTC)
            for n in range(EVENTS):  # as many changes announce themselves, 20 connections'
                event = WebhookEvent(
                    id=str(uuid.uuid4()),
                    organisation_id=org["organisationId"],
                    type="connection.created",
                    connection_id=f"01900000-0000-7000-8000-{n % 20:012d}",
                    body=b'{"type": "connection.created", "n": %d}' % n,
                    created_at=now,
                )
                await backend.storage.outbox.add(event, [(str(uuid.uuid4()), hook["id"])], now)
        finally:
            await backend.close()
        await asyncio.to_thread(receiver.wait_for, EVENTS, 60)
        await asyncio.sleep(3)  # time for any duplicate to arrive
    sent = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sent) == EVENTS
    assert set(sent.values()) == {1}
    numbers: dict[int, list[int]] = {}
    for r in receiver.received:  # each connection's events arrived in the order they happened
        n = int(r.body.split(b'"n": ')[1].rstrip(b"}"))
        numbers.setdefault(n % 20, []).append(n)
    assert all(ns == sorted(ns) for ns in numbers.values())
