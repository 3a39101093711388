"""Tenant isolation: another organisation's key sees nothing, changes nothing, and cannot use
our states; no key or a wrong key gets 401. On SQLite and PostgreSQL."""

from typing import Any

from tests.e2e.test_oauth_flow import Flow, consent, flow, running_provider
from tests.support.end_user_keys import generate

__all__ = ["flow", "running_provider"]  # fixtures this module uses


async def snapshot(flow: Flow, paths: list[str]) -> list[Any]:
    return [(await flow.client.get(p, headers=flow.auth)).json() for p in paths]


async def test_another_organisation_gets_404_everywhere_and_changes_nothing(flow: Flow) -> None:
    a = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(a))
    connection = (await flow.connect(a, returned["code"], returned["state"])).json()
    pending_state = consent(await flow.initialise(a))  # an unused state of A's
    hook = (await flow.post("/webhooks", {"url": "https://hooks.example/a"})).json()
    key = (
        await flow.post("/signing-keys", {"name": "k", "publicKey": generate("ec").public_pem})
    ).json()

    b_id, b_key = await flow.new_organisation("B")
    b_auth = {"Authorization": f"Bearer {b_key}"}
    hub, conn, cred, cid = a["hub"], a["connector"], a["credential"], connection["id"]
    readable = [
        f"/credentials/{cred}",
        f"/hubs/{hub}",
        f"/hubs/{hub}/connectors",
        f"/hubs/{hub}/connectors/{conn}",
        f"/hubs/{hub}/users/u-1/connections",
        f"/connections/{cid}",
        f"/webhooks/{hook['id']}",
        f"/webhooks/{hook['id']}/deliveries",
        f"/signing-keys/{key['id']}",
    ]
    before = await snapshot(flow, readable)
    initialise_body = {
        "authorizeUrl": flow.provider.authorize_url,
        "clientId": a["client_id"],
        "credential": {"id": cred, "organisationId": b_id},
    }
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        *[("GET", p, None) for p in readable],
        ("DELETE", f"/credentials/{cred}", None),
        ("DELETE", f"/hubs/{hub}/connectors/{conn}", None),
        ("DELETE", f"/connections/{cid}", None),
        ("DELETE", f"/hubs/{hub}", None),
        ("POST", f"/hubs/{hub}/connectors", {"name": "x", "tokenUrl": "https://x.example/t"}),
        ("POST", f"/embed/{hub}/connector/{conn}/oauth2/initialise", initialise_body),
        (
            "POST",
            f"/hubs/{hub}/users/u-1/connections",
            {"connectorId": conn, "code": pending_state["code"], "state": pending_state["state"]},
        ),
        ("POST", f"/connections/{cid}/access-token", None),
        ("POST", f"/webhooks/{hook['id']}/rotate-secret", None),
        ("DELETE", f"/webhooks/{hook['id']}", None),
        ("DELETE", f"/signing-keys/{key['id']}", None),
        ("POST", "/connect-sessions", {"hubId": hub, "userId": "u-1"}),
    ]
    for method, path, body in attempts:
        response = await flow.client.request(method, path, json=body, headers=b_auth)
        assert response.status_code == 404, (method, path, response.text)
        assert set(response.json()) <= {"code", "message", "fields"}
        for secret_id in (hub, conn, cred, cid):
            assert secret_id not in response.json()["message"]
    for path in ("/credentials", "/hubs", "/webhooks", "/signing-keys"):
        assert (await flow.client.get(path, headers=b_auth)).json() == {"items": [], "next": None}
    assert await snapshot(flow, readable) == before

    # A's unused state is still A's: B could not spend it, and A still can.
    b_hub = (await flow.client.post("/hubs", json={"name": "b"}, headers=b_auth)).json()
    b_conn = (
        await flow.client.post(
            f"/hubs/{b_hub['id']}/connectors",
            json={"name": "p", "tokenUrl": flow.provider.token_url},
            headers=b_auth,
        )
    ).json()
    stolen = await flow.client.post(
        f"/hubs/{b_hub['id']}/users/u-1/connections",
        json={
            "connectorId": b_conn["id"],
            "code": pending_state["code"],
            "state": pending_state["state"],
        },
        headers=b_auth,
    )
    assert stolen.status_code == 400
    assert stolen.json()["code"] == "invalid_state"
    own = await flow.connect(a, pending_state["code"], pending_state["state"], user="u-2")
    assert own.status_code == 201


async def test_no_key_or_a_wrong_key_is_401_on_every_protected_route(flow: Flow) -> None:
    routes = [
        ("GET", "/credentials"),
        ("POST", "/credentials"),
        ("GET", "/credentials/x"),
        ("DELETE", "/credentials/x"),
        ("GET", "/hubs"),
        ("POST", "/hubs"),
        ("GET", "/hubs/x"),
        ("DELETE", "/hubs/x"),
        ("GET", "/hubs/x/connectors"),
        ("POST", "/hubs/x/connectors"),
        ("GET", "/hubs/x/connectors/y"),
        ("DELETE", "/hubs/x/connectors/y"),
        ("POST", "/embed/x/connector/y/oauth2/initialise"),
        ("GET", "/hubs/x/users/u/connections"),
        ("POST", "/hubs/x/users/u/connections"),
        ("GET", "/connections/x"),
        ("DELETE", "/connections/x"),
        ("POST", "/connections/x/access-token"),
    ]
    for headers in ({}, {"Authorization": "Bearer eo_wrong"}, {"Authorization": "Basic x"}):
        for method, path in routes:
            response = await flow.client.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["code"] == "unauthenticated"
