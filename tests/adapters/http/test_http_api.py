"""The HTTP API through the real application, on SQLite."""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.sealed_state import AesGcmStateSealer
from adapters.http.auth import PUBLIC_PATHS
from adapters.settings import Settings
from domain.pkce import s256_challenge
from domain.state import state_binding
from tests.adapters.http.conftest import Api

SECRET = "very-secret-client-secret"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"code", "message", "fields"}
    assert isinstance(body["code"], str)
    assert isinstance(body["message"], str)
    assert body["message"]
    if code:
        assert body["code"] == code
    for field in body.get("fields", []):
        assert set(field) == {"field", "message"}
    assert "Traceback" not in response.text
    return dict(body)


async def setup(api: Api, pkce: bool = True, key: str | None = None) -> dict[str, str]:
    credential = (
        await api.post(
            "/credentials", {"name": "CRM", "clientId": "crm-client", "clientSecret": SECRET}, key
        )
    ).json()
    hub = (
        await api.post("/hubs", {"name": "Main", "allowedOrigins": ["https://app.example"]}, key)
    ).json()
    connector = (
        await api.post(
            f"/hubs/{hub['id']}/connectors",
            {"name": "CRM", "tokenUrl": "https://crm.example/oauth/token", "pkce": pkce},
            key,
        )
    ).json()
    return {"credential": credential["id"], "hub": hub["id"], "connector": connector["id"]}


def initialise_path(ids: dict[str, str]) -> str:
    return f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise"


def initialise_body(api: Api, ids: dict[str, str], **extra: object) -> dict[str, object]:
    return {
        "authorizeUrl": "https://crm.example/oauth/authorize",
        "clientId": "crm-client",
        "credential": {"id": ids["credential"], "organisationId": api.organisation_id},
        **extra,
    }


async def test_credentials_are_created_listed_read_and_deleted_without_their_secret(
    api: Api,
) -> None:
    created = await api.post(
        "/credentials", {"name": "CRM", "clientId": "crm-client", "clientSecret": SECRET}
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "organisationId", "name", "clientId", "createdAt"}
    assert body["organisationId"] == api.organisation_id
    listed = await api.get("/credentials")
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]
    assert (await api.get(f"/credentials/{body['id']}")).json() == body
    for response in (created, listed):
        assert SECRET not in response.text
    assert (await api.delete(f"/credentials/{body['id']}")).status_code == 204
    assert_error(await api.get(f"/credentials/{body['id']}"), 404, "credential_not_found")


PROVIDER_SETTING_DEFAULTS: dict[str, object] = {
    "authorizeUrl": None,
    "authorizeParams": {},
    "offlineAccess": "scope",
    "defaultPrompt": None,
    "tokenRequestFormat": "form",
    "tokenResponsePath": None,
    "metadataFields": [],
    "callbackParams": [],
    "defaultExpiresInSeconds": None,
    "revocationUrl": None,
}


async def test_hubs_and_connectors_have_their_documented_shape_and_defaults(api: Api) -> None:
    hub = await api.post("/hubs", {"name": "Main"})
    assert hub.status_code == 201
    assert set(hub.json()) == {"id", "organisationId", "name", "allowedOrigins", "createdAt"}
    assert hub.json()["allowedOrigins"] == []
    hub_id = hub.json()["id"]
    connector = await api.post(
        f"/hubs/{hub_id}/connectors", {"name": "X", "tokenUrl": "https://x.example/token"}
    )
    assert connector.status_code == 201
    body = connector.json()
    assert set(body) == {
        "id",
        "hubId",
        "name",
        "tokenUrl",
        "scopeSeparator",
        "pkce",
        "tokenAuthMethod",
        "issuer",
        "issParameterSupported",
        "createdAt",
        *PROVIDER_SETTING_DEFAULTS,
        "provider",
    }
    assert (
        body["scopeSeparator"],
        body["pkce"],
        body["tokenAuthMethod"],
        body["issuer"],
        body["issParameterSupported"],
        body["provider"],
    ) == (" ", True, "client_secret_basic", None, True, None)
    assert {k: body[k] for k in PROVIDER_SETTING_DEFAULTS} == PROVIDER_SETTING_DEFAULTS
    assert (await api.get(f"/hubs/{hub_id}/connectors")).json()["items"] == [body]
    assert (await api.get(f"/hubs/{hub_id}/connectors/{body['id']}")).json() == body
    assert (await api.delete(f"/hubs/{hub_id}")).status_code == 204
    assert_error(await api.get(f"/hubs/{hub_id}/connectors/{body['id']}"), 404)


