"""Structured JSON logs, request ids and Prometheus metrics.

Nothing here ever logs a request body or a query string: the callback's query carries
authorization codes and states, and bodies carry secrets. Paths carry only ids.
"""

import asyncio
import bisect
import contextvars
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from application.errors import ProviderTimeout, ProviderUnavailable
from application.ports.provider import TokenEndpoint, TokenEndpointAnswer, TokenRequest
from application.webhook_delivery import DeliveryRound

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
log = logging.getLogger("embed_oauth.access")

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# The finite bounds, then +Inf: a latency falls in the first bucket whose bound it does not
# exceed, as prometheus_client's Histogram.observe places it.
_BOUNDS = (*_LATENCY_BUCKETS, float("inf"))


HTTP_REQUESTS = Counter(
    "embed_oauth_http_requests_total", "HTTP requests", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "embed_oauth_http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
INITIALISATIONS = Counter(
    "embed_oauth_initialisations_total", "Initialise requests by HTTP status", ["outcome"]
)
CODE_EXCHANGES = Counter(
    "embed_oauth_code_exchanges_total", "Authorization code exchanges", ["outcome"]
)
REFRESHES = Counter("embed_oauth_refreshes_total", "Refresh-token grants", ["outcome"])
REVOCATIONS = Counter(
    "embed_oauth_revocations_total", "RFC 7009 token revocations at deletion", ["outcome"]
)
PROVIDER_LATENCY = Histogram(
    "embed_oauth_provider_request_duration_seconds",
    "Token endpoint latency",
    ["grant_type", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25),
)
WEBHOOK_DELIVERIES = Counter(
    "embed_oauth_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (succeeded, retrying, failed)",
    ["outcome"],
)
WEBHOOK_QUEUE_AGE = Gauge(
    "embed_oauth_webhook_queue_age_seconds",
    "Age of the oldest pending webhook delivery's event (0 when none is pending)",
    multiprocess_mode="max",
)
INITIALISE_ROUTE = "/embed/{hub_id}/connector/{connector_id}/oauth2/initialise"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# StreamHandler is generic only in the type stubs, not at run time: no subscript here.
class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when configured."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        return None


def configure_logging(level: str = "INFO") -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):  # their request lines would repeat URLs and queries
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Alembic narrates every step; `db upgrade` says what it applied in its own words.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# The method label is one of these or "other": a client cannot mint time series.
STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
UNMATCHED_ROUTE = "unmatched"


class _RequestMetrics:
    """The request counters and the latency histogram, updated once per event-loop turn.

    ``record`` only adds a request to the turn's tally of its (route, method, status), a
    few list operations; ``apply`` adds the tallies to the Prometheus metrics, one increment
    per label set and bucket instead of three metric calls per request (measured in
    docs/performance.md). prometheus_client's histogram has no call that adds several
    observations at once, so ``apply`` adds them to its sum and buckets, which it reads
    back when it is scraped (``tests/adapters/http/test_observability.py`` checks the
    exposition against per-request observations). Every label is bounded: route
    templates, standard methods, status codes.
    """

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._tallies: dict[tuple[str, str, int], list[float]] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = [0.0] * (2 + len(_BOUNDS))
        tally[0] += 1
        tally[1] += seconds
        tally[2 + bisect.bisect_left(_BOUNDS, seconds)] += 1

    def apply(self) -> None:
        tallies, self._tallies = self._tallies, {}
        for key, tally in tallies.items():
            requests, latency, initialisations = self._children_of(key)
            requests.inc(tally[0])
            if initialisations is not None:
                initialisations.inc(tally[0])
            latency._sum.inc(tally[1])
            for bucket, count in zip(latency._buckets, tally[2:], strict=True):
                if count:
                    bucket.inc(count)

    def _children_of(self, key: tuple[str, str, int]) -> tuple[Any, Any, Any]:
        """The labelled children, kept: ``labels()`` costs more than the increment itself."""
        children = self._children.get(key)
        if children is None:
            route, method, status = key
            children = self._children[key] = (
                HTTP_REQUESTS.labels(route, method, str(status)),
                HTTP_LATENCY.labels(route, method),
                INITIALISATIONS.labels(str(status)) if route == INITIALISE_ROUTE else None,
            )
        return children


# What the observer keeps of a request until the end of its event-loop turn: request id,
# method label, path, route template, status, duration and the time it finished.
_Served = tuple[str, str, str, str, int, float, float]


class _AccessLine(msgspec.Struct):
    time: str
    level: str
    logger: str
    message: str
    request_id: str
    method: str
    path: str
    route: str
    status: int
    duration_ms: float


# An access line waits at most this long to be written, unless this many bytes wait first.
ACCESS_LOG_DELAY_SECONDS = 0.02
ACCESS_LOG_BUFFER_BYTES = 64 * 1024


