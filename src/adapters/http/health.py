"""Liveness and readiness, without an API key."""

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from adapters.http.auth import header
from adapters.http.dependencies import UseCases
from adapters.http.dto import Health
from adapters.observability import metrics_payload
from application.errors import StorageUnavailable, Unauthenticated


@get("/health/live", tags=["health"], security=[], summary="The process is up")
async def live() -> Health:
    return Health(status="ok")


@get("/health/ready", tags=["health"], security=[], summary="The database answers")
async def ready(services: UseCases) -> Response[Health]:
    try:
        await services.health.ping()
    except StorageUnavailable:
        return Response(Health(status="unavailable"), status_code=503, headers={"Retry-After": "5"})
    return Response(Health(status="ok"))


def metrics_route(token: str | None) -> HTTPRouteHandler:
    """Prometheus metrics at ``/metrics``; with ``EMBED_OAUTH_METRICS_TOKEN`` set, only for
    ``Authorization: Bearer <that token>`` (401 otherwise)."""
    expected = f"Bearer {token}".encode() if token else None

    @get("/metrics", tags=["health"], security=[], include_in_schema=False, name="metrics")
    async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        if expected is not None and not hmac.compare_digest(
            header(request.scope["headers"], b"authorization"), expected
        ):
            raise Unauthenticated("/metrics needs 'Authorization: Bearer <metrics token>'.")
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    return metrics
