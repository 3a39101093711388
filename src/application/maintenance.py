"""Removing rows that can no longer matter."""

from dataclasses import dataclass

from application.ports.storage import ConnectSessionRepository, RefreshLock, UsedStateRepository
from application.ports.system import Clock


@dataclass(frozen=True, slots=True)
class Purged:
    used_states: int
    refresh_locks: int
    connect_sessions: int


class PurgeExpired:
    """Delete used-state records past their state's expiry (such a state is refused as
    expired anyway), refresh locks whose lease has run out, and expired connect sessions.
    Each delete is idempotent and keyed on time alone, so every instance may run this at
    once."""

    def __init__(
        self,
        used_states: UsedStateRepository,
        locks: RefreshLock,
        sessions: ConnectSessionRepository,
        clock: Clock,
    ) -> None:
        self._used_states = used_states
        self._locks = locks
        self._sessions = sessions
        self._clock = clock

    async def __call__(self) -> Purged:
        now = self._clock.now()
        return Purged(
            used_states=await self._used_states.delete_expired(now),
            refresh_locks=await self._locks.delete_expired(now),
            connect_sessions=await self._sessions.delete_expired(now),
        )
