"""Liveness and readiness, without an API key."""

import hmac
import logging
import time
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


log = logging.getLogger("embed_oauth.health")
READY_LOG_INTERVAL = 60.0  # seconds: probes come every few seconds; one line says enough


class _ReadinessLog:
    """Why the service is not ready, logged at most once per interval while it lasts."""

    def __init__(self) -> None:
        self._last = float("-inf")

    def not_ready(self, error: StorageUnavailable) -> None:
        now = time.monotonic()
        if now - self._last >= READY_LOG_INTERVAL:
            self._last = now
            cause = error.__cause__ or error
            log.warning(
                "not ready: the database does not answer",
                extra={"reason": f"{type(cause).__name__}: {cause}".splitlines()[0][:300]},
            )


def ready_route() -> HTTPRouteHandler:
    """``/health/ready``, with a log of its own per application."""
    readiness = _ReadinessLog()

    @get("/health/ready", tags=["health"], security=[], summary="The database answers")
    async def ready(services: UseCases) -> Response[Health]:
        try:
            await services.health.ping()
        except StorageUnavailable as exc:
            readiness.not_ready(exc)
            return Response(
                Health(status="unavailable"), status_code=503, headers={"Retry-After": "5"}
            )
        return Response(Health(status="ok"))

    return ready


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
