"""Sending webhook deliveries over HTTP, and rendering their bodies."""

import asyncio
from datetime import datetime

import httpx
import msgspec

from adapters.http.dto import ConnectionRead, connection_read
from adapters.outbound import Refused, private_address_refusal, public_target
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
                extensions = None
                if not self._allow_private:  # to the address that was checked
                    try:
                        target = await public_target(url)
                    except Refused as exc:
                        return SendResult(None, error=f"the URL {exc}")
                    url, headers = target.url, {**headers, **target.headers}
                    extensions = target.extensions
                return await self._post(url, headers, body, extensions)
        except (TimeoutError, httpx.TimeoutException):
            return SendResult(None, error=f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return SendResult(None, error=f"could not be reached ({type(exc).__name__})")

    async def _post(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        extensions: dict[str, str] | None,
    ) -> SendResult:
        async with self._client.stream(
            "POST", url, content=body, headers=headers, extensions=extensions
        ) as answer:
            read = bytearray()
            async for chunk in answer.aiter_bytes():
                read += chunk
                if len(read) >= _READ_LIMIT:
                    break
            return SendResult(answer.status_code, excerpt(read.decode("utf-8", "replace")))


class _Data(msgspec.Struct, omit_defaults=True):
    connection: ConnectionRead
    revoked: bool | None = None


class _Event(msgspec.Struct):
    type: str
    timestamp: str
    data: _Data


_ENCODER = msgspec.json.Encoder()


class JsonEventEncoder:
    def encode(
        self,
        event_type: str,
        timestamp: datetime,
        connection: Connection,
        revoked: bool | None = None,
    ) -> bytes:
        when = timestamp.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        data = _Data(connection_read(connection), revoked)
        return _ENCODER.encode(_Event(event_type, when, data))