async def test_connector_options_are_validated(api: Api) -> None:
    hub_id = (await api.post("/hubs", {"name": "Main"})).json()["id"]
    path = f"/hubs/{hub_id}/connectors"
    ok = await api.post(
        path,
        {
            "name": "X",
            "tokenUrl": "https://x.example/token",
            "scopeSeparator": ",",
            "pkce": False,
            "tokenAuthMethod": "client_secret_post",
        },
    )
    assert ok.status_code == 201
    assert ok.json()["scopeSeparator"] == ","
    bad = await api.post(path, {"name": "X", "tokenUrl": "https://x", "scopeSeparator": ";"})
    assert assert_error(bad, 400)["fields"][0]["field"] == "scopeSeparator"
    bad = await api.post(path, {"name": "X", "tokenUrl": "http://x.example/t"})
    assert assert_error(bad, 400)["fields"][0]["field"] == "tokenUrl"


async def test_initialise_returns_the_authorize_url(api: Api) -> None:
    ids = await setup(api)
    response = await api.post(
        initialise_path(ids),
        initialise_body(
            api,
            ids,
            scopes=["contacts.read", "contacts.read"],
            prompt="consent+select_account",
            additionalParams="resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example",
        ),
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"url"}
    url = response.json()["url"]
    assert url.startswith("https://crm.example/oauth/authorize?")
    q = parse_qs(urlsplit(url).query)
    assert q["response_type"] == ["code"]
    assert q["client_id"] == ["crm-client"]
    assert q["redirect_uri"] == [api.redirect_uri]
    assert q["scope"] == ["contacts.read offline_access"]
    assert q["prompt"] == ["consent select_account"]
    assert q["resource"] == ["https://a.example", "https://b.example"]
    opened = AesGcmStateSealer(api.keyring).open(q["state"][0])
    assert opened is not None
    assert opened.claims.hub_id == ids["hub"]
    assert opened.claims.connector_id == ids["connector"]
    assert opened.claims.credential_id == ids["credential"]
    assert opened.claims.organisation_id == api.organisation_id
    assert opened.claims.binding == state_binding("crm-client", api.redirect_uri)
    assert q["code_challenge"] == [s256_challenge(opened.pkce_verifier)]
    assert opened.pkce_verifier not in url


async def test_empty_optional_strings_and_nulls_count_as_absent(api: Api) -> None:
    ids = await setup(api)
    url = (
        await api.post(
            initialise_path(ids),
            initialise_body(api, ids, prompt="", additionalParams="", scopes=None),
        )
    ).json()["url"]
    q = parse_qs(urlsplit(url).query)
    assert q["prompt"] == ["login"]
    assert q["scope"] == ["offline_access"]


async def test_initialise_without_pkce_has_no_challenge(api: Api) -> None:
    ids = await setup(api, pkce=False)
    url = (await api.post(initialise_path(ids), initialise_body(api, ids))).json()["url"]
    assert "code_challenge" not in parse_qs(urlsplit(url).query)


