"""Delivering webhook events: claimed from the outbox by every instance, signed, sent, and
retried on the configured schedule."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.ports.crypto import SecretCipher
from application.ports.storage import ClaimedDelivery, Outbox
from application.ports.system import Clock, RandomSource
from application.ports.webhooks import WebhookSender
from application.webhooks import previous_secret_context, secret_context
from domain.model import DeliveryStatus
from domain.webhooks import retry_delay, signature_header

BATCH = 50


@dataclass(frozen=True, slots=True)
class DeliveryRound:
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    oldest_pending: datetime | None = None

    def __bool__(self) -> bool:
        """Whether the round sent anything."""
        return bool(self.succeeded or self.retrying or self.failed)


class DeliverWebhooks:
    """One round of the delivery worker.

    Rules: a delivery is sent when it is due and is the oldest pending one of its webhook
    and connection (events of a connection reach an endpoint in order); it is leased to
    this worker while it is sent, so instances never send it at once; it is signed with the
    webhook's secret (and the previous one while it still signs); any 2xx within the timeout
    is a success, anything else is retried after the schedule's next delay (with jitter),
    and once the schedule is spent the delivery is ``failed``. The round's deliveries are
    sent concurrently: a slow or failing endpoint holds up no other.
    """

    def __init__(
        self,
        *,
        outbox: Outbox,
        sender: WebhookSender,
        cipher: SecretCipher,
        clock: Clock,
        random: RandomSource,
        schedule: Sequence[int],
        lease: timedelta,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._cipher = cipher
        self._clock = clock
        self._random = random
        self._schedule = tuple(schedule)
        self._lease = lease

    async def __call__(self) -> DeliveryRound:
        now = self._clock.now()
        holder = self._random.token_bytes(16).hex()
        claimed = await self._outbox.claim(now, now + self._lease, holder, BATCH)
        outcomes = await asyncio.gather(*(self._deliver(d, holder) for d in claimed))
        return DeliveryRound(
            succeeded=outcomes.count(DeliveryStatus.SUCCEEDED),
            retrying=outcomes.count(DeliveryStatus.PENDING),
            failed=outcomes.count(DeliveryStatus.FAILED),
            oldest_pending=await self._outbox.oldest_pending(),
        )

    def _secrets(self, delivery: ClaimedDelivery, now: datetime) -> list[str]:
        secrets = [
            self._cipher.decrypt(
                delivery.sealed_secret, context=secret_context(delivery.webhook_id)
            )
        ]
        until = delivery.previous_secret_until
        if delivery.sealed_previous_secret and until is not None and now < until:
            secrets.append(
                self._cipher.decrypt(
                    delivery.sealed_previous_secret,
                    context=previous_secret_context(delivery.webhook_id),
                )
            )
        return secrets

    async def _deliver(self, delivery: ClaimedDelivery, holder: str) -> DeliveryStatus:
        now = self._clock.now()
        timestamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                self._secrets(delivery, now), delivery.event_id, timestamp, delivery.body
            ),
        }
        result = await self._sender.send(delivery.url, headers, delivery.body)
        attempted = self._clock.now()
        if result.status is not None and 200 <= result.status < 300:
            status, next_at, error = DeliveryStatus.SUCCEEDED, None, None
        else:
            jitter = int.from_bytes(self._random.token_bytes(2), "big") / 65536
            delay = retry_delay(self._schedule, delivery.attempts + 1, jitter)
            status = DeliveryStatus.FAILED if delay is None else DeliveryStatus.PENDING
            next_at = None if delay is None else attempted + delay
            error = result.error or (f"HTTP {result.status}: {result.excerpt}".strip(": "))
        await self._outbox.record_attempt(
            delivery.delivery_id,
            holder,
            status=status,
            attempted_at=attempted,
            status_code=result.status,
            error=error,
            next_attempt_at=next_at,
        )
        return status
