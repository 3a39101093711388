"""Announcing a change to the organisation's webhooks, inside the change's own transaction."""

from application.identity import new_id
from application.ports.storage import Storage
from application.ports.system import Clock, RandomSource
from application.ports.webhooks import EventEncoder
from domain.model import Connection, WebhookEvent
from domain.webhooks import EventType


class Announcer:
    """Writes an event and one pending delivery per subscribed webhook, through the storage
    of the unit of work the change is made in: committed with the change or not at all."""

    def __init__(self, encoder: EventEncoder, clock: Clock, random: RandomSource) -> None:
        self._encoder = encoder
        self._clock = clock
        self._random = random

    async def __call__(
        self,
        tx: Storage,
        event_type: EventType,
        connection: Connection,
        *,
        revoked: bool | None = None,
    ) -> None:
        """``revoked``: for ``connection.deleted``, whether the provider revoked its tokens
        (``None``: the connector has no revocation URL)."""
        webhooks = await tx.webhooks.subscribed(connection.organisation_id, event_type.value)
        if not webhooks:
            return
        event_id, now = new_id(self._clock, self._random)
        event = WebhookEvent(
            id=event_id,
            organisation_id=connection.organisation_id,
            type=event_type.value,
            connection_id=connection.id,
            body=self._encoder.encode(event_type.value, now, connection, revoked),
            created_at=now,
        )
        deliveries = [(new_id(self._clock, self._random)[0], w.id) for w in webhooks]
        await tx.outbox.add(event, deliveries, now)
