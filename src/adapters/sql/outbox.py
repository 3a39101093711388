"""Webhooks and the transactional outbox, in SQL.

Claiming is one ``UPDATE ... WHERE seq IN (SELECT ...) RETURNING``: on PostgreSQL the inner
select takes its rows ``FOR UPDATE SKIP LOCKED``, so instances claiming at once divide the
rows between them; on SQLite the statement runs under the database's single write lock. Either
way a claimed row carries a lease (holder and expiry), and is claimed again only once that
lease has run out (its worker died).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from adapters.sql import tables as t
from adapters.sql.database import SqlRepository
from application.ports.storage import ClaimedDelivery
from domain.model import Delivery, DeliveryStatus, Webhook, WebhookEvent

PENDING = DeliveryStatus.PENDING.value


def _webhook(row: sa.Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        organisation_id=row.organisation_id,
        url=row.url,
        events=tuple(row.events),
        description=row.description,
        sealed_secret=row.sealed_secret,
        created_at=row.created_at,
        sealed_previous_secret=row.sealed_previous_secret,
        previous_secret_until=row.previous_secret_until,
        seal=row.seal,
    )


class SqlWebhookRepository(SqlRepository):
    async def add(self, webhook: Webhook) -> None:
        await self._insert(
            t.webhooks,
            {
                "id": webhook.id,
                "organisation_id": webhook.organisation_id,
                "url": webhook.url,
                "events": list(webhook.events),
                "description": webhook.description,
                "sealed_secret": webhook.sealed_secret,
                "sealed_previous_secret": webhook.sealed_previous_secret,
                "previous_secret_until": webhook.previous_secret_until,
                "created_at": webhook.created_at,
                "seal": webhook.seal,
            },
        )

    async def get(self, organisation_id: str, webhook_id: str) -> Webhook | None:
        c = t.webhooks.c
        row = await self._one(
            sa.select(t.webhooks).where(c.id == webhook_id, c.organisation_id == organisation_id)
        )
        return _webhook(row) if row else None

    async def subscribed(self, organisation_id: str, event_type: str) -> list[Webhook]:
        """A handful of webhooks per organisation: filtered here rather than in JSON SQL,
        which SQLite and PostgreSQL spell differently."""
        return [w for w in await self.list(organisation_id) if event_type in w.events]

    async def list(self, organisation_id: str) -> list[Webhook]:
        c = t.webhooks.c
        rows = await self._all(
            sa.select(t.webhooks)
            .where(c.organisation_id == organisation_id)
            .order_by(c.created_at, c.id)
        )
        return [_webhook(row) for row in rows]

    async def delete(self, organisation_id: str, webhook_id: str) -> bool:
        c = t.webhooks.c
        deleted = await self._delete(
            t.webhooks.delete().where(c.id == webhook_id, c.organisation_id == organisation_id)
        )
        if deleted:
            await self._db.secrets_destroyed()
        return deleted

    async def rotate_secret(
        self,
        organisation_id: str,
        webhook_id: str,
        *,
        sealed_secret: str,
        sealed_previous_secret: str,
        previous_secret_until: datetime,
    ) -> bool:
        c = t.webhooks.c
        changed = await self._change(
            t.webhooks.update()
            .where(c.id == webhook_id, c.organisation_id == organisation_id)
            .values(
                sealed_secret=sealed_secret,
                sealed_previous_secret=sealed_previous_secret,
                previous_secret_until=previous_secret_until,
            )
        )
        return changed == 1


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        type=row.type,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
    )


class SqlOutbox(SqlRepository):
    async def add(
        self, event: WebhookEvent, deliveries: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                t.webhook_events.insert().values(
                    id=event.id,
                    organisation_id=event.organisation_id,
                    type=event.type,
                    connection_id=event.connection_id,
                    body=event.body,
                    created_at=event.created_at,
                )
            )
            if deliveries:
                await conn.execute(
                    t.webhook_deliveries.insert(),
                    [
                        {
                            "id": delivery_id,
                            "webhook_id": webhook_id,
                            "event_id": event.id,
                            "connection_id": event.connection_id,
                            "status": PENDING,
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for delivery_id, webhook_id in deliveries
                    ],
                )

    async def claim(
        self, now: datetime, lease_until: datetime, holder: str, limit: int
    ) -> list[ClaimedDelivery]:
        d = t.webhook_deliveries.alias("d")
        e = t.webhook_deliveries.alias("e")
        earlier_pending = (
            sa.select(sa.literal(1))
            .where(
                e.c.webhook_id == d.c.webhook_id,
                e.c.connection_id == d.c.connection_id,
                e.c.status == PENDING,
                e.c.seq < d.c.seq,
            )
            .exists()
        )
        async with self._db.write() as conn:
            due = (
                sa.select(d.c.seq)
                .where(
                    d.c.status == PENDING,
                    d.c.next_attempt_at <= now,
                    sa.or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
                    ~earlier_pending,
                )
                .order_by(d.c.seq)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True, of=d)
            deliveries = t.webhook_deliveries
            claimed = (
                (
                    await conn.execute(
                        deliveries.update()
                        .where(deliveries.c.seq.in_(due.scalar_subquery()))
                        .values(lease_holder=holder, lease_until=lease_until)
                        .returning(deliveries.c.seq)
                    )
                )
                .scalars()
                .all()
            )
            if not claimed:
                return []
            w, ev = t.webhooks, t.webhook_events
            rows = await conn.execute(
                sa.select(
                    deliveries.c.id,
                    deliveries.c.attempts,
                    w.c.id.label("webhook_id"),
                    w.c.organisation_id,
                    w.c.url,
                    w.c.seal,
                    w.c.sealed_secret,
                    w.c.sealed_previous_secret,
                    w.c.previous_secret_until,
                    ev.c.id.label("event_id"),
                    ev.c.body,
                    ev.c.created_at,
                )
                .select_from(
                    deliveries.join(w, w.c.id == deliveries.c.webhook_id).join(
                        ev, ev.c.id == deliveries.c.event_id
                    )
                )
                .where(deliveries.c.seq.in_(claimed))
                .order_by(deliveries.c.seq)
            )
            return [
                ClaimedDelivery(
                    delivery_id=row.id,
                    attempts=row.attempts,
                    webhook_id=row.webhook_id,
                    organisation_id=row.organisation_id,
                    url=row.url,
                    seal=row.seal,
                    sealed_secret=row.sealed_secret,
                    sealed_previous_secret=row.sealed_previous_secret,
                    previous_secret_until=row.previous_secret_until,
                    event_id=row.event_id,
                    body=bytes(row.body),
                    event_created_at=row.created_at,
                )
                for row in rows
            ]

    async def record_attempt(
        self,
        delivery_id: str,
        holder: str,
        *,
        status: DeliveryStatus,
        attempted_at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        c = t.webhook_deliveries.c
        changed = await self._change(
            t.webhook_deliveries.update()
            .where(c.id == delivery_id, c.lease_holder == holder)
            .values(
                status=status.value,
                attempts=c.attempts + 1,
                last_attempt_at=attempted_at,
                last_status_code=status_code,
                last_error=error,
                next_attempt_at=next_attempt_at,
                lease_holder=None,
                lease_until=None,
            )
        )
        return changed == 1

    def _listed(self) -> sa.Select[Any]:
        d, ev = t.webhook_deliveries, t.webhook_events
        return sa.select(
            d.c.id,
            d.c.webhook_id,
            d.c.event_id,
            ev.c.type,
            d.c.status,
            d.c.attempts,
            d.c.created_at,
            d.c.next_attempt_at,
            d.c.last_attempt_at,
            d.c.last_status_code,
            d.c.last_error,
        ).select_from(d.join(ev, ev.c.id == d.c.event_id))

    async def deliveries(
        self, webhook_id: str, limit: int, after: str | None = None
    ) -> tuple[list[Delivery], bool]:
        d = t.webhook_deliveries
        query = self._listed().where(d.c.webhook_id == webhook_id)
        if after is not None:
            before = sa.select(d.c.seq).where(d.c.id == after, d.c.webhook_id == webhook_id)
            query = query.where(d.c.seq < before.scalar_subquery())
        rows = await self._all(query.order_by(d.c.seq.desc()).limit(limit + 1))
        return [_delivery(row) for row in rows[:limit]], len(rows) > limit

    async def retry_now(self, webhook_id: str, delivery_id: str, now: datetime) -> bool:
        c = t.webhook_deliveries.c
        changed = await self._change(
            t.webhook_deliveries.update()
            .where(
                c.id == delivery_id,
                c.webhook_id == webhook_id,
                c.status == DeliveryStatus.FAILED.value,
            )
            .values(status=PENDING, next_attempt_at=now)
        )
        return changed == 1

    async def forget_finished(self, before: datetime) -> int:
        d, ev = t.webhook_deliveries, t.webhook_events
        async with self._db.write() as conn:
            deleted = (
                await conn.execute(
                    d.delete().where(d.c.status != PENDING, d.c.last_attempt_at < before)
                )
            ).rowcount
            left = sa.select(sa.literal(1)).where(d.c.event_id == ev.c.id).exists()
            await conn.execute(ev.delete().where(ev.c.created_at < before, ~left))
        return int(deleted)

    async def oldest_pending(self) -> datetime | None:
        d, ev = t.webhook_deliveries, t.webhook_events
        row = await self._one(
            sa.select(sa.func.min(ev.c.created_at).label("oldest"))
            .select_from(d.join(ev, ev.c.id == d.c.event_id))
            .where(d.c.status == PENDING)
        )
        value = row.oldest if row else None
        if not isinstance(value, datetime):
            return None
        # An aggregate's result bypasses the column type: SQLite answers a naive datetime.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
