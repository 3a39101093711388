"""The HTTP client for providers' token endpoints."""

import asyncio
import base64
import json
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote_plus, urlencode

import httpx

from adapters.outbound import Refused, Target, public_target
from application.errors import ProviderTimeout, ProviderUnavailable
from application.ports.provider import TokenEndpointAnswer, TokenRequest
from domain.model import TokenAuthMethod, TokenRequestFormat

MAX_RESPONSE_BYTES = 256 * 1024


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: both parts form-urlencoded before they are joined and base64-encoded."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


class HttpxTokenEndpoint:
    """Form-encoded (or JSON) POSTs, ``Accept: application/json``, no redirects followed, a
    cap on the response size, and a total deadline on top of httpx's connect and read
    timeouts."""

    def __init__(
        self,
        *,
        total_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private_addresses: bool = True,
    ) -> None:
        """Without ``allow_private_addresses`` (production), only https token URLs whose
        host resolves to public addresses are called: no loopback, private, link-local or
        reserved address, which a connector could otherwise aim at the service's own
        network."""
        self._allow_private = allow_private_addresses
        self._total_timeout = total_timeout
        self._max_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "embed-oauth"},
            transport=transport,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
        """The client authenticates as its method says: HTTP Basic, in the body, or not at
        all (``none``: a public client sends only its ``client_id``)."""
        form = list(request.form)
        headers: dict[str, str] = {}
        if request.auth_method is TokenAuthMethod.CLIENT_SECRET_BASIC:
            headers["Authorization"] = basic_authorization(request.client_id, request.client_secret)
        elif request.auth_method is TokenAuthMethod.CLIENT_SECRET_POST:
            form += [("client_id", request.client_id), ("client_secret", request.client_secret)]
        else:
            form.append(("client_id", request.client_id))
        if request.body_format is TokenRequestFormat.JSON:
            headers["Content-Type"] = "application/json"
            content = json.dumps(dict(form)).encode()
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(form).encode()
        return await self._exchange("POST", request.token_url, content, headers, "token endpoint")

    async def fetch(self, url: str) -> TokenEndpointAnswer:
        """A provider's metadata document (RFC 8414), under the same rules as every token
        request: the outbound guard, the deadline, the size cap, no redirect followed."""
        return await self._exchange("GET", url, None, {}, "metadata URL")

    async def _exchange(
        self, method: str, url: str, content: bytes | None, headers: dict[str, str], what: str
    ) -> TokenEndpointAnswer:
        try:
            async with asyncio.timeout(self._total_timeout):
                if self._allow_private:
                    return await self._send(method, url, content, headers, what)
                target = await self._checked(url, what)
                return await self._send(
                    method,
                    target.url,
                    content,
                    {**headers, **target.headers},
                    what,
                    extensions=target.extensions,
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderTimeout(f"The provider's {what} did not answer in time.") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"The provider's {what} could not be reached ({type(exc).__name__})."
            ) from exc

    async def _checked(self, url: str, what: str) -> Target:
        try:
            return await public_target(url)
        except Refused as exc:
            raise ProviderUnavailable(f"The {what} {exc}.") from None

    async def _send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        what: str,
        *,
        extensions: dict[str, str] | None = None,
    ) -> TokenEndpointAnswer:
        async with self._client.stream(
            method, url, content=content, headers=headers, extensions=extensions
        ) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise ProviderUnavailable(
                        f"The provider's {what} answered with more than {self._max_bytes} bytes "
                        "(larger than allowed)."
                    )
        try:
            parsed: object = json.loads(body)
        except ValueError:
            parsed = None
        return TokenEndpointAnswer(
            status=response.status_code,
            body=parsed,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )


MAX_RETRY_AFTER = 3600


def retry_after_seconds(value: str | None, now: datetime | None = None) -> int | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; anything else is ignored. At most an
    hour: a provider cannot park a connection for longer."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(math.ceil(seconds), MAX_RETRY_AFTER))
