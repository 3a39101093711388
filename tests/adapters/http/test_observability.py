"""Request ids, JSON access logs without secrets, Prometheus metrics, and the cleanup job."""

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from adapters.bootstrap import create_app
from adapters.composition.backends import open_backend
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.observability import (
    ACCESS_LOG_BUFFER_BYTES,
    ACCESS_LOG_DELAY_SECONDS,
    HTTP_LATENCY,
    JsonFormatter,
    RequestObserver,
    _RequestMetrics,
    request_id_var,
)
from adapters.settings import Settings
from tests.adapters.http.conftest import Api


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def counted(name: str, **labels: str) -> float:
    """A request metric once the event loop has turned: requests are counted together at
    the end of their turn."""
    await asyncio.sleep(0.05)
    return sample(name, **labels)


async def test_every_response_carries_a_request_id_and_a_valid_one_is_kept(api: Api) -> None:
    generated = await api.client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 16
    kept = await api.client.get("/health/live", headers={"X-Request-ID": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
    replaced = await api.client.get("/health/live", headers={"X-Request-ID": "bad id\n!"})
    assert replaced.headers["x-request-id"] != "bad id\n!"


def access_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if '"embed_oauth.access"' in line]


async def written_after_this_turn(capsys: pytest.CaptureFixture[str]) -> str:
    """Standard error once the access log has written: lines wait at most
    ``ACCESS_LOG_DELAY_SECONDS`` to be written together."""
    await asyncio.sleep(ACCESS_LOG_DELAY_SECONDS + 0.05)
    return capsys.readouterr().err


async def test_access_log_is_one_json_line_per_request_and_never_contains_the_query(
    api: Api, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="embed_oauth.access")
    capsys.readouterr()
    await api.client.get(
        api.callback_path,
        params={"code": "secret-code-123", "state": "secret-state"},
        headers={"X-Request-ID": "req-1"},
    )
    captured = await written_after_this_turn(capsys)
    (line,) = access_lines(captured)
    assert line["request_id"] == "req-1"
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["path"] == api.callback_path
    assert line["route"] == "/oauth2/callback/{organisation}"
    assert line["status"] == 400
    assert line["duration_ms"] >= 0
    assert datetime.fromisoformat(line["time"]).tzinfo is not None
    assert "secret-code-123" not in captured
    assert "secret-state" not in captured


async def test_access_log_follows_the_log_level(
    api: Api, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.WARNING, logger="embed_oauth.access")
    capsys.readouterr()
    await api.client.get("/health/live")
    assert access_lines(await written_after_this_turn(capsys)) == []


class _Writes:
    """Standard error that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        return None


def writes_kept_apart(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> _Writes:
    """Standard error, each write kept apart, with the access log enabled. Called in the
    test itself: pytest puts its own capture back on ``sys.stderr`` after the fixtures."""
    caplog.set_level(logging.INFO, logger="embed_oauth.access")
    writes = _Writes()
    monkeypatch.setattr("sys.stderr", writes)
    return writes


def _observed(path: str) -> tuple[RequestObserver, Any]:
    async def answer(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def nothing() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def ignore(message: Any) -> None:
        return None

    observer = RequestObserver(answer)
    scope = {"type": "http", "method": "GET", "path": path, "path_template": path, "headers": []}

    async def request() -> None:
        await observer(dict(scope), nothing, ignore)

    return observer, request


async def test_the_requests_of_the_last_turn_are_counted_and_logged_at_close(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Requests are counted and logged at the end of the event loop's turn; the shutdown
    hook (``close``) does it for the turn that was under way, and only once."""
    caplog.set_level(logging.INFO, logger="embed_oauth.access")
    route = "/last-turn-test"
    observer, request = _observed(route)
    labels = {"route": route, "method": "GET", "status": "204"}
    capsys.readouterr()
    await request()  # no turn of the loop ends in between
    assert sample("embed_oauth_http_requests_total", **labels) == 0
    await observer.close()
    assert sample("embed_oauth_http_requests_total", **labels) == 1
    (line,) = access_lines(capsys.readouterr().err)
    assert (line["path"], line["status"]) == (route, 204)
    await asyncio.sleep(0)  # the flush the request scheduled finds nothing left
    assert sample("embed_oauth_http_requests_total", **labels) == 1
    assert access_lines(capsys.readouterr().err) == []


async def test_access_lines_of_several_turns_are_written_together_within_the_delay(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = writes_kept_apart(caplog, monkeypatch)
    observer, request = _observed("/batched-test")
    for _ in range(3):
        await request()
        await asyncio.sleep(0)  # the turn ends: counted, and the line waits
    assert sample("embed_oauth_http_requests_total", route="/batched-test", method="GET",
                  status="204") == 3  # fmt: skip
    assert stderr.writes == []
    await asyncio.sleep(ACCESS_LOG_DELAY_SECONDS + 0.05)
    (written,) = stderr.writes
    assert [json.loads(line)["path"] for line in written.splitlines()] == ["/batched-test"] * 3
    await observer.close()
    assert len(stderr.writes) == 1  # nothing was left to write


async def test_access_lines_are_written_at_once_when_the_buffer_fills(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = writes_kept_apart(caplog, monkeypatch)
    path = "/full-buffer-test/" + "x" * 900
    observer, request = _observed(path)
    served = 0
    while not stderr.writes and served < 1000:
        await request()
        await asyncio.sleep(0)
        served += 1
    (written,) = stderr.writes  # without waiting for the delay
    lines = written.encode().splitlines(keepends=True)
    assert len(lines) == served
    assert len(written.encode()) >= ACCESS_LOG_BUFFER_BYTES > len(written.encode()) - len(lines[-1])
    await observer.close()


async def test_close_writes_the_lines_still_waiting(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = writes_kept_apart(caplog, monkeypatch)
    observer, request = _observed("/waiting-test")
    await request()
    await asyncio.sleep(0)
    assert stderr.writes == []
    await observer.close()
    (written,) = stderr.writes
    assert json.loads(written)["path"] == "/waiting-test"


async def test_invented_methods_do_not_grow_the_metrics(api: Api) -> None:
    await api.client.request("BREW", "/health/live")  # the label "other" exists from now on
    await asyncio.sleep(0.05)  # requests are counted at the end of their turn
    before = (await api.client.get("/metrics")).text
    for n in range(50):
        answer = await api.client.request(f"INVENTED{n}", f"/hubs/{n}")
        assert answer.status_code in (401, 404, 405)
    await asyncio.sleep(0.05)
    after = (await api.client.get("/metrics")).text
    series = {line.split(" ")[0] for line in after.splitlines() if line.startswith("embed_oauth_")}
    assert not any("INVENTED" in name for name in series)
    assert not any(f"/hubs/{n}" in after for n in range(50))
    assert len(after.splitlines()) <= len(before.splitlines()) + 40  # only new counts/buckets
    assert 'method="other"' in after


def test_json_formatter_carries_the_request_id_and_extra_fields() -> None:
    token = request_id_var.set("abc")
    try:
        record = logging.makeLogRecord({"msg": "hello %s", "args": ("x",), "levelname": "INFO"})
        record.__dict__["status"] = 201
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello x"
    assert line["request_id"] == "abc"
    assert line["status"] == 201


async def test_metrics_count_requests_by_route_and_initialisations(api: Api) -> None:
    route = "/credentials"
    labels = {"route": route, "method": "GET", "status": "200"}
    before = await counted("embed_oauth_http_requests_total", **labels)
    await api.get("/credentials")
    await api.get("/credentials")
    assert await counted("embed_oauth_http_requests_total", **labels) - before == 2
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before = await counted("embed_oauth_http_requests_total", **unmatched)
    await api.get("/no/such/route")
    assert await counted("embed_oauth_http_requests_total", **unmatched) == before + 1
    initialised = await counted("embed_oauth_initialisations_total", outcome="404")
    await api.post(
        "/embed/x/connector/y/oauth2/initialise",
        {"authorizeUrl": "x", "clientId": "c", "credential": {"id": "a", "organisationId": "b"}},
    )
    assert await counted("embed_oauth_initialisations_total", outcome="404") == initialised + 1
    exposed = await api.client.get("/metrics")
    assert exposed.status_code == 200
    assert "embed_oauth_http_request_duration_seconds_bucket" in exposed.text
    assert (
        "embed_oauth_refreshes_total" in exposed.text
        or "embed_oauth_code_exchanges_total" in exposed.text
    )


def test_tallied_latencies_expose_what_observing_each_request_would() -> None:
    """The metrics are added a turn's tally at a time: the exposition must be what
    prometheus_client's own per-request ``observe`` gives, bucket by bucket, bounds
    included."""
    bounds = HTTP_LATENCY._upper_bounds[:-1]
    latencies = [0.0, *bounds, *(b * 1.001 for b in bounds), 0.0004, 42.0, 3.3, 0.0101]
    reference_registry = CollectorRegistry()
    reference = Histogram(
        "reference_seconds", "per-request observations", registry=reference_registry, buckets=bounds
    )
    metrics = _RequestMetrics()
    route = "/tally-test"
    for seconds in latencies:
        reference.observe(seconds)
        metrics.record(route, "GET", 200, seconds)
    metrics.record(route, "GET", 503, 0.002)
    metrics.apply()
    metrics.apply()  # nothing tallied since: adds nothing
    for bound in [*bounds, float("inf")]:
        le = "+Inf" if bound == float("inf") else str(float(bound))
        expected = reference_registry.get_sample_value("reference_seconds_bucket", {"le": le})
        got = sample(
            "embed_oauth_http_request_duration_seconds_bucket", route=route, method="GET", le=le
        )
        assert got == (expected or 0.0) + (bound >= 0.002), le
    expected_sum = reference_registry.get_sample_value("reference_seconds_sum", {})
    got_sum = sample("embed_oauth_http_request_duration_seconds_sum", route=route, method="GET")
    assert got_sum == pytest.approx((expected_sum or 0.0) + 0.002)
    assert sample(
        "embed_oauth_http_requests_total", route=route, method="GET", status="200"
    ) == len(latencies)
    assert sample("embed_oauth_http_requests_total", route=route, method="GET", status="503") == 1


async def test_cleanup_job_purges_expired_rows_while_the_app_runs() -> None:
    backend = open_backend("memory://")
    storage = backend.storage
    past = datetime.now(UTC) - timedelta(minutes=1)
    future = datetime.now(UTC) + timedelta(minutes=10)
    await storage.used_states.mark_used(b"\x01" * 16, past)
    await storage.used_states.mark_used(b"\x02" * 16, future)
    await storage.refresh_locks.acquire("c1", "h", past - timedelta(minutes=1), past)
    settings = Settings.from_env(
        {"EMBED_OAUTH_DATABASE_URL": "memory://", "EMBED_OAUTH_CLEANUP_INTERVAL_SECONDS": "1"}
    )
    app = create_app(settings, backend=backend, keyring=Keyring.parse(generate_key_spec()))
    async with AsyncTestClient(app):
        for _ in range(40):
            if not await storage.used_states.is_used(b"\x01" * 16):
                break
            await asyncio.sleep(0.1)
    assert not await storage.used_states.is_used(b"\x01" * 16)
    assert await storage.used_states.is_used(b"\x02" * 16)
    assert await storage.refresh_locks.acquire("c1", "other", past, future)


async def test_metrics_can_require_a_bearer_token() -> None:
    token = "m" * 32
    settings = Settings(database_url="memory://", metrics_token=token)
    app = create_app(settings, keyring=Keyring.parse(generate_key_spec()))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "unauthenticated"
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200
        assert "embed_oauth_http_requests_total" in allowed.text


async def test_every_response_says_nosniff_and_https_adds_hsts(api: Api) -> None:
    """The api fixture's public URL is https."""
    for answer in (
        await api.client.get("/health/live"),
        await api.get("/credentials"),
        await api.get("/no/such/route"),
        await api.client.get(api.callback_path),
        await api.post("/embed/x/connector/y/oauth2/initialise", {}),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
        assert answer.headers["strict-transport-security"] == "max-age=63072000"


async def test_no_hsts_on_a_plain_http_public_url() -> None:
    settings = Settings(database_url="memory://", public_url="http://127.0.0.1:8000")
    app = create_app(settings, keyring=Keyring.parse(generate_key_spec()))
    async with AsyncTestClient(app) as client:
        answer = await client.get("/health/live")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in answer.headers
