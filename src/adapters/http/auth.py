"""API-key authentication and the JSON content-type rule, both checked before a body is read."""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from adapters.http.errors import UnsupportedMediaType
from application.errors import Unauthenticated
from application.organisations import AuthenticateApiKey

# Paths reachable without an API key.
PUBLIC_PATHS = ["^/health/", "^/schema", "^/oauth2/callback$", "^/demo$", "^/metrics$"]
MAX_KEY_LENGTH = 256


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """``Authorization: Bearer <apiKey>``; the request's user becomes the organisation id."""

    def __init__(self, app: ASGIApp, authenticate: AuthenticateApiKey) -> None:
        super().__init__(app, exclude=PUBLIC_PATHS)
        self._authenticate = authenticate

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        scheme, _, key = connection.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated("An API key is required: send 'Authorization: Bearer <apiKey>'.")
        if len(key) > MAX_KEY_LENGTH:
            raise Unauthenticated("The API key is not valid.")
        return AuthenticationResult(user=await self._authenticate(key), auth=None)


async def require_json(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: request bodies must be declared as JSON (``application/json`` or ``+json``).

    Asynchronous on purpose: Litestar runs synchronous guards in a thread pool."""
    media_type = connection.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise UnsupportedMediaType(
            detail="The request body must be JSON (Content-Type: application/json)."
        )
