"""The real clock and the operating system's CSPRNG."""

import os
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SecureRandom:
    def token_bytes(self, size: int) -> bytes:
        return os.urandom(size)  # what secrets.token_bytes returns, without its two layers
