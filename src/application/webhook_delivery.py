"""Delivering webhook events: claimed from the outbox by every instance, signed, sent, and
retried on the configured schedule."""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.errors import TamperedRecord
from application.integrity import RecordKind, check_fields, webhook_fields
from application.ports.crypto import SecretCipher
from application.ports.storage import ClaimedDelivery, Outbox
from application.ports.system import Clock, RandomSource
from application.ports.webhooks import SendResult, WebhookSender
from application.webhooks import previous_secret_context, secret_context
from domain.model import DeliveryStatus
from domain.webhooks import retry_delay, signature_header

IN_FLIGHT = 50  # deliveries one worker sends at once
log = logging.getLogger("embed_oauth.webhooks")


@dataclass(frozen=True, slots=True)
class DeliveryRound:
    """What a round started, what finished since the round before, and the queue's age."""

    started: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    oldest_pending: datetime | None = None

    def __bool__(self) -> bool:
        """Whether anything happened."""
        return bool(self.started or self.succeeded or self.retrying or self.failed)


class DeliverWebhooks:
    """The delivery worker: each round claims what is due and starts sending it.

    Rules: a delivery is sent when it is due and is the oldest pending one of its webhook
    and connection (events of a connection reach an endpoint in order); it is leased to
    this worker while it is sent, so instances never send it at once; it is signed with the
    webhook's secret (and the previous one while it still signs); any 2xx within the timeout
    is a success, anything else is retried after the schedule's next delay (with jitter),
    and once the schedule is spent the delivery is ``failed``. Sends run in the background,
    up to ``IN_FLIGHT`` at once, and the next round does not wait for them: an endpoint that
    is slow to answer holds up no other.
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
        self._in_flight: set[asyncio.Task[DeliveryStatus]] = set()
        self._finished: list[DeliveryStatus] = []

    async def __call__(self) -> DeliveryRound:
        room = IN_FLIGHT - len(self._in_flight)
        claimed: list[ClaimedDelivery] = []
        if room > 0:
            now = self._clock.now()
            holder = self._random.token_bytes(16).hex()
            claimed = await self._outbox.claim(now, now + self._lease, holder, room)
            for delivery in claimed:
                task = asyncio.create_task(self._deliver(delivery, holder))
                self._in_flight.add(task)
                task.add_done_callback(self._done)
        finished, self._finished = self._finished, []
        return DeliveryRound(
            started=len(claimed),
            succeeded=finished.count(DeliveryStatus.SUCCEEDED),
            retrying=finished.count(DeliveryStatus.PENDING),
            failed=finished.count(DeliveryStatus.FAILED),
            oldest_pending=await self._outbox.oldest_pending(),
        )

    async def settle(self) -> None:
        """Wait for the deliveries being sent."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def close(self) -> None:
        """At shutdown: stop sending. A delivery cut short keeps its lease until it runs
        out, then is sent again (by this instance after a restart, or another)."""
        for task in list(self._in_flight):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _done(self, task: "asyncio.Task[DeliveryStatus]") -> None:
        """A delivery that failed on our side (the database, say) keeps its lease until it
        runs out, and is sent again then."""
        self._in_flight.discard(task)
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.error("webhook delivery failed", exc_info=error)
            return
        self._finished.append(task.result())

    def _secrets(self, delivery: ClaimedDelivery, now: datetime) -> list[str]:
        webhook_id = delivery.webhook_id
        secrets = [self._cipher.decrypt(delivery.sealed_secret, context=secret_context(webhook_id))]
        until = delivery.previous_secret_until
        if delivery.sealed_previous_secret and until is not None and now < until:
            secrets.append(
                self._cipher.decrypt(
                    delivery.sealed_previous_secret, context=previous_secret_context(webhook_id)
                )
            )
        return secrets

    async def _send(self, delivery: ClaimedDelivery) -> SendResult:
        """Nothing is sent to a URL whose row fails its integrity check: that attempt fails,
        and later ones are tried on the schedule (an operator may restore the row)."""
        try:
            check_fields(
                self._cipher,
                RecordKind.WEBHOOK,
                webhook_fields(delivery.webhook_id, delivery.organisation_id, delivery.url),
                delivery.seal,
            )
        except TamperedRecord as exc:
            return SendResult(None, error=exc.message)
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
        return await self._sender.send(delivery.url, headers, delivery.body)

    async def _deliver(self, delivery: ClaimedDelivery, holder: str) -> DeliveryStatus:
        result = await self._send(delivery)
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
