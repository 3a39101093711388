"""The real clock and the operating system's CSPRNG."""

import secrets
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SecureRandom:
    def token_bytes(self, size: int) -> bytes:
        return secrets.token_bytes(size)
