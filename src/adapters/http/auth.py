"""Bearer authentication (API keys and end-user tokens) and the JSON content-type rule, both
checked before a body is read."""

import re
from collections.abc import Iterable
from typing import Any

from litestar.types import ASGIApp

from adapters.http.errors import UnsupportedMediaType
from adapters.http.rate_limit import RateLimiter
from application.end_users import AuthenticateBearer
from application.errors import Unauthenticated
from domain.api_keys import hash_api_key
from domain.end_user_tokens import MAX_BEARER_LENGTH

# Paths reachable without a token.
PUBLIC_PATHS = re.compile(r"/health/|/schema|/oauth2/callback(/[^/]*)?$|/demo$|/metrics$|/sdk/")


class BearerAuthentication:
    """``Authorization: Bearer <token>`` on every route but the public ones; the request's
    ``user`` becomes the ``Caller`` (an organisation's backend or one of its end users), and
    the token's rate limit is charged. Which routes an end user may call, and what they may
    reach there, the routes' use cases decide."""

    def __init__(
        self, app: ASGIApp, authenticate: AuthenticateBearer, limiter: RateLimiter | None = None
    ) -> None:
        self._app = app
        self._authenticate = authenticate
        self._limiter = limiter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not PUBLIC_PATHS.match(scope["path"]):
            key = bearer_key(scope["headers"])
            if key is None:
                raise Unauthenticated(
                    "An API key is required: send 'Authorization: Bearer <apiKey>'."
                )
            if len(key) > MAX_BEARER_LENGTH:
                raise Unauthenticated("The bearer token is too long.")
            scope["user"] = await self._authenticate(key)
            if self._limiter is not None:
                self._limiter.check(hash_api_key(key))
        await self._app(scope, receive, send)


class RequireJsonBody:
    """A request that carries a body must declare it as JSON (``application/json`` or
    ``application/*+json``), else 415. Runs after authentication, before the body is read.

    A middleware rather than a route guard: Litestar copies the route handler for every guard
    call, which cost more than the rest of the initialise request's own work (measured).
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _has_body(scope["headers"]):
            media_type = header(scope["headers"], b"content-type").split(b";", 1)[0]
            media_type = media_type.strip().lower()
            if media_type != b"application/json" and not (
                media_type.startswith(b"application/") and media_type.endswith(b"+json")
            ):
                raise UnsupportedMediaType(
                    detail="The request body must be JSON (Content-Type: application/json)."
                )
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
