"""CORS for the routes an end user's browser calls, allowing exactly their hub's origins.

Only initialise, an end user's connections (create, list) and one connection (read,
delete) answer CORS; management routes and the access token never do. The origin is echoed
only when it is one of the hub's ``allowedOrigins``; other origins get no CORS headers at
all. No cookies are involved (tokens travel in ``Authorization``), so credentials are never
allowed.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.types import ASGIApp

from adapters.http.auth import header
from application.embed_origins import EmbedOrigins
from application.errors import StorageUnavailable

_HUB_ROUTES = re.compile(
    r"/embed/([^/]+)/connector/[^/]+(?:/oauth2/initialise)?|/hubs/([^/]+)/users/[^/]+/connections"
)
_CONNECTION_ROUTE = re.compile(r"/connections/([^/]+)")
ALLOWED_METHODS = b"GET, POST, DELETE"
ALLOWED_HEADERS = b"authorization, content-type"
PREFLIGHT_MAX_AGE = b"600"


class EmbedCors:
    def __init__(self, app: ASGIApp, origins: EmbedOrigins) -> None:
        self._app = app
        self._origins = origins

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        origin = header(scope["headers"], b"origin")
        lookup = self._lookup(scope["path"]) if origin else None
        if lookup is None:
            await self._app(scope, receive, send)
            return
        try:
            allowed = origin.decode("latin-1") in await lookup()
        except StorageUnavailable:
            allowed = False  # the route itself answers 503; without CORS headers meanwhile
        headers = [(b"vary", b"origin")]
        if allowed:
            headers.append((b"access-control-allow-origin", origin))
        if scope["method"] == "OPTIONS" and header(
            scope["headers"], b"access-control-request-method"
        ):
            if allowed:
                headers += [
                    (b"access-control-allow-methods", ALLOWED_METHODS),
                    (b"access-control-allow-headers", ALLOWED_HEADERS),
                    (b"access-control-max-age", PREFLIGHT_MAX_AGE),
                ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self._app(scope, receive, send_with_cors)

    def _lookup(self, path: str) -> Callable[[], Awaitable[tuple[str, ...]]] | None:
        match = _HUB_ROUTES.fullmatch(path)
        if match:
            hub_id = match.group(1) or match.group(2)
            return lambda: self._origins.of_hub(hub_id)
        match = _CONNECTION_ROUTE.fullmatch(path)
        if match:
            connection_id = match.group(1)
            return lambda: self._origins.of_connection(connection_id)
        return None
