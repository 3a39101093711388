"""Time and randomness, passed in so that the rules that use them can be tested exactly."""

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class RandomSource(Protocol):
    def token_bytes(self, size: int) -> bytes:
        """``size`` bytes from a cryptographically secure generator."""
        ...