async def test_ownership_failures_are_clear_and_leak_nothing(api: Api) -> None:
    ids = await setup(api)
    other_org, other_key = await api.new_organisation("Other")
    other = await setup(api, key=other_key)

    response = await api.post(initialise_path(other), initialise_body(api, ids))
    assert_error(response, 404, "hub_not_found")
    mixed = {**ids, "connector": other["connector"]}
    assert_error(await api.post(initialise_path(mixed), initialise_body(api, ids)), 404)
    body = initialise_body(api, ids)
    body["credential"] = {"id": ids["credential"], "organisationId": other_org}
    forbidden = assert_error(await api.post(initialise_path(ids), body), 403, "forbidden")
    assert forbidden["fields"][0]["field"] == "credential.organisationId"
    body["credential"] = {"id": other["credential"], "organisationId": api.organisation_id}
    missing = assert_error(await api.post(initialise_path(ids), body), 404, "credential_not_found")
    assert missing["fields"] == [{"field": "credential.id", "message": "no such credential"}]
    assert other_org not in missing["message"]


async def test_client_id_mismatch_is_refused(api: Api) -> None:
    ids = await setup(api)
    body = initialise_body(api, ids, clientId="not-the-stored-one")
    error = assert_error(await api.post(initialise_path(ids), body), 400, "client_id_mismatch")
    assert error["fields"][0]["field"] == "clientId"


async def test_conflicting_parameter_is_a_409_naming_it(api: Api) -> None:
    ids = await setup(api)
    body = initialise_body(api, ids, additionalParams="redirect_uri=https%3A%2F%2Fevil.example")
    error = assert_error(await api.post(initialise_path(ids), body), 409, "parameter_conflict")
    assert "redirect_uri" in error["message"]
    assert error["fields"][0]["field"] == "additionalParams"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"authorizeUrl": "http://crm.example/auth"}, "authorizeUrl"),
        ({"scopes": ["ok", "not ok"]}, "scopes[1]"),
        ({"scopes": ["ok", 7]}, "scopes[1]"),
        ({"prompt": "none+login"}, "prompt"),
        ({"additionalParams": "a=%zz"}, "additionalParams"),
        ({"credential": {"id": 5, "organisationId": "x"}}, "credential.id"),
        ({"credential": {"id": "x"}}, "credential.organisationId"),
        ({"disableOfflineAccess": "yes"}, "disableOfflineAccess"),
        ({"unexpected": 1}, "unexpected"),
        ({"authorizeUrl": "https://x.example/" + "a" * 3000}, "authorizeUrl"),
    ],
)
async def test_invalid_bodies_are_400_naming_the_field(
    api: Api, change: dict[str, object], field: str
) -> None:
    ids = await setup(api)
    body = {**initialise_body(api, ids), **change}
    error = assert_error(await api.post(initialise_path(ids), body), 400, "invalid_input")
    assert field in [f["field"] for f in error["fields"]]


