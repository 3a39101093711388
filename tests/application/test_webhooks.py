"""Webhooks through the use cases, over the in-memory fakes: which changes announce which
events, registration rules, and the delivery worker's retries, failures and signatures."""

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook as Verifier

from application.callers import Caller
from application.errors import NotFound, ProviderUnavailable
from application.ports.provider import TokenEndpointAnswer
from application.webhook_delivery import DeliverWebhooks
from application.webhooks import NewWebhook
from domain.errors import InvalidInput
from domain.model import Delivery, DeliveryStatus
from domain.webhooks import EventType
from tests.application.conftest import Tenant, World, ok
from tests.application.test_end_users import connect, state_for
from tests.fakes import RecordingWebhookSender, ReversingCipher

ALL = [e.value for e in EventType]


async def subscribed(world: World, t: Tenant, events: list[str] | None = None) -> str:
    created = await world.services.webhooks.create(
        t.organisation_id, NewWebhook(url="https://hooks.example/in", events=events)
    )
    return created.secret


def worker(
    world: World, sender: RecordingWebhookSender, schedule: tuple[int, ...] = (5, 30)
) -> DeliverWebhooks:
    return DeliverWebhooks(
        outbox=world.storage.outbox,
        sender=sender,
        cipher=ReversingCipher(),  # the cipher the application tests' wiring uses
        clock=world.clock,
        random=world.random,
        schedule=schedule,
        lease=timedelta(seconds=35),
    )


async def settled(deliver: DeliverWebhooks) -> None:
    """One round, and the sends it started."""
    await deliver()
    await deliver.settle()


async def delivered_types(world: World) -> list[str]:
    sender = RecordingWebhookSender()
    await settled(worker(world, sender))
    return [json.loads(body)["type"] for _, _, body in sender.sent]


async def connected(world: World, t: Tenant, expires_in: int = 3600) -> str:
    world.endpoint.answers = [ok(expires_in=expires_in)]
    state = await state_for(world, t, Caller(t.organisation_id))
    return (await world.services.create_connection(connect(t, Caller(t.organisation_id), state))).id


async def test_creating_reconnecting_and_deleting_a_connection_announce_themselves(
    world: World,
) -> None:
    t = await world.tenant("acme")
    await subscribed(world, t)
    connection_id = await connected(world, t)
    assert await delivered_types(world) == ["connection.created"]
    state = await state_for(world, t, Caller(t.organisation_id), connection_id=connection_id)
    await world.services.create_connection(connect(t, Caller(t.organisation_id), state))
    assert await delivered_types(world) == ["connection.reconnected"]
    await world.services.connections.delete(Caller(t.organisation_id), connection_id)
    assert await delivered_types(world) == ["connection.deleted"]


async def test_refresh_trouble_is_announced_once_per_run_and_recovery_once(world: World) -> None:
    t = await world.tenant("acme")
    await subscribed(world, t)
    connection_id = await connected(world, t, expires_in=30)
    await delivered_types(world)
    access = world.services.access_token
    world.endpoint.answers = [TokenEndpointAnswer(500, None)]
    for _ in range(3):  # three failed refreshes in a row, each after the backoff
        world.clock.advance(timedelta(seconds=20))
        with contextlib.suppress(ProviderUnavailable):  # once the token has expired
            await access(t.organisation_id, connection_id)
    refreshes = [r for r in world.endpoint.requests if ("grant_type", "refresh_token") in r.form]
    assert len(refreshes) == 3
    assert await delivered_types(world) == ["connection.refresh_failed"]
    world.endpoint.answers = [ok("at-2", "rt-2", expires_in=30)]
    world.clock.advance(timedelta(seconds=5))
    assert (await access(t.organisation_id, connection_id)).access_token == "at-2"
    assert await delivered_types(world) == ["connection.recovered"]
    world.endpoint.answers = [TokenEndpointAnswer(400, {"error": "invalid_grant"})]
    world.clock.advance(timedelta(seconds=20))
    with pytest.raises(Exception, match="connect again"):
        await access(t.organisation_id, connection_id)
    assert await delivered_types(world) == ["connection.reauthorisation_required"]


async def test_events_go_only_to_webhooks_that_subscribed(world: World) -> None:
    t, other = await world.tenant("acme"), await world.tenant("other")
    await subscribed(world, t, ["connection.deleted"])
    await subscribed(world, other)
    connection_id = await connected(world, t)
    assert await delivered_types(world) == []
    await world.services.connections.delete(Caller(t.organisation_id), connection_id)
    assert await delivered_types(world) == ["connection.deleted"]


