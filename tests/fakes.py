"""Test doubles for the ports that are not storage (storage fakes live in adapters.memory)."""

import itertools
from datetime import UTC, datetime, timedelta

from application.ports.crypto import OpenedState, SealedState
from application.ports.webhooks import SendResult
from domain.state import StateClaims


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 28, 12, 0, 0, 250_000, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class CountingRandom:
    """Distinct, predictable bytes: each call returns the next counter value, repeated."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.requests: list[int] = []

    def token_bytes(self, size: int) -> bytes:
        self.requests.append(size)
        return (next(self._counter).to_bytes(4, "big") * size)[:size]


class DictStateSealer:
    """Remembers what it sealed; opens only what it sealed."""

    def __init__(self) -> None:
        self.sealed: dict[str, StateClaims] = {}

    def seal(self, claims: StateClaims) -> SealedState:
        value = f"state-{len(self.sealed)}"
        self.sealed[value] = claims
        return SealedState(value=value, pkce_verifier=self._verifier(claims))

    def open(self, state: str) -> OpenedState | None:
        claims = self.sealed.get(state)
        return OpenedState(claims, self._verifier(claims)) if claims else None

    @staticmethod
    def _verifier(claims: StateClaims) -> str:
        return "v" * 11 + claims.state_id.hex()


class ReversingCipher:
    """Not encryption: just visibly different from the plaintext, and context-bound."""

    def encrypt(self, plaintext: str, *, context: str) -> str:
        return f"{context}|{plaintext[::-1]}"

    def decrypt(self, sealed: str, *, context: str) -> str:
        bound, _, body = sealed.partition("|")
        if bound != context:
            raise ValueError("wrong context")
        return body[::-1]

    def current_prefix(self) -> str:
        return ""

    def readable_prefixes(self) -> tuple[str, ...]:
        return ("",)

    def key_id_of(self, sealed: str) -> str:
        return "reversed"


class RecordingWebhookSender:
    """Answers with the statuses given (the last repeats; 200 by default) and records every
    delivery sent."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or [200]
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    async def refusal(self, url: str) -> str | None:
        return "is refused by the test" if "refused" in url else None

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        self.sent.append((url, headers, body))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return SendResult(status, "ok" if status < 300 else "no")
