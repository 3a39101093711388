"""Sending webhook deliveries, and rendering the events they carry."""

from datetime import datetime
from typing import NamedTuple, Protocol

from domain.model import Connection


class SendResult(NamedTuple):
    """``status`` is the receiver's HTTP status, or ``None`` when there was no answer (then
    ``error`` says why); ``excerpt`` is a short excerpt of its body."""

    status: int | None
    excerpt: str = ""
    error: str | None = None


class WebhookSender(Protocol):
    async def refusal(self, url: str) -> str | None:
        """Why this URL may not be called (in production: a host that does not resolve, or
        resolves to a private or local address), or ``None``."""
        ...

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """POST ``body`` once: no redirects followed, within the delivery timeout, and (in
        production) only to public addresses. Never raises for the receiver's failures."""
        ...


class EventEncoder(Protocol):
    def encode(
        self,
        event_type: str,
        timestamp: datetime,
        connection: Connection,
        revoked: bool | None = None,
    ) -> bytes:
        """``{"type", "timestamp", "data": {"connection": ..., "revoked"?}}``, the connection
        as ``GET /connections/{id}`` shows it: no token, code, state or secret; ``revoked``
        only when a revocation was tried."""
        ...
