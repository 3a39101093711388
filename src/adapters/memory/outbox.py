"""Webhooks and the outbox in memory, with the SQL adapters' semantics (the contract suite
runs against both)."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from application.errors import DuplicateKey
from application.ports.storage import ClaimedDelivery
from domain.model import Delivery, DeliveryStatus, Webhook, WebhookEvent


class InMemoryWebhookRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Webhook] = {}

    async def add(self, webhook: Webhook) -> None:
        if webhook.id in self.rows:
            raise DuplicateKey(webhook.id)
        self.rows[webhook.id] = webhook

    async def get(self, organisation_id: str, webhook_id: str) -> Webhook | None:
        row = self.rows.get(webhook_id)
        return row if row and row.organisation_id == organisation_id else None

    async def subscribed(self, organisation_id: str, event_type: str) -> list[Webhook]:
        return [w for w in await self.list(organisation_id) if event_type in w.events]

    async def list(self, organisation_id: str) -> list[Webhook]:
        rows = [r for r in self.rows.values() if r.organisation_id == organisation_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete(self, organisation_id: str, webhook_id: str) -> bool:
        if await self.get(organisation_id, webhook_id) is None:
            return False
        del self.rows[webhook_id]
        return True

    async def rotate_secret(
        self,
        organisation_id: str,
        webhook_id: str,
        *,
        sealed_secret: str,
        sealed_previous_secret: str,
        previous_secret_until: datetime,
    ) -> bool:
        row = await self.get(organisation_id, webhook_id)
        if row is None:
            return False
        self.rows[webhook_id] = replace(
            row,
            sealed_secret=sealed_secret,
            sealed_previous_secret=sealed_previous_secret,
            previous_secret_until=previous_secret_until,
        )
        return True


@dataclass
class _Row:
    seq: int
    delivery: Delivery
    connection_id: str
    lease_holder: str | None = None
    lease_until: datetime | None = None


class InMemoryOutbox:
    def __init__(self, webhooks: InMemoryWebhookRepository) -> None:
        self._webhooks = webhooks
        self.events: dict[str, WebhookEvent] = {}
        self.rows: dict[str, _Row] = {}  # by delivery id
        self.sequence = 0

    def _live(self) -> list[_Row]:
        """Deliveries of webhooks that still exist (the SQL schema cascades)."""
        return [r for r in self.rows.values() if r.delivery.webhook_id in self._webhooks.rows]

    async def add(
        self, event: WebhookEvent, deliveries: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        if event.id in self.events or any(d in self.rows for d, _ in deliveries):
            raise DuplicateKey(event.id)
        self.events[event.id] = event
        for delivery_id, webhook_id in deliveries:
            self.sequence += 1
            self.rows[delivery_id] = _Row(
                seq=self.sequence,
                connection_id=event.connection_id,
                delivery=Delivery(
                    id=delivery_id,
                    webhook_id=webhook_id,
                    event_id=event.id,
                    type=event.type,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                ),
            )

    async def claim(
        self, now: datetime, lease_until: datetime, holder: str, limit: int
    ) -> list[ClaimedDelivery]:
        pending = sorted(
            (r for r in self._live() if r.delivery.status is DeliveryStatus.PENDING),
            key=lambda r: r.seq,
        )
        heads: dict[tuple[str, str], _Row] = {}
        for row in pending:
            heads.setdefault((row.delivery.webhook_id, row.connection_id), row)
        claimed: list[ClaimedDelivery] = []
        for row in sorted(heads.values(), key=lambda r: r.seq):
            due = row.delivery.next_attempt_at
            if len(claimed) == limit or (due is not None and due > now):
                continue
            if row.lease_until is not None and row.lease_until > now:
                continue
            row.lease_holder, row.lease_until = holder, lease_until
            webhook = self._webhooks.rows[row.delivery.webhook_id]
            event = self.events[row.delivery.event_id]
            claimed.append(
                ClaimedDelivery(
                    delivery_id=row.delivery.id,
                    attempts=row.delivery.attempts,
                    webhook_id=webhook.id,
                    organisation_id=webhook.organisation_id,
                    url=webhook.url,
                    seal=webhook.seal,
                    sealed_secret=webhook.sealed_secret,
                    sealed_previous_secret=webhook.sealed_previous_secret,
                    previous_secret_until=webhook.previous_secret_until,
                    event_id=event.id,
                    body=event.body,
                    event_created_at=event.created_at,
                )
            )
        return claimed

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
        row = self.rows.get(delivery_id)
        if row is None or row.lease_holder != holder:
            return False
        row.delivery = replace(
            row.delivery,
            status=status,
            attempts=row.delivery.attempts + 1,
            last_attempt_at=attempted_at,
            last_status_code=status_code,
            last_error=error,
            next_attempt_at=next_attempt_at,
        )
        row.lease_holder = row.lease_until = None
        return True

    async def deliveries(
        self, webhook_id: str, limit: int, after: str | None = None
    ) -> tuple[list[Delivery], bool]:
        rows = sorted(
            (r for r in self._live() if r.delivery.webhook_id == webhook_id),
            key=lambda r: -r.seq,
        )
        if after is not None:
            start = self.rows.get(after)
            if start is None or start.delivery.webhook_id != webhook_id:
                return [], False
            rows = [r for r in rows if r.seq < start.seq]
        return [r.delivery for r in rows[:limit]], len(rows) > limit

    async def retry_now(self, webhook_id: str, delivery_id: str, now: datetime) -> bool:
        row = self.rows.get(delivery_id)
        if (
            row is None
            or row.delivery.webhook_id != webhook_id
            or row.delivery.status is not DeliveryStatus.FAILED
        ):
            return False
        row.delivery = replace(row.delivery, status=DeliveryStatus.PENDING, next_attempt_at=now)
        return True

    async def forget_finished(self, before: datetime) -> int:
        gone = [
            key
            for key, row in self.rows.items()
            if row.delivery.status is not DeliveryStatus.PENDING
            and row.delivery.last_attempt_at is not None
            and row.delivery.last_attempt_at < before
        ]
        for key in gone:
            del self.rows[key]
        kept = {row.delivery.event_id for row in self.rows.values()}
        for event_id, event in list(self.events.items()):
            if event.created_at < before and event_id not in kept:
                del self.events[event_id]
        return len(gone)

    async def oldest_pending(self) -> datetime | None:
        times = [
            self.events[r.delivery.event_id].created_at
            for r in self._live()
            if r.delivery.status is DeliveryStatus.PENDING
        ]
        return min(times, default=None)
