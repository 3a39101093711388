"""Sending webhook deliveries over HTTP, and rendering their bodies."""

import asyncio
from datetime import datetime

import httpx
import msgspec

from adapters.http.dto import ConnectionRead, connection_read
from adapters.outbound import private_address_refusal
from application.ports.webhooks import SendResult
from domain.model import Connection
from domain.webhooks import EXCERPT_CHARACTERS, excerpt

_READ_LIMIT = EXCERPT_CHARACTERS * 4  # bytes read of a receiver's answer; the rest is dropped


class HttpxWebhookSender:
    """One POST per attempt: no redirects followed (a 3xx is a failure), a total timeout,
    no proxy from the environment, and only a short excerpt of the answer read."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private_addresses: bool,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = timeout
        self._allow_private = allow_private_addresses
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "embed-oauth-webhooks"},
            transport=transport,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def refusal(self, url: str) -> str | None:
        return None if self._allow_private else await private_address_refusal(url)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        try:
            async with asyncio.timeout(self._timeout):
                refused = await self.refusal(url)
                if refused is not None:
                    return SendResult(None, error=f"the URL {refused}")
                async with self._client.stream(
                    "POST", url, content=body, headers=headers
                ) as answer:
                    read = bytearray()
                    async for chunk in answer.aiter_bytes():
                        read += chunk
                        if len(read) >= _READ_LIMIT:
                            break
                    return SendResult(answer.status_code, excerpt(read.decode("utf-8", "replace")))
        except (TimeoutError, httpx.TimeoutException):
            return SendResult(None, error=f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return SendResult(None, error=f"could not be reached ({type(exc).__name__})")


class _Data(msgspec.Struct):
    connection: ConnectionRead


class _Event(msgspec.Struct):
    type: str
    timestamp: str
    data: _Data


_ENCODER = msgspec.json.Encoder()


class JsonEventEncoder:
    def encode(self, event_type: str, timestamp: datetime, connection: Connection) -> bytes:
        when = timestamp.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return _ENCODER.encode(_Event(event_type, when, _Data(connection_read(connection))))
