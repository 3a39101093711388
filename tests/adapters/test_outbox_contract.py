"""The webhook and outbox contract, for the in-memory fakes, SQLite and PostgreSQL."""

import asyncio
from datetime import timedelta

import pytest

from application.ports.storage import Storage
from domain.model import DeliveryStatus, Webhook, WebhookEvent
from tests.adapters.test_repository_contract import T0, connection, org, uid, world_of


def webhook(
    n: int, organisation_id: str, events: tuple[str, ...] = ("connection.created",)
) -> Webhook:
    return Webhook(
        id=uid(n),
        organisation_id=organisation_id,
        url=f"https://hooks.example/{n}",
        events=events,
        description=None,
        sealed_secret=f"v1.k.secret{n}",
        created_at=T0 + timedelta(seconds=n),
    )


def event(n: int, organisation_id: str, connection_id: str, at_seconds: int = 0) -> WebhookEvent:
    return WebhookEvent(
        id=uid(n),
        organisation_id=organisation_id,
        type="connection.created",
        connection_id=connection_id,
        body=b'{"n": %d}' % n,
        created_at=T0 + timedelta(seconds=at_seconds),
    )


async def test_webhooks_are_scoped_subscribed_and_rotated(storage: Storage) -> None:
    a, b = await org(storage, 1), await org(storage, 2)
    first = webhook(10, a, ("connection.created", "connection.deleted"))
    second = webhook(11, a, ("connection.deleted",))
    await storage.webhooks.add(first)
    await storage.webhooks.add(second)
    assert await storage.webhooks.get(a, first.id) == first
    assert await storage.webhooks.get(b, first.id) is None
    assert [w.id for w in await storage.webhooks.list(a)] == [first.id, second.id]
    assert [w.id for w in await storage.webhooks.subscribed(a, "connection.created")] == [first.id]
    assert len(await storage.webhooks.subscribed(a, "connection.deleted")) == 2
    until = T0 + timedelta(hours=24)
    assert not await storage.webhooks.rotate_secret(
        b, first.id, sealed_secret="x", sealed_previous_secret="y", previous_secret_until=until
    )
    assert await storage.webhooks.rotate_secret(
        a, first.id, sealed_secret="v1.k.new", sealed_previous_secret="v1.k.old",
        previous_secret_until=until,
    )  # fmt: skip
    rotated = await storage.webhooks.get(a, first.id)
    assert rotated is not None
    assert (rotated.sealed_secret, rotated.sealed_previous_secret) == ("v1.k.new", "v1.k.old")
    assert rotated.previous_secret_until == until
    assert not await storage.webhooks.delete(b, first.id)
    assert await storage.webhooks.delete(a, first.id)
    assert await storage.webhooks.get(a, first.id) is None


async def outbox_world(storage: Storage) -> tuple[str, Webhook, Webhook]:
    a = await org(storage, 1)
    one, two = webhook(10, a), webhook(11, a)
    await storage.webhooks.add(one)
    await storage.webhooks.add(two)
    return a, one, two


async def test_each_connection_reaches_each_endpoint_in_order(storage: Storage) -> None:
    a, one, two = await outbox_world(storage)
    await storage.outbox.add(event(20, a, "c-1"), [(uid(30), one.id), (uid(31), two.id)], T0)
    await storage.outbox.add(event(21, a, "c-1"), [(uid(32), one.id)], T0)
    await storage.outbox.add(event(22, a, "c-2"), [(uid(33), one.id)], T0)
    lease = T0 + timedelta(seconds=30)
    claimed = await storage.outbox.claim(T0, lease, "w1", 10)
    # The second event of c-1 waits for the first at the same endpoint.
    assert [c.delivery_id for c in claimed] == [uid(30), uid(31), uid(33)]
    first = claimed[0]
    assert (first.webhook_id, first.url, first.event_id, first.body) == (
        one.id, one.url, uid(20), b'{"n": 20}'
    )  # fmt: skip
    assert first.attempts == 0
    assert await storage.outbox.claim(T0, lease, "w2", 10) == []  # all leased or waiting
    assert not await storage.outbox.record_attempt(
        uid(30), "w2", status=DeliveryStatus.SUCCEEDED, attempted_at=T0, status_code=200,
        error=None, next_attempt_at=None,
    )  # fmt: skip
    assert await storage.outbox.record_attempt(
        uid(30), "w1", status=DeliveryStatus.SUCCEEDED, attempted_at=T0, status_code=200,
        error=None, next_attempt_at=None,
    )  # fmt: skip
    after = await storage.outbox.claim(T0, lease, "w2", 10)
    assert [c.delivery_id for c in after] == [uid(32)]


async def test_a_retry_waits_its_turn_and_an_expired_lease_is_claimed_again(
    storage: Storage,
) -> None:
    a, one, _ = await outbox_world(storage)
    await storage.outbox.add(event(20, a, "c-1"), [(uid(30), one.id)], T0)
    (claimed,) = await storage.outbox.claim(T0, T0 + timedelta(seconds=30), "w1", 10)
    later = T0 + timedelta(seconds=5)
    assert await storage.outbox.record_attempt(
        claimed.delivery_id, "w1", status=DeliveryStatus.PENDING, attempted_at=T0,
        status_code=500, error="HTTP 500: no", next_attempt_at=later,
    )  # fmt: skip
    assert await storage.outbox.claim(T0 + timedelta(seconds=4), later, "w2", 10) == []
    (again,) = await storage.outbox.claim(later, later + timedelta(seconds=30), "w2", 10)
    assert again.attempts == 1
    # w2 dies holding it: once the lease runs out, another worker takes it over.
    assert await storage.outbox.claim(later + timedelta(seconds=29), later, "w3", 10) == []
    (taken,) = await storage.outbox.claim(later + timedelta(seconds=30), later, "w3", 10)
    assert taken.delivery_id == again.delivery_id