class AccessLog:
    """One JSON line per request on standard error, in the shape ``JsonFormatter`` gives every
    other record, when the ``embed_oauth.access`` logger is enabled for INFO.

    Written without the ``logging`` machinery (record, formatter, handler lock), encoded by
    msgspec, and batched: lines wait up to ``ACCESS_LOG_DELAY_SECONDS`` (or until
    ``ACCESS_LOG_BUFFER_BYTES`` wait) and are written together. A write gives up the GIL,
    and under granian, whose I/O thread always waits for it, that is a hand-over between
    threads: one write per event-loop turn still cost initialise 4 us of CPU per request
    (measured in docs/performance.md). ``write`` writes whatever waits, at once (at
    shutdown).
    """

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._second = -1
        self._second_text = ""
        self._waiting: list[bytes] = []
        self._waiting_bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    def enabled(self) -> bool:
        return log.isEnabledFor(logging.INFO)

    def add(self, requests: list[_Served]) -> None:
        """Encode the lines of ``requests``; write them with the others waiting, soon."""
        lines = []
        for request_id, method, path, route, status, seconds, finished in requests:
            second = int(finished)
            if second != self._second:
                self._second = second
                self._second_text = datetime.fromtimestamp(second, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S"
                )
            lines.append(
                _AccessLine(  # by position, and to the microsecond without round(): cheaper
                    f"{self._second_text}.{int((finished - second) * 1000):03d}+00:00",
                    "info",
                    "embed_oauth.access",
                    "request",
                    request_id,
                    method,
                    path,
                    route,
                    status,
                    int(seconds * 1_000_000 + 0.5) / 1000,
                )
            )
        encoded = self._encoder.encode_lines(lines)
        self._waiting.append(encoded)
        self._waiting_bytes += len(encoded)
        if self._waiting_bytes >= ACCESS_LOG_BUFFER_BYTES:
            self.write()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                ACCESS_LOG_DELAY_SECONDS, self.write
            )

    def write(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting:
            waiting, self._waiting, self._waiting_bytes = self._waiting, [], 0
            sys.stderr.write(b"".join(waiting).decode())


class RequestObserver:
    """Wraps the application's HTTP handling: a request id on every request and response,
    one access log line, and the request metrics labelled by route template. Every response
    also gets ``response_headers`` (the security headers every answer carries).

    A request finishes by adding a tuple to the turn's list; at the end of the event loop's
    turn, ``flush`` counts them in the metrics and hands their access-log lines to the
    access log, so that per request only a few list operations stay on the hot path.
    """

    def __init__(self, app: Any, response_headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self._app = app
        self._response_headers = tuple(response_headers)
        self._metrics = _RequestMetrics()
        self._access_log = AccessLog()
        self._served: list[_Served] = []
        # Generated request ids: 8 random hex digits per process, then a counter. Unique
        # across workers and restarts in practice, and cheaper than random bytes per request.
        self._prefix = secrets.token_hex(4)
        self._count = 0

    def flush(self) -> None:
        """Log the requests served since the last flush, then count them (the lines first:
        they do not depend on prometheus_client's internals)."""
        served, self._served = self._served, []
        if not served:
            return
        if self._access_log.enabled():
            self._access_log.add(served)
        record = self._metrics.record
        for _, method, _, route, status, seconds, _ in served:
            record(route, method, status, seconds)
        self._metrics.apply()

    async def close(self) -> None:
        """At shutdown: count and log the turn under way, and write every line waiting."""
        self.flush()
        self._access_log.write()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _VALID_REQUEST_ID.fullmatch(value):
                    request_id = value.decode()
                break
        if not request_id:
            self._count += 1
            request_id = f"{self._prefix}{self._count & 0xFFFFFFFF:08x}"
        added = (*self._response_headers, (b"x-request-id", request_id.encode()))
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            finished = time.perf_counter()
            method = scope["method"]
            if method not in STANDARD_METHODS:
                method = "other"
            if not self._served:
                asyncio.get_running_loop().call_soon(self.flush)
            self._served.append(
                (
                    request_id,
                    method,
                    scope["path"],
                    scope.get("path_template") or UNMATCHED_ROUTE,
                    status,
                    finished - started,
                    time.time(),
                )
            )
            request_id_var.reset(token)


class InstrumentedTokenEndpoint:
    """Counts code exchanges, refreshes and revocations by outcome, and times the
    provider."""

    def __init__(self, inner: TokenEndpoint) -> None:
        self._inner = inner

    async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
        form = dict(request.form)
        grant_type = form.get("grant_type") or ("revocation" if "token" in form else "other")
        started = time.perf_counter()
        outcome = "failed"
        try:
            answer = await self._inner.request(request)
            outcome = {2: "ok", 4: "rejected"}.get(answer.status // 100, "failed")
            return answer
        except ProviderTimeout:
            outcome = "timeout"
            raise
        except ProviderUnavailable:
            outcome = "failed"
            raise
        finally:
            PROVIDER_LATENCY.labels(grant_type, outcome).observe(time.perf_counter() - started)
            if grant_type == "authorization_code":
                CODE_EXCHANGES.labels(outcome).inc()
            elif grant_type == "refresh_token":
                REFRESHES.labels(outcome).inc()
            elif grant_type == "revocation":
                REVOCATIONS.labels(outcome).inc()


def observe_delivery_round(round_: DeliveryRound, now: datetime) -> None:
    for outcome in ("succeeded", "retrying", "failed"):
        if count := getattr(round_, outcome):
            WEBHOOK_DELIVERIES.labels(outcome).inc(count)
    oldest = round_.oldest_pending
    WEBHOOK_QUEUE_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def use_multiprocess_metrics_if_configured() -> None:
    """In a worker process: store metric values in PROMETHEUS_MULTIPROC_DIR when it is set.

    prometheus_client chooses its value storage when it is imported, which may have happened
    before `serve` set the variable; labelled children created from now on use the right one.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client ships this helper without type annotations.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def metrics_payload() -> tuple[bytes, str]:
    """All workers' metrics when several share a PROMETHEUS_MULTIPROC_DIR, else this one's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
