"""Bearer authentication (API keys and end-user tokens) and the JSON content-type rule, both
checked before a body is read."""

import re
from collections.abc import Iterable
from typing import Any, Self

from litestar.types import ASGIApp

from adapters.http.errors import UnsupportedMediaType
from adapters.http.rate_limit import RateLimiter
from application.end_users import AuthenticateBearer
from application.errors import Unauthenticated
from domain.api_keys import hash_api_key
from domain.end_user_tokens import MAX_BEARER_LENGTH

# Paths reachable without a token.
PUBLIC_PATHS = re.compile(r"/health/|/schema|/oauth2/callback(/[^/]*)?$|/demo$|/metrics$|/sdk/")


class RequestChecks:
    """What every route checks before it reads a body, in this order:

    - ``Authorization: Bearer <token>`` on every route but the public ones: the request's
      ``user`` becomes the ``Caller`` (an organisation's backend or one of its end users),
      and the token's rate limit is charged. Which routes an end user may call, and what
      they may reach there, the routes' use cases decide;
    - a request that carries a body must declare it as JSON (``application/json`` or
      ``application/*+json``), else 415.

    Ordinary routes run them as middleware (``RequestChecksMiddleware``); the lean routes
    call them first thing (``adapters.http.lean.lean_route``). Not a route guard: Litestar
    copies the route handler for every guard call, which cost more than the rest of the
    initialise request's own work (measured).
    """

    def __init__(
        self, authenticate: AuthenticateBearer, limiter: RateLimiter | None = None
    ) -> None:
        self._authenticate = authenticate
        self._limiter = limiter

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self  # Litestar copies a router when it registers it: its routes share these

    async def __call__(self, scope: Any) -> None:
        headers = scope["headers"]
        if not PUBLIC_PATHS.match(scope["path"]):
            key = bearer_key(headers)
            if key is None:
                raise Unauthenticated(
                    "An API key is required: send 'Authorization: Bearer <apiKey>'."
                )
            if len(key) > MAX_BEARER_LENGTH:
                raise Unauthenticated("The bearer token is too long.")
            scope["user"] = await self._authenticate(key)
            if self._limiter is not None:
                self._limiter.check(hash_api_key(key))
        if _has_body(headers):
            media_type = header(headers, b"content-type").split(b";", 1)[0].strip().lower()
            if media_type != b"application/json" and not (
                media_type.startswith(b"application/") and media_type.endswith(b"+json")
            ):
                raise UnsupportedMediaType(
                    detail="The request body must be JSON (Content-Type: application/json)."
                )


class RequestChecksMiddleware:
    """The checks in front of an ordinary route, inside Litestar's exception handling."""

    def __init__(self, app: ASGIApp, checks: RequestChecks) -> None:
        self._app = app
        self._checks = checks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._checks(scope)
        await self._app(scope, receive, send)


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes:
    """A raw ASGI header's value (``name`` in lower case), or empty."""
    for key, value in headers:
        if key == name:
            return value
    return b""


def bearer_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, if the request has one."""
    scheme, _, key = header(headers, b"authorization").decode("latin-1").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def _has_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    length = header(headers, b"content-length")
    return (length not in (b"", b"0")) or bool(header(headers, b"transfer-encoding"))