async def test_a_failed_announcement_leaves_no_connection_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await world.tenant("acme")
    await subscribed(world, t)
    world.endpoint.answers = [ok()]
    state = await state_for(world, t, Caller(t.organisation_id))

    async def refuse(*_: object) -> None:
        raise RuntimeError("the outbox is full")

    monkeypatch.setattr(world.storage.outbox, "add", refuse)
    with pytest.raises(RuntimeError):
        await world.services.create_connection(connect(t, Caller(t.organisation_id), state))
    assert await world.storage.connections.list_for_user(t.organisation_id, t.hub.id, "u-1") == []


async def test_registration_rules(world: World) -> None:
    t = await world.tenant("acme")
    webhooks = world.services.webhooks
    created = await webhooks.create(t.organisation_id, NewWebhook("https://hooks.example/in"))
    assert created.secret.startswith("whsec_")
    assert sorted(created.webhook.events) == sorted(ALL)
    assert created.secret not in created.webhook.sealed_secret
    for new, field in [
        (NewWebhook("http://hooks.example/in"), "url"),
        (NewWebhook("https://refused.example/in"), "url"),
        (NewWebhook("https://hooks.example/in", events=["connection.exploded"]), "events[0]"),
        (NewWebhook("https://hooks.example/in", events=[]), "events"),
        (NewWebhook("https://hooks.example/in", description="a\x00b"), "description"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await webhooks.create(t.organisation_id, new)
        assert [f.field for f in caught.value.fields] == [field]
    with pytest.raises(NotFound):
        await webhooks.get((await world.tenant("other")).organisation_id, created.webhook.id)


async def test_a_delivery_is_retried_on_the_schedule_then_fails(world: World) -> None:
    t = await world.tenant("acme")
    await subscribed(world, t)
    await connected(world, t)
    webhook = (await world.services.webhooks.list(t.organisation_id))[0]

    async def the_delivery() -> Delivery:
        page = await world.services.webhooks.deliveries(t.organisation_id, webhook.id, None, None)
        (delivery,) = page.items
        return delivery

    sender = RecordingWebhookSender([500])
    deliver = worker(world, sender, schedule=(5, 30))
    await settled(deliver)
    first = await the_delivery()
    assert (first.status, first.attempts, first.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    assert first.next_attempt_at is not None
    assert timedelta(seconds=4) <= first.next_attempt_at - world.clock.now() <= timedelta(seconds=6)
    await settled(deliver)
    assert len(sender.sent) == 1  # not due before its delay
    world.clock.advance(timedelta(seconds=6))  # 5 s ± 20 %
    await settled(deliver)
    assert (await the_delivery()).attempts == 2
    world.clock.advance(timedelta(seconds=36))
    await settled(deliver)
    failed = await the_delivery()
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (
        DeliveryStatus.FAILED, 3, None
    )  # fmt: skip
    assert len(sender.sent) == 3
    assert len({headers["webhook-id"] for _, headers, _ in sender.sent}) == 1
    report = await deliver()  # what finished since the round before
    assert (report.started, report.failed, report.retrying) == (0, 1, 0)

    await world.services.webhooks.retry(t.organisation_id, webhook.id, failed.id)
    sender.statuses = [204]
    await settled(deliver)
    assert (await the_delivery()).status is DeliveryStatus.SUCCEEDED
    assert (await deliver()).succeeded == 1


async def test_after_a_rotation_both_secrets_sign_for_a_day(world: World) -> None:
    t = await world.tenant("acme")
    old = await subscribed(world, t)
    webhook = (await world.services.webhooks.list(t.organisation_id))[0]
    new = await world.services.webhooks.rotate_secret(t.organisation_id, webhook.id)
    assert new != old
    await connected(world, t)
    sender = RecordingWebhookSender()
    await settled(worker(world, sender))
    (_, headers, body) = sender.sent[-1]
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    for secret, signature in zip((new, old), signatures, strict=True):
        # The reference library's own signature (its verify() would refuse the test clock's
        # timestamp as too old; the end-to-end tests verify deliveries with real clocks).
        expected = Verifier(secret).sign(headers["webhook-id"], sent_at, body.decode())
        assert signature == expected
    world.clock.advance(timedelta(hours=24, seconds=1))
    await world.services.connections.delete(Caller(t.organisation_id), (await connected(world, t)))
    sender.sent.clear()
    await settled(worker(world, sender))
    assert all(len(h["webhook-signature"].split(" ")) == 1 for _, h, _ in sender.sent)
