"""Removing rows that can no longer matter."""

from dataclasses import dataclass
from datetime import timedelta

from application.ports.storage import (
    ConnectSessionRepository,
    Outbox,
    RefreshLock,
    UsedStateRepository,
)
from application.ports.system import Clock


@dataclass(frozen=True, slots=True)
class Purged:
    used_states: int
    refresh_locks: int
    connect_sessions: int
    webhook_deliveries: int


class PurgeExpired:
    """Delete used-state records past their state's expiry (such a state is refused as
    expired anyway), refresh locks whose lease has run out, expired connect sessions, and
    webhook deliveries that ended (succeeded or failed) longer ago than the retention.
    Each delete is idempotent and keyed on time alone, so every instance may run this at
    once."""

    def __init__(
        self,
        *,
        used_states: UsedStateRepository,
        locks: RefreshLock,
        sessions: ConnectSessionRepository,
        outbox: Outbox,
        clock: Clock,
        delivery_retention: timedelta,
    ) -> None:
        self._used_states = used_states
        self._locks = locks
        self._sessions = sessions
        self._outbox = outbox
        self._delivery_retention = delivery_retention
        self._clock = clock

    async def __call__(self) -> Purged:
        now = self._clock.now()
        return Purged(
            used_states=await self._used_states.delete_expired(now),
            refresh_locks=await self._locks.delete_expired(now),
            connect_sessions=await self._sessions.delete_expired(now),
            webhook_deliveries=await self._outbox.forget_finished(now - self._delivery_retention),
        )
