"""The webhook endpoints through the real application, on SQLite and PostgreSQL."""

import base64

from tests.adapters.http.conftest import Api
from tests.adapters.http.test_http_api import assert_error

ALL_EVENTS = sorted(
    [
        "connection.created",
        "connection.reconnected",
        "connection.reauthorisation_required",
        "connection.refresh_failed",
        "connection.recovered",
        "connection.deleted",
    ]
)


async def test_a_webhook_is_created_with_its_secret_once_then_listed_without_it(api: Api) -> None:
    created = await api.post("/webhooks", {"url": "https://hooks.example/in", "description": "CRM"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "id",
        "organisationId",
        "url",
        "events",
        "description",
        "secret",
        "createdAt",
    }
    assert body["events"] == ALL_EVENTS
    assert body["secret"].startswith("whsec_")
    assert 24 <= len(base64.b64decode(body["secret"].removeprefix("whsec_"))) <= 64
    read = (await api.get(f"/webhooks/{body['id']}")).json()
    assert read == {k: v for k, v in body.items() if k != "secret"}
    assert (await api.get("/webhooks")).json() == {"items": [read], "next": None}
    assert body["secret"] not in (await api.get("/webhooks")).text

    rotated = await api.post(f"/webhooks/{body['id']}/rotate-secret", None)
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"secret"}
    assert rotated.json()["secret"] != body["secret"]

    assert (await api.delete(f"/webhooks/{body['id']}")).status_code == 204
    assert_error(await api.get(f"/webhooks/{body['id']}"), 404, "webhook_not_found")


async def test_bad_webhooks_are_refused_with_every_field_named(api: Api) -> None:
    refused = await api.post(
        "/webhooks",
        {"url": "ftp://hooks.example/in", "events": ["connection.created", "connection.gone"]},
    )
    error = assert_error(refused, 400, "invalid_input")
    assert {f["field"] for f in error["fields"]} == {"url", "events[1]"}
    only = await api.post(
        "/webhooks", {"url": "https://hooks.example/in", "events": ["connection.deleted"]}
    )
    assert only.json()["events"] == ["connection.deleted"]


async def test_deliveries_are_paged_and_unknown_ones_are_404(api: Api) -> None:
    hook = (await api.post("/webhooks", {"url": "https://hooks.example/in"})).json()
    path = f"/webhooks/{hook['id']}/deliveries"
    assert (await api.get(path)).json() == {"items": [], "next": None}
    assert_error(await api.get(f"{path}?limit=0"), 400)
    assert_error(await api.get(f"{path}?limit=201"), 400)
    assert_error(await api.post(f"{path}/01900000-0000-7000-8000-000000000001/retry", None), 404)
    assert_error(await api.get("/webhooks/01900000-0000-7000-8000-000000000001/deliveries"), 404)


async def test_responses_carrying_a_secret_or_token_are_never_stored(api: Api) -> None:
    hook = await api.post("/webhooks", {"url": "https://hooks.example/in"})
    rotated = await api.post(f"/webhooks/{hook.json()['id']}/rotate-secret", None)
    hub = (await api.post("/hubs", {"name": "h"})).json()
    session = await api.post("/connect-sessions", {"hubId": hub["id"], "userId": "u"})
    for response in (hook, rotated, session):
        assert response.status_code in (200, 201), response.text
        assert response.headers["cache-control"] == "no-store"
