"""End-user tokens through the real application: signing keys, every JWT rule, connect
sessions, what an end user may reach, CORS, states bound to their user, and the callback of
each organisation."""

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from domain.model import Connection, ConnectionStatus, ConnectionTokens
from tests.adapters.http.conftest import Api
from tests.adapters.http.test_http_api import assert_error, initialise_body, initialise_path, setup
from tests.support.end_user_keys import (
    KeyPair,
    claims,
    generate,
    hmac_with_public_key,
    sign,
    unsigned,
)

APP_ORIGIN = "https://app.example"
RSA = generate("rsa")


async def register(api: Api, key: KeyPair) -> str:
    response = await api.post("/signing-keys", {"name": "backend", "publicKey": key.public_pem})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def as_user(api: Api, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": bearer(token)}
    if body is not None:
        kwargs["json"] = body
    return await api.client.request(method, path, **kwargs)


async def jwt_for(api: Api, hub_id: str, user: str = "u-1", key: KeyPair = RSA) -> str:
    kid = await register(api, key)
    return sign(key, kid, claims(user, hub_id, api.settings.public_url))


async def session_for(api: Api, hub_id: str, user: str = "u-1", **extra: Any) -> str:
    response = await api.post("/connect-sessions", {"hubId": hub_id, "userId": user, **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def stored_connection(api: Api, ids: dict[str, str], user: str) -> str:
    """A connection as a finished flow leaves it (no provider needed to read or delete it)."""
    connection_id = f"01900000-0000-7000-8000-{abs(hash((user, ids['hub']))) % 10**12:012d}"
    await api._storage.connections.add(
        Connection(
            id=connection_id,
            organisation_id=api.organisation_id,
            hub_id=ids["hub"],
            user_id=user,
            connector_id=ids["connector"],
            credential_id=ids["credential"],
            name="CRM",
            tokens=ConnectionTokens("Bearer", "v1.sealed", None, None, ()),
            status=ConnectionStatus.ACTIVE,
            created_at=datetime.now(UTC),
        )
    )
    return connection_id


@pytest.mark.parametrize(
    ("kind", "algorithm"), [("rsa", "RS256"), ("ec", "ES256"), ("ed25519", "EdDSA")]
)
async def test_a_signing_key_of_each_type_signs_tokens_that_authenticate_its_end_user(
    api: Api, kind: str, algorithm: str
) -> None:
    key = RSA if kind == "rsa" else generate(kind)
    ids = await setup(api)
    created = await api.post("/signing-keys", {"name": "backend", "publicKey": key.public_pem})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "organisationId", "name", "algorithm", "createdAt"}
    assert body["algorithm"] == algorithm
    assert body["organisationId"] == api.organisation_id
    assert (await api.get(f"/signing-keys/{body['id']}")).json() == body
    assert [k["id"] for k in (await api.get("/signing-keys")).json()["items"]] == [body["id"]]

    token = sign(key, body["id"], claims("u-1", ids["hub"], api.settings.public_url))
    listed = await as_user(api, token, "GET", f"/hubs/{ids['hub']}/users/u-1/connections")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("public_key", "reason"),
    [
        (generate("rsa", rsa_bits=1024).public_pem, "at least 2048 bits"),
        (generate("ec", curve=ec.SECP384R1()).public_pem, "P-256"),
        (RSA.private_pem.decode(), "BEGIN PUBLIC KEY"),
        ("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "readable"),
    ],
    ids=["rsa-1024", "ec-p384", "private-key", "garbage"],
)
async def test_unsupported_public_keys_are_refused(api: Api, public_key: str, reason: str) -> None:
    body = assert_error(
        await api.post("/signing-keys", {"name": "k", "publicKey": public_key}), 400
    )
    assert body["fields"][0]["field"] == "publicKey"
    assert reason in body["fields"][0]["message"]


def _without(payload: dict[str, Any], claim: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != claim}


async def test_every_jwt_rule_refuses_with_401_and_leeway_is_30_seconds(api: Api) -> None:
    ids = await setup(api)
    kid = await register(api, RSA)
    audience = api.settings.public_url
    now = int(time.time())
    good = claims("u-1", ids["hub"], audience)
    other_key = generate("rsa")
    deleted_kid = await register(api, RSA)
    assert (await api.delete(f"/signing-keys/{deleted_kid}")).status_code == 204
    refused = {
        "alg none": unsigned(kid, good),
        "HS256 keyed with the public key": hmac_with_public_key(RSA, kid, good),
        "another RSA algorithm": sign(RSA, kid, good, alg="RS512"),
        "unknown kid": sign(RSA, "01900000-0000-7000-8000-000000000999", good),
        "no kid": sign(RSA, None, good),
        "deleted kid": sign(RSA, deleted_kid, good),
        "bad signature": sign(other_key, kid, good),
        "wrong audience": sign(RSA, kid, {**good, "aud": "https://elsewhere.example"}),
        "expired": sign(RSA, kid, {**good, "iat": now - 700, "exp": now - 60}),
        "not yet valid (nbf)": sign(RSA, kid, {**good, "nbf": now + 120}),
        "issued in the future": sign(RSA, kid, {**good, "iat": now + 120, "exp": now + 600}),
        "lives over an hour": sign(RSA, kid, {**good, "exp": now + 3601}),
        "sub not a string": sign(RSA, kid, {**good, "sub": 42}),
        **{
            f"no {c}": sign(RSA, kid, _without(good, c))
            for c in ("sub", "hub", "aud", "iat", "exp")
        },
    }
    path = f"/hubs/{ids['hub']}/users/u-1/connections"
    for case, token in refused.items():
        response = await as_user(api, token, "GET", path)
        assert response.status_code == 401, (case, response.text)
        assert response.json()["code"] == "unauthenticated", case
    within_leeway = sign(RSA, kid, {**good, "iat": now - 600, "exp": now - 10})
    assert (await as_user(api, within_leeway, "GET", path)).status_code == 200
    assert (await as_user(api, sign(RSA, kid, good), "GET", path)).status_code == 200


async def test_connect_sessions_authenticate_until_revoked_or_expired(api: Api) -> None:
    ids = await setup(api)
    created = await api.post("/connect-sessions", {"hubId": ids["hub"], "userId": "u-1"})
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"token", "expiresAt"}
    token = created.json()["token"]
    expires = datetime.fromisoformat(created.json()["expiresAt"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    path = f"/hubs/{ids['hub']}/users/u-1/connections"
    assert (await as_user(api, token, "GET", path)).status_code == 200

    assert (await api.post("/connect-sessions/revoke", {"token": token})).status_code == 204
    assert (await as_user(api, token, "GET", path)).status_code == 401
    assert_error(await api.post("/connect-sessions/revoke", {"token": token}), 404)

    short = await session_for(api, ids["hub"], ttlSeconds=1)
    assert (await as_user(api, short, "GET", path)).status_code == 200
    await asyncio.sleep(1.2)
    assert (await as_user(api, short, "GET", path)).status_code == 401


async def test_connect_session_requests_are_checked(api: Api) -> None:
    ids = await setup(api)
    other = await setup(api)
    for body, status, field in [
        ({"hubId": ids["hub"], "userId": "u", "ttlSeconds": 0}, 400, "ttlSeconds"),
        ({"hubId": ids["hub"], "userId": "u", "ttlSeconds": 3601}, 400, "ttlSeconds"),
        ({"hubId": ids["hub"], "userId": ""}, 400, "userId"),
        ({"hubId": "01900000-0000-7000-8000-000000000999", "userId": "u"}, 404, "hubId"),
        ({"hubId": ids["hub"], "userId": "u", "connectorIds": [other["connector"]]}, 404, None),
    ]:
        error = assert_error(await api.post("/connect-sessions", body), status)
        if field:
            assert error["fields"][0]["field"] == field


async def test_a_connect_session_is_stored_only_as_a_keyed_hash(api: Api) -> None:
    ids = await setup(api)
    token = await session_for(api, ids["hub"])
    digest = hashlib.sha256(token.encode()).digest()
    assert await api._storage.connect_sessions.get(digest) is None  # not a plain hash


async def test_a_session_limited_to_some_connectors_sees_only_those(api: Api) -> None:
    ids = await setup(api)
    second = (
        await api.post(
            f"/hubs/{ids['hub']}/connectors",
            {"name": "Other", "tokenUrl": "https://crm.example/oauth/token"},
        )
    ).json()["id"]
    token = await session_for(api, ids["hub"], connectorIds=[ids["connector"]])
    allowed = await as_user(api, token, "POST", initialise_path(ids), initialise_body(api, ids))
    assert allowed.status_code == 200, allowed.text
    other = {**ids, "connector": second}
    refused = await as_user(api, token, "POST", initialise_path(other), initialise_body(api, ids))
    assert_error(refused, 404, "connector_not_found")


@pytest.fixture(params=["jwt", "session"])
def token_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def end_user_token(api: Api, kind: str, hub_id: str, user: str = "u-1") -> str:
    return await (jwt_for(api, hub_id, user) if kind == "jwt" else session_for(api, hub_id, user))


async def test_an_end_user_token_reaches_its_own_routes_and_nothing_else(
    api: Api, token_kind: str
) -> None:
    ids = await setup(api)
    other_hub = await setup(api)
    mine = await stored_connection(api, ids, "u-1")
    theirs = await stored_connection(api, ids, "u-2")
    elsewhere = await stored_connection(api, other_hub, "u-1")
    token = await end_user_token(api, token_kind, ids["hub"])

    assert (await as_user(api, token, "GET", f"/connections/{mine}")).status_code == 200
    listed = await as_user(api, token, "GET", f"/hubs/{ids['hub']}/users/u-1/connections")
    assert [c["id"] for c in listed.json()["items"]] == [mine]
    url = await as_user(api, token, "POST", initialise_path(ids), initialise_body(api, ids))
    assert url.status_code == 200, url.text

    forbidden = [
        ("GET", "/credentials", None),
        ("POST", "/credentials", {"name": "x", "clientId": "x", "clientSecret": "x"}),
        ("GET", "/hubs", None),
        ("POST", "/hubs", {"name": "x"}),
        ("GET", f"/hubs/{ids['hub']}", None),
        ("DELETE", f"/hubs/{ids['hub']}", None),
        ("GET", f"/hubs/{ids['hub']}/connectors", None),
        ("GET", "/signing-keys", None),
        ("POST", "/signing-keys", {"name": "x", "publicKey": RSA.public_pem}),
        ("POST", "/connect-sessions", {"hubId": ids["hub"], "userId": "u-2"}),
        ("GET", "/organisation", None),
        ("GET", "/webhooks", None),
        ("POST", "/webhooks", {"url": "https://hooks.example/in"}),
        ("POST", f"/connections/{mine}/access-token", None),
        ("GET", f"/hubs/{ids['hub']}/users/u-2/connections", None),
    ]
    for method, path, body in forbidden:
        response = await as_user(api, token, method, path, body)
        assert_error(response, 403, "forbidden")
    for method, path in [
        ("GET", f"/connections/{theirs}"),
        ("DELETE", f"/connections/{theirs}"),
        ("GET", f"/connections/{elsewhere}"),
        ("DELETE", f"/connections/{elsewhere}"),
        ("GET", f"/hubs/{other_hub['hub']}/users/u-1/connections"),
    ]:
        assert_error(await as_user(api, token, method, path), 404)
    other_initialise = await as_user(
        api, token, "POST", initialise_path(other_hub), initialise_body(api, other_hub)
    )
    assert_error(other_initialise, 404, "hub_not_found")
    for connection_id in (theirs, elsewhere):  # nothing was changed
        assert (await api.get(f"/connections/{connection_id}")).status_code == 200
    assert len((await api.get("/hubs")).json()["items"]) == 2

    assert (await as_user(api, token, "DELETE", f"/connections/{mine}")).status_code == 204
    assert (await api.get(f"/connections/{mine}")).status_code == 404


async def test_a_state_bound_to_an_end_user_creates_connections_only_for_them(
    api: Api, token_kind: str
) -> None:
    ids = await setup(api)
    token = await end_user_token(api, token_kind, ids["hub"], "u-a")
    other = await end_user_token(api, token_kind, ids["hub"], "u-b")
    url = (
        await as_user(api, token, "POST", initialise_path(ids), initialise_body(api, ids))
    ).json()["url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    body = {"connectorId": ids["connector"], "code": "c", "state": state}
    by_key = await api.post(f"/hubs/{ids['hub']}/users/u-b/connections", body)
    assert assert_error(by_key, 400, "invalid_state")["message"] == (
        "The state is issued for another user."
    )
    by_other = await as_user(api, other, "POST", f"/hubs/{ids['hub']}/users/u-b/connections", body)
    assert_error(by_other, 400, "invalid_state")
    by_token_for_b = await as_user(
        api, token, "POST", f"/hubs/{ids['hub']}/users/u-b/connections", body
    )
    assert_error(by_token_for_b, 403, "forbidden")


async def test_an_api_key_may_bind_a_state_and_an_end_user_may_not_name_another(
    api: Api,
) -> None:
    ids = await setup(api)
    url = (await api.post(initialise_path(ids), initialise_body(api, ids, userId="u-a"))).json()[
        "url"
    ]
    state = parse_qs(urlsplit(url).query)["state"][0]
    body = {"connectorId": ids["connector"], "code": "c", "state": state}
    assert_error(await api.post(f"/hubs/{ids['hub']}/users/u-b/connections", body), 400)
    token = await session_for(api, ids["hub"], "u-a")
    named = await as_user(
        api, token, "POST", initialise_path(ids), initialise_body(api, ids, userId="u-b")
    )
    assert_error(named, 403, "forbidden")
    bad = assert_error(
        await api.post(initialise_path(ids), initialise_body(api, ids, userId="a\x00b")), 400
    )
    assert [f["field"] for f in bad["fields"]] == ["userId"]


async def test_reconnect_names_a_connection_of_this_hub_connector_and_user(
    api: Api, token_kind: str
) -> None:
    ids = await setup(api)
    mine = await stored_connection(api, ids, "u-1")
    theirs = await stored_connection(api, ids, "u-2")
    token = await end_user_token(api, token_kind, ids["hub"])
    ok = await as_user(
        api, token, "POST", initialise_path(ids), initialise_body(api, ids, connectionId=mine)
    )
    assert ok.status_code == 200, ok.text
    for connection_id in (theirs, "01900000-0000-7000-8000-000000000999"):
        refused = await as_user(
            api,
            token,
            "POST",
            initialise_path(ids),
            initialise_body(api, ids, connectionId=connection_id),
        )
        error = assert_error(refused, 404, "connection_not_found")
        assert error["fields"] == [{"field": "connectionId", "message": "no such connection"}]


async def test_organisation_names_its_redirect_uri(api: Api) -> None:
    response = await api.get("/organisation")
    assert response.status_code == 200
    assert response.json() == {
        "id": api.organisation_id,
        "name": "Acme",
        "redirectUri": f"https://connect.example.org/oauth2/callback/{api.organisation_id}",
    }


async def test_the_callback_refuses_a_state_of_another_organisation(api: Api) -> None:
    """Organisation B registers A's client ID. Should a provider send B's state to A's
    redirect URI, A's callback page hands nothing on to any page."""
    ids_a = await setup(api)
    b_org, b_key = await api.new_organisation("B")
    ids_b = await setup(api, key=b_key)
    body_b = {
        **initialise_body(api, ids_b),
        "credential": {"id": ids_b["credential"], "organisationId": b_org},
    }
    url = (await api.post(initialise_path(ids_b), body_b, b_key)).json()["url"]
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [f"https://connect.example.org/oauth2/callback/{b_org}"]
    state = query["state"][0]
    page = await api.client.get(api.callback_path, params={"state": state, "code": "stolen"})
    assert page.status_code == 400
    assert "another organisation" in page.text
    result = page.text.split('id="result"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]
    assert json.loads(result)["origins"] == []
    own = await api.client.get(f"/oauth2/callback/{b_org}", params={"state": state, "code": "c"})
    assert own.status_code == 200
    del ids_a


async def test_cors_answers_the_end_user_routes_for_the_hubs_origins_only(api: Api) -> None:
    ids = await setup(api)
    connection_id = await stored_connection(api, ids, "u-1")
    end_user_paths = [
        initialise_path(ids),
        f"/hubs/{ids['hub']}/users/u-1/connections",
        f"/connections/{connection_id}",
    ]
    for path in end_user_paths:
        allowed = await api.client.options(
            path,
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert allowed.status_code == 204, path
        assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"]
        assert "DELETE" in allowed.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in allowed.headers
        stranger = await api.client.options(
            path,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in stranger.headers
    token = await session_for(api, ids["hub"])
    listed = await api.client.get(
        end_user_paths[1], headers={**bearer(token), "Origin": APP_ORIGIN}
    )
    assert listed.headers["access-control-allow-origin"] == APP_ORIGIN
    unauthenticated = await api.client.get(end_user_paths[1], headers={"Origin": APP_ORIGIN})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["access-control-allow-origin"] == APP_ORIGIN
    for path in ["/credentials", "/hubs", f"/connections/{connection_id}/access-token"]:
        for response in (
            await api.client.options(
                path, headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
            ),
            await api.client.get(path, headers={**api.auth(), "Origin": APP_ORIGIN}),
        ):
            assert "access-control-allow-origin" not in response.headers, path


async def test_an_end_user_reads_what_the_sdk_needs_of_its_connectors_only(api: Api) -> None:
    ids = await setup(api)
    hub = ids["hub"]
    made = await api.post(
        f"/hubs/{hub}/connectors", {"name": "HubSpot", "provider": "hubspot", "pkce": True}
    )
    path = f"/embed/{hub}/connector/{made.json()['id']}"
    token = await session_for(api, hub)
    seen = await api.client.get(path, headers={**bearer(token), "Origin": APP_ORIGIN})
    assert seen.status_code == 200, seen.text
    assert seen.json() == {
        "id": made.json()["id"],
        "name": "HubSpot",
        "provider": "hubspot",
        "authorizeUrl": "https://app.hubspot.com/oauth/authorize",
    }
    assert seen.headers["access-control-allow-origin"] == APP_ORIGIN
    limited = await session_for(api, hub, connectorIds=[ids["connector"]])
    assert_error(await as_user(api, limited, "GET", path), 404, "connector_not_found")
    other_hub = (await api.post("/hubs", {"name": "Other"})).json()["id"]
    elsewhere = await session_for(api, other_hub)
    assert_error(await as_user(api, elsewhere, "GET", path), 404, "hub_not_found")
    assert (await api.get(path)).status_code == 200  # the backend may read it too
