"""Reading a JSON body and sending a JSON answer on the raw ASGI interface.

The hot routes (initialise, access-token) are Litestar ASGI route handlers: routed by
Litestar, and inside its exception handling, so every failure on them goes through the one
error mapping in ``adapters.http.errors``. They run the same request checks as every route
(authentication, rate limits, the JSON content-type rule), and skip only the per-request
signature model and response objects, which cost more than the endpoints' own work
(docs/performance.md).
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec
from litestar import Litestar
from litestar.enums import HttpMethod
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    ValidationException,
)
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.types import Receive, Scope, Send

from adapters.http.auth import RequestChecks, header
from adapters.http.errors import MISSING_BODY

T = TypeVar("T")
_JSON_HEADERS = ((b"content-type", b"application/json"),)
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def lean_route(
    path: str, name: str, checks: RequestChecks
) -> Callable[[Handler], ASGIRouteHandler]:
    """An ASGI route handler at ``path`` that runs ``checks`` before ``handler``.

    The checks are called here rather than given to Litestar as the route's middleware:
    Litestar puts a second exception handler between any route's middleware and the
    route, so that middleware that wraps ``send`` also sees error responses. The checks
    wrap nothing, and that layer cost initialise 8 us of CPU per request (measured).
    """

    def route(handler: Handler) -> ASGIRouteHandler:
        async def checked(scope: Scope, receive: Receive, send: Send) -> None:
            await checks(scope)
            await handler(scope, receive, send)

        return asgi(path, copy_scope=False, name=name)(checked)

    return route


def require_method(scope: Scope, method: str) -> None:
    if scope.get("method") != method:
        raise MethodNotAllowedException(headers={"Allow": method})


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit`` bytes
    (the same limit Litestar applies to every other route)."""
    length = header(scope["headers"], b"content-length")
    if length.isdigit() and int(length) > limit:
        raise HTTPException(status_code=413)
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Any = await receive()
        if message["type"] != "http.request":
            raise ClientException("The client disconnected before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_body(body: bytes, decoder: msgspec.json.Decoder[T]) -> T:
    """The body as the route's input Struct; a body that is not valid JSON, or not of the
    input's shape, raises the same exceptions Litestar raises for its other routes."""
    if not body:
        raise ValidationException(extra=[{"message": MISSING_BODY, "key": "data"}])
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$")
        key = at.removesuffix("`").removeprefix(".") or "data"
        raise ValidationException(
            detail="Validation failed", extra=[{"message": message, "key": key, "source": "body"}]
        ) from None
    except msgspec.DecodeError:
        raise ClientException("The request body is not valid JSON.") from None


async def send_json(
    send: Send, payload: bytes, status: int = 200, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *_JSON_HEADERS,
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def route_path_parameters_to_asgi_handlers(app: Litestar) -> None:
    """Litestar 2.25 files an ASGI route's path parameters under the key ``"asgi"`` but looks
    them up under the request's HTTP method, so an HTTP request to an ASGI route with path
    parameters fails with a KeyError in routing. File them under every method as well.
    Every test of the two lean routes goes through this; should a Litestar upgrade change
    the routing trie, they fail."""
    nodes = [app.asgi_router.root_route_map_node]
    while nodes:
        node = nodes.pop()
        parameters = node.path_parameters.get("asgi")
        if node.is_asgi and parameters:
            for method in HttpMethod:
                node.path_parameters.setdefault(method.value, parameters)
        nodes.extend(node.children.values())