async def test_missing_required_field_is_named(api: Api) -> None:
    ids = await setup(api)
    body = initialise_body(api, ids)
    del body["clientId"]
    error = assert_error(await api.post(initialise_path(ids), body), 400)
    assert error["fields"][0]["field"] == "clientId"


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"null", "application/json", 400),
        (b"", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"{}", "text/plain", 415),
        (b"{}", "", 415),
        (b'{"a": "' + b"x" * 70_000 + b'"}', "application/json", 413),
    ],
)
async def test_malformed_requests_get_clear_4xx_errors(
    api: Api, content: bytes, content_type: str, status: int
) -> None:
    ids = await setup(api)
    headers = {**api.auth(), "Content-Type": content_type}
    response = await api.client.post(initialise_path(ids), content=content, headers=headers)
    assert_error(response, status)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 413, "EMBED_OAUTH_MAX_BODY_BYTES"),
        (b'{"name": ' + b"[" * 1_000 + b"]" * 1_000 + b"}", 400, "nested too deeply"),
        (b'{"name": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400, "nested too deeply"),
        (b'{"name": ' + b"[" * 50 + b"]" * 50 + b"}", 400, "Expected `str`"),
    ],
)
async def test_deeply_nested_json_is_refused_naming_the_limit(
    api: Api, body: bytes, status: int, words: str
) -> None:
    headers = {**api.auth(), "Content-Type": "application/json"}
    for path in ("/hubs", "/credentials"):
        response = await api.client.post(path, content=body, headers=headers)
        error = assert_error(response, status)
        assert words in error["message"] + str(error.get("fields", ""))


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer eo_wrong", "Bearer " + "x" * 5000],
)
async def test_requests_without_a_valid_api_key_are_401(
    api: Api, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.client.get("/credentials", headers=headers)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_authentication_comes_before_body_validation(api: Api) -> None:
    response = await api.client.post(
        "/embed/x/connector/y/oauth2/initialise",
        content=b"{bad",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 401)


async def test_other_organisations_objects_answer_404_on_every_route(api: Api) -> None:
    ids = await setup(api)
    _, other_key = await api.new_organisation("Other")
    hub, conn, cred = ids["hub"], ids["connector"], ids["credential"]
    for path in (
        f"/credentials/{cred}",
        f"/hubs/{hub}",
        f"/hubs/{hub}/connectors",
        f"/hubs/{hub}/connectors/{conn}",
    ):
        assert_error(await api.get(path, other_key), 404)
        if path != f"/hubs/{hub}/connectors":
            assert_error(await api.delete(path, other_key), 404)
    assert_error(
        await api.post(
            f"/hubs/{hub}/connectors", {"name": "x", "tokenUrl": "https://x.io/t"}, other_key
        ),
        404,
    )
    assert (await api.get("/credentials", other_key)).json() == {"items": [], "next": None}
    assert (await api.get(f"/credentials/{cred}")).status_code == 200
    assert (await api.get(f"/hubs/{hub}/connectors/{conn}")).status_code == 200


async def test_unknown_routes_and_methods_use_the_error_shape(api: Api) -> None:
    assert_error(await api.get("/nothing-here"), 404, "not_found")
    response = await api.client.put("/credentials", json={}, headers=api.auth())
    assert_error(response, 405, "method_not_allowed")


async def test_health_needs_no_key_and_checks_the_database(api: Api) -> None:
    assert (await api.client.get("/health/live")).json() == {"status": "ok"}
    assert (await api.client.get("/health/ready")).json() == {"status": "ok"}


async def test_openapi_schema_describes_the_api_with_a_viewer(api: Api) -> None:
    spec = (await api.client.get("/schema/openapi.json")).json()
    operation = spec["paths"]["/embed/{hub_id}/connector/{connector_id}/oauth2/initialise"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(request["required"]) == {"authorizeUrl", "clientId", "credential"}
    assert {"additionalParams", "disableOfflineAccess", "prompt", "scopes"} <= set(
        request["properties"]
    )
    assert {"200", "400", "401", "403", "404", "409", "413", "415"} <= set(operation["responses"])
    for path in ("/credentials", "/hubs", "/hubs/{hub_id}/connectors"):
        assert {"get", "post"} <= set(spec["paths"][path])
    viewer = await api.client.get("/schema")
    assert viewer.status_code == 200
    page = viewer.text
    assert "<html" in page.lower()
    assert "<script" not in page.lower()  # nothing runs, nothing is fetched from elsewhere
    assert "http://" not in page.replace('href="/schema/openapi.json"', "")
    assert "https://" not in page
    assert 'href="/schema/openapi.json"' in page
    assert "/embed/{hub_id}/connector/{connector_id}/oauth2/initialise" in page
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    for answer in (viewer, await api.client.get("/schema/openapi.json")):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src" not in policy  # so scripts fall back to 'none'


async def test_the_schema_routes_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"EMBED_OAUTH_DATABASE_URL": "memory://", "EMBED_OAUTH_SCHEMA": "off"}
    )
    app = create_app(settings, keyring=Keyring.parse(generate_key_spec()))
    async with AsyncTestClient(app) as client:
        for path in ("/schema", "/schema/openapi.json"):
            assert (await client.get(path)).status_code in (401, 404)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"{}", "text/plain"),
        (b'{"a": "' + b"x" * 70_000 + b'"}', "application/json"),
        (b"null", "application/json"),
        (b'{"nope": 1}', "application/json"),
    ],
)
async def test_the_lean_initialise_route_fails_exactly_like_the_ordinary_routes(
    api: Api, content: bytes, content_type: str
) -> None:
    """Initialise is an ASGI route handler inside Litestar's error handling: its failures
    come from the one error mapping, in the same words as every other route's."""
    ids = await setup(api)
    headers = {**api.auth(), "Content-Type": content_type}
    lean = await api.client.post(initialise_path(ids), content=content, headers=headers)
    ordinary = await api.client.post("/hubs", content=content, headers=headers)
    assert lean.status_code == ordinary.status_code
    assert lean.status_code in (400, 413, 415)
    assert (lean.json()["code"], lean.json()["message"]) == (
        ordinary.json()["code"],
        ordinary.json()["message"],
    )
    assert lean.headers["content-type"] == ordinary.headers["content-type"]


