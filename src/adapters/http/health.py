"""Liveness and readiness, without an API key."""

from litestar import Response, get

from adapters.http.dependencies import UseCases
from adapters.http.dto import Health
from adapters.observability import metrics_payload


@get("/health/live", tags=["health"], security=[], summary="The process is up")
async def live() -> Health:
    return Health(status="ok")


@get("/health/ready", tags=["health"], security=[], summary="The database answers")
async def ready(services: UseCases) -> Response[Health]:
    try:
        await services.health.ping()
    except Exception:  # any storage failure means "not ready", never a 500
        return Response(Health(status="unavailable"), status_code=503, headers={"Retry-After": "5"})
    return Response(Health(status="ok"))


@get("/metrics", tags=["health"], security=[], include_in_schema=False)
async def metrics() -> Response[bytes]:
    """Prometheus metrics; restrict who can reach this path at your proxy."""
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)
