"""Webhooks end to end: a real receiver on loopback, the tests' real authorization server,
and every delivery verified with the Standard Webhooks reference library."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import SQL_BACKENDS
from tests.e2e.test_oauth_flow import Flow, consent, running_flow, running_provider
from tests.support.oauth_provider import RunningProvider
from tests.support.webhook_receiver import Received, Receiver, RunningReceiver

__all__ = ["running_provider"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = RunningReceiver()
    yield running.receiver
    running.stop()


@pytest.fixture(params=SQL_BACKENDS)
async def hooked(
    request: pytest.FixtureRequest, running_provider: RunningProvider, tmp_path: Path
) -> AsyncIterator[Flow]:
    """The application with its delivery worker polling every second and retrying after
    1 s, then 1 s, then giving up."""
    async with running_flow(
        request.param, tmp_path, running_provider, webhook_retry_seconds=(1, 1)
    ) as flow:
        yield flow


async def register(flow: Flow, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    response = await flow.post("/webhooks", {"url": receiver.url, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def connected(flow: Flow) -> tuple[dict[str, str], dict[str, Any]]:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    created = await flow.connect(ids, returned["code"], returned["state"])
    assert created.status_code == 201, created.text
    return ids, dict(created.json())


async def arrived(receiver: Receiver, count: int) -> list[Received]:
    return await asyncio.to_thread(receiver.wait_for, count)


def verified(secret: str, delivery: Received) -> dict[str, Any]:
    return dict(Verifier(secret).verify(delivery.body, delivery.headers))


async def test_a_connections_life_is_announced_in_order_and_every_delivery_verifies(
    hooked: Flow, receiver: Receiver
) -> None:
    flow = hooked
    flow.provider.expires_in = 4  # refreshed when 2 s are left: real time, real timestamps
    secret = (await register(flow, receiver))["secret"]
    _, connection = await connected(flow)
    token_path = f"/connections/{connection['id']}/access-token"

    flow.provider.refresh_faults = [(500, {})]  # the next refresh fails, the one after works
    await asyncio.sleep(2.2)
    still_valid = await flow.client.post(token_path, headers=flow.auth)
    assert still_valid.status_code == 200, still_valid.text
    await asyncio.sleep(1.1)  # the backoff after one failure
    assert (await flow.client.post(token_path, headers=flow.auth)).status_code == 200
    flow.provider.revoke_all_tokens()  # a forced invalid_grant at the next refresh
    await asyncio.sleep(2.2)
    refused = await flow.client.post(token_path, headers=flow.auth)
    assert refused.json()["code"] == "reauthorisation_required", refused.text
    deleted = await flow.client.delete(f"/connections/{connection['id']}", headers=flow.auth)
    assert deleted.status_code == 204

    deliveries = await arrived(receiver, 5)
    events = [verified(secret, d) for d in deliveries]
    assert [e["type"] for e in events] == [
        "connection.created",
        "connection.refresh_failed",
        "connection.recovered",
        "connection.reauthorisation_required",
        "connection.deleted",
    ]
    assert {e["data"]["connection"]["id"] for e in events} == {connection["id"]}
    assert events[0]["data"]["connection"] == connection
    assert events[3]["data"]["connection"]["statusReason"] == "invalid_grant"
    assert len({d.headers["webhook-id"] for d in deliveries}) == 5
    issued = [t.access_token for t in flow.provider.tokens.values()]
    issued += [t.refresh_token or "" for t in flow.provider.tokens.values()]
    for delivery in deliveries:  # no token, code, state or secret in any of them
        assert not any(token and token.encode() in delivery.body for token in issued)
        assert secret.encode() not in delivery.body
        assert b"state" not in delivery.body

    tampered = Received(deliveries[0].headers, deliveries[0].body.replace(b"active", b"xctive"))
    with pytest.raises(WebhookVerificationError):
        verified(secret, tampered)
    old = dict(deliveries[0].headers, **{"webhook-timestamp": str(int(time.time()) - 3600)})
    with pytest.raises(WebhookVerificationError):
        verified(secret, Received(old, deliveries[0].body))


async def test_a_receiver_failing_twice_gets_the_same_delivery_three_times(
    hooked: Flow, receiver: Receiver
) -> None:
    flow = hooked
    receiver.statuses = [500, 500, 200]
    webhook = await register(flow, receiver, events=["connection.created"])
    await connected(flow)
    attempts = await arrived(receiver, 3)
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    for attempt in attempts:
        assert verified(webhook["secret"], attempt)["type"] == "connection.created"
    listed = await flow.client.get(f"/webhooks/{webhook['id']}/deliveries", headers=flow.auth)
    (delivery,) = listed.json()["items"]
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 3
    assert delivery["lastStatusCode"] == 200
    assert delivery["eventId"] == attempts[0].headers["webhook-id"]
    assert listed.json()["next"] is None
    # The round's outcomes are counted when the round ends, just after the row is written.
    for _ in range(50):
        metrics = (await flow.client.get("/metrics")).text
        counts = {
            line.split("{", 1)[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("embed_oauth_webhook_deliveries_total{")
        }
        if counts.get('outcome="succeeded"', 0) >= 1:
            break
        await asyncio.sleep(0.1)
    assert counts['outcome="retrying"'] >= 2
    assert counts['outcome="succeeded"'] >= 1
    assert "embed_oauth_webhook_queue_age_seconds" in metrics


async def test_a_receiver_that_keeps_failing_ends_failed_and_can_be_retried(
    hooked: Flow, receiver: Receiver
) -> None:
    flow = hooked
    receiver.statuses = [503]
    webhook = await register(flow, receiver)
    await connected(flow)
    await arrived(receiver, 3)  # the first attempt and the schedule's two retries
    path = f"/webhooks/{webhook['id']}/deliveries"
    for _ in range(50):
        (delivery,) = (await flow.client.get(path, headers=flow.auth)).json()["items"]
        if delivery["status"] == "failed":
            break
        await asyncio.sleep(0.1)
    assert delivery["status"] == "failed"
    assert delivery["lastError"] == "HTTP 503: receiver trouble"
    receiver.statuses = [200]
    retried = await flow.client.post(f"{path}/{delivery['id']}/retry", headers=flow.auth)
    assert retried.status_code == 202
    await arrived(receiver, 4)
    for _ in range(50):
        (delivery,) = (await flow.client.get(path, headers=flow.auth)).json()["items"]
        if delivery["status"] == "succeeded":
            break
        await asyncio.sleep(0.1)
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 4)


async def test_after_a_rotation_each_of_both_signatures_verifies(
    hooked: Flow, receiver: Receiver
) -> None:
    flow = hooked
    webhook = await register(flow, receiver)
    rotated = await flow.client.post(f"/webhooks/{webhook['id']}/rotate-secret", headers=flow.auth)
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    await connected(flow)
    (delivery,) = await arrived(receiver, 1)
    signatures = delivery.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret, signature in zip((new_secret, webhook["secret"]), signatures, strict=True):
        alone = dict(delivery.headers, **{"webhook-signature": signature})
        assert verified(secret, Received(alone, delivery.body))["type"] == "connection.created"
        other = new_secret if secret != new_secret else webhook["secret"]
        with pytest.raises(WebhookVerificationError):
            verified(other, Received(alone, delivery.body))


async def test_a_slow_endpoint_holds_up_no_other_and_each_sees_events_in_order(
    hooked: Flow, receiver: Receiver
) -> None:
    flow = hooked
    slow_running = RunningReceiver()
    slow = slow_running.receiver
    slow.delay = 6.0  # answers within the 10-s timeout, but late
    try:
        await register(flow, slow)
        fast_hook = await register(flow, receiver)
        _, connection = await connected(flow)
        await asyncio.to_thread(slow.wait_for, 1)
        deleted = await flow.client.delete(f"/connections/{connection['id']}", headers=flow.auth)
        assert deleted.status_code == 204
        started = time.monotonic()
        fast = await arrived(receiver, 2)  # both events, while the slow one is still answering
        assert time.monotonic() - started < 4
        assert len(slow.received) == 1  # its second event waits for its first: in order
        assert [verified(fast_hook["secret"], d)["type"] for d in fast] == [
            "connection.created",
            "connection.deleted",
        ]
        in_order = await asyncio.to_thread(slow.wait_for, 2, 20)
        assert [json.loads(d.body)["type"] for d in in_order] == [
            "connection.created",
            "connection.deleted",
        ]
    finally:
        slow_running.stop()