async def test_a_streamed_body_over_the_limit_is_413_without_a_length(api: Api) -> None:
    ids = await setup(api)

    chunks = [b" " * 8192] * 20  # 160 KiB, over the 64 KiB limit, with no Content-Length
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(), "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", api.auth()["Authorization"].encode())]
    headers.append((b"content-type", b"application/json"))
    headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": initialise_path(ids), "raw_path": initialise_path(ids).encode(),
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await api.client.app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    assert len(chunks) >= 10  # refused once over the limit, not after reading everything


async def test_the_lean_routes_allow_only_post(api: Api) -> None:
    ids = await setup(api)
    for path in (initialise_path(ids), "/connections/any/access-token"):
        response = await api.client.get(path, headers=api.auth())
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["allow"] == "POST"


async def test_initialise_decodes_by_type_so_deep_nesting_is_a_field_error(api: Api) -> None:
    ids = await setup(api)
    headers = {**api.auth(), "Content-Type": "application/json"}
    body = b'{"authorizeUrl": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    response = await api.client.post(initialise_path(ids), content=body, headers=headers)
    error = assert_error(response, 400, "invalid_input")
    assert error["fields"] == [{"field": "authorizeUrl", "message": "Expected `str`, got `array`"}]


async def test_every_list_is_paged_oldest_first_by_cursor(api: Api) -> None:
    ids = [(await api.post("/hubs", {"name": f"h{n}"})).json()["id"] for n in range(5)]
    seen: list[str] = []
    page = (await api.get("/hubs?limit=2")).json()
    while True:
        seen += [h["id"] for h in page["items"]]
        if page["next"] is None:
            break
        assert len(page["items"]) == 2
        newer = (await api.post("/hubs", {"name": "inserted while paging"})).json()["id"]
        ids.append(newer)
        page = (await api.get(f"/hubs?limit=2&after={page['next']}")).json()
    assert seen == sorted(ids)  # nothing skipped or repeated; inserts land at the end
    assert_error(await api.get("/hubs?limit=0"), 400)
    assert_error(await api.get("/hubs?limit=201"), 400)
    assert len((await api.get("/hubs?limit=200")).json()["items"]) == len(ids)
    for path in ("/credentials", "/signing-keys", "/webhooks", f"/hubs/{ids[0]}/connectors"):
        assert (await api.get(f"{path}?limit=1")).json() == {"items": [], "next": None}


async def test_every_registered_route_but_the_public_ones_refuses_a_request_without_a_key(
    api: Api,
) -> None:
    """Walks the routes the application registered, lean and ordinary, so that a route
    added later cannot miss the request checks."""
    refused = []
    for route in api.client.app.routes:
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        if PUBLIC_PATHS.match(path):
            continue
        methods = route.methods - {"OPTIONS"} if isinstance(route, HTTPRoute) else {"POST"}
        for method in sorted(methods):
            response = await api.client.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.json()["code"] == "unauthenticated"
            refused.append((method, path))
    assert ("POST", "/embed/x/connector/x/oauth2/initialise") in refused
    assert ("POST", "/connections/x/access-token") in refused
    assert len(refused) >= 30