async def test_racing_claims_never_share_a_delivery(storage: Storage) -> None:
    a, one, two = await outbox_world(storage)
    for n in range(40):
        await storage.outbox.add(
            event(100 + n, a, f"c-{n}"), [(uid(200 + n), one.id), (uid(300 + n), two.id)], T0
        )
    lease = T0 + timedelta(seconds=30)
    claims = await asyncio.gather(*(storage.outbox.claim(T0, lease, f"w{i}", 7) for i in range(12)))
    ids = [c.delivery_id for claim in claims for c in claim]
    assert len(ids) == len(set(ids)) == 80


async def test_deliveries_page_newest_first_and_failed_ones_can_be_retried(
    storage: Storage,
) -> None:
    a, one, two = await outbox_world(storage)
    for n in range(5):
        await storage.outbox.add(event(20 + n, a, f"c-{n}", n), [(uid(30 + n), one.id)], T0)
    await storage.outbox.add(event(40, a, "c-9"), [(uid(41), two.id)], T0)
    page, more = await storage.outbox.deliveries(one.id, 2)
    assert [d.id for d in page] == [uid(34), uid(33)]
    assert more
    page, more = await storage.outbox.deliveries(one.id, 2, after=uid(33))
    assert [d.id for d in page] == [uid(32), uid(31)]
    assert more
    page, more = await storage.outbox.deliveries(one.id, 2, after=uid(31))
    assert [d.id for d in page] == [uid(30)]
    assert not more
    assert page[0].type == "connection.created"
    assert page[0].status is DeliveryStatus.PENDING
    assert await storage.outbox.oldest_pending() == T0

    (claimed, *_) = await storage.outbox.claim(T0, T0 + timedelta(seconds=30), "w", 1)
    assert not await storage.outbox.retry_now(one.id, claimed.delivery_id, T0)  # not failed
    await storage.outbox.record_attempt(
        claimed.delivery_id, "w", status=DeliveryStatus.FAILED, attempted_at=T0,
        status_code=None, error="no answer within 10 s", next_attempt_at=None,
    )  # fmt: skip
    page, _ = await storage.outbox.deliveries(one.id, 10)
    failed = next(d for d in page if d.id == claimed.delivery_id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        DeliveryStatus.FAILED, 1, "no answer within 10 s"
    )  # fmt: skip
    assert not await storage.outbox.retry_now(two.id, claimed.delivery_id, T0)  # another webhook
    assert await storage.outbox.retry_now(one.id, claimed.delivery_id, T0)
    page, _ = await storage.outbox.deliveries(one.id, 10)
    assert next(d for d in page if d.id == claimed.delivery_id).status is DeliveryStatus.PENDING


async def test_deleting_a_webhook_deletes_its_deliveries(storage: Storage) -> None:
    a, one, two = await outbox_world(storage)
    await storage.outbox.add(event(20, a, "c-1"), [(uid(30), one.id), (uid(31), two.id)], T0)
    assert await storage.webhooks.delete(a, one.id)
    assert (await storage.outbox.deliveries(one.id, 10))[0] == []
    claimed = await storage.outbox.claim(T0, T0 + timedelta(seconds=30), "w", 10)
    assert [c.delivery_id for c in claimed] == [uid(31)]


async def test_an_event_is_committed_with_its_change_or_not_at_all(storage: Storage) -> None:
    ids = await world_of(storage)
    hook = webhook(60, ids[0])
    await storage.webhooks.add(hook)
    stored = connection(40, *ids)

    async def change_that_fails() -> None:
        async with storage.unit_of_work.begin() as tx:
            await tx.connections.add(stored)
            await tx.outbox.add(event(70, ids[0], stored.id), [(uid(71), hook.id)], T0)
            raise RuntimeError("the change fails after its event was written")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await storage.connections.get(ids[0], stored.id) is None
    assert (await storage.outbox.deliveries(hook.id, 10))[0] == []
    assert await storage.outbox.oldest_pending() is None
    async with storage.unit_of_work.begin() as tx:
        await tx.connections.add(stored)
        await tx.outbox.add(event(70, ids[0], stored.id), [(uid(71), hook.id)], T0)
    assert await storage.connections.get(ids[0], stored.id) is not None
    assert [d.id for d in (await storage.outbox.deliveries(hook.id, 10))[0]] == [uid(71)]


async def test_finished_deliveries_are_forgotten_after_the_retention_pending_ones_never(
    storage: Storage,
) -> None:
    a, one, _ = await outbox_world(storage)
    for n in range(3):
        await storage.outbox.add(event(20 + n, a, f"c-{n}"), [(uid(30 + n), one.id)], T0)
    claimed = await storage.outbox.claim(T0, T0 + timedelta(seconds=30), "w", 10)
    outcomes = [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.PENDING]
    for delivery, status in zip(claimed, outcomes, strict=True):
        await storage.outbox.record_attempt(
            delivery.delivery_id, "w", status=status, attempted_at=T0, status_code=500,
            error=None, next_attempt_at=None if status is not DeliveryStatus.PENDING else T0,
        )  # fmt: skip
    assert await storage.outbox.forget_finished(T0) == 0  # nothing ended before T0
    assert await storage.outbox.forget_finished(T0 + timedelta(seconds=1)) == 2
    left, _ = await storage.outbox.deliveries(one.id, 10)
    assert [d.id for d in left] == [uid(32)]  # the pending one stays, however old
    (again,) = await storage.outbox.claim(T0, T0 + timedelta(seconds=30), "w2", 10)
    assert again.body == b'{"n": 22}'  # and its event with it
