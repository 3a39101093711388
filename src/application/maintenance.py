"""Removing rows that can no longer matter."""

from dataclasses import dataclass

from application.ports.storage import RefreshLock, UsedStateRepository
from application.ports.system import Clock


@dataclass(frozen=True, slots=True)
class Purged:
    used_states: int
    refresh_locks: int


class PurgeExpired:
    """Delete used-state records past their state's expiry (such a state is refused as
    expired anyway) and refresh locks whose lease has run out. Each delete is idempotent and
    keyed on time alone, so every instance may run this at once."""

    def __init__(self, used_states: UsedStateRepository, locks: RefreshLock, clock: Clock) -> None:
        self._used_states = used_states
        self._locks = locks
        self._clock = clock

    async def __call__(self) -> Purged:
        now = self._clock.now()
        return Purged(
            used_states=await self._used_states.delete_expired(now),
            refresh_locks=await self._locks.delete_expired(now),
        )
