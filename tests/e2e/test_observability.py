"""Request ids, JSON access logs without secrets, Prometheus metrics, and the cleanup job."""

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from adapters.bootstrap import create_app, open_backend
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.observability import JsonFormatter, request_id_var
from adapters.settings import Settings
from tests.e2e.conftest import Api


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_response_carries_a_request_id_and_a_valid_one_is_kept(api: Api) -> None:
    generated = await api.client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 16
    kept = await api.client.get("/health/live", headers={"X-Request-ID": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
    replaced = await api.client.get("/health/live", headers={"X-Request-ID": "bad id\n!"})
    assert replaced.headers["x-request-id"] != "bad id\n!"


async def test_access_log_is_structured_and_never_contains_the_query(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="embed_oauth.access")
    await api.client.get(
        "/oauth2/callback",
        params={"code": "secret-code-123", "state": "secret-state"},
        headers={"X-Request-ID": "req-1"},
    )
    records = [r for r in caplog.records if r.name == "embed_oauth.access"]
    assert records
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["method"] == "GET"
    assert line["path"] == "/oauth2/callback"
    assert line["route"] == "/oauth2/callback"
    assert line["status"] == 400
    assert line["duration_ms"] >= 0
    assert "secret-code-123" not in caplog.text
    assert "secret-state" not in caplog.text


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
    before = sample("embed_oauth_http_requests_total", route=route, method="GET", status="200")
    await api.get("/credentials")
    await api.get("/credentials")
    after = sample("embed_oauth_http_requests_total", route=route, method="GET", status="200")
    assert after - before == 2
    unmatched = sample(
        "embed_oauth_http_requests_total", route="unmatched", method="GET", status="404"
    )
    await api.get("/no/such/route")
    assert (
        sample("embed_oauth_http_requests_total", route="unmatched", method="GET", status="404")
        == unmatched + 1
    )
    initialised = sample("embed_oauth_initialisations_total", outcome="404")
    await api.post(
        "/embed/x/connector/y/oauth2/initialise",
        {"authorizeUrl": "x", "clientId": "c", "credential": {"id": "a", "organisationId": "b"}},
    )
    assert sample("embed_oauth_initialisations_total", outcome="404") == initialised + 1
    exposed = await api.client.get("/metrics")
    assert exposed.status_code == 200
    assert "embed_oauth_http_request_duration_seconds_bucket" in exposed.text
    assert (
        "embed_oauth_refreshes_total" in exposed.text
        or "embed_oauth_code_exchanges_total" in exposed.text
    )


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
