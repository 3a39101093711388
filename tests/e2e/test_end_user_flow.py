"""Binding states to end users, re-authorising in place, and one redirect URI per
organisation, against the tests' real authorization server."""

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.e2e.test_oauth_flow import Flow, consent, flow, running_provider

__all__ = ["flow", "running_provider"]


async def initialise(flow: Flow, ids: dict[str, str], **extra: object) -> httpx.Response:
    return await flow.post(
        f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise",
        {
            "authorizeUrl": flow.provider.authorize_url,
            "clientId": ids["client_id"],
            "credential": {"id": ids["credential"], "organisationId": flow.organisation_id},
            **extra,
        },
    )


async def test_reconnecting_keeps_the_connection_id_and_replaces_its_tokens(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    first = (await flow.connect(ids, returned["code"], returned["state"])).json()
    token_path = f"/connections/{first['id']}/access-token"
    old_token = (await flow.client.post(token_path, headers=flow.auth)).json()["accessToken"]

    again = await initialise(flow, ids, connectionId=first["id"])
    assert again.status_code == 200, again.text
    returned = consent(again.json()["url"])
    reconnected = await flow.connect(ids, returned["code"], returned["state"])
    assert reconnected.status_code == 201, reconnected.text
    assert reconnected.json()["id"] == first["id"]
    assert reconnected.json()["status"] == "active"
    listed = await flow.client.get(f"/hubs/{ids['hub']}/users/u-1/connections", headers=flow.auth)
    assert [c["id"] for c in listed.json()["items"]] == [first["id"]]
    new_token = (await flow.client.post(token_path, headers=flow.auth)).json()["accessToken"]
    assert new_token != old_token


async def test_reconnecting_a_connection_deleted_meanwhile_stores_nothing(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    first = (await flow.connect(ids, returned["code"], returned["state"])).json()
    url = (await initialise(flow, ids, connectionId=first["id"])).json()["url"]
    returned = consent(url)
    assert (
        await flow.client.delete(f"/connections/{first['id']}", headers=flow.auth)
    ).status_code == 204
    gone = await flow.connect(ids, returned["code"], returned["state"])
    assert gone.status_code == 404, gone.text
    listed = await flow.client.get(f"/hubs/{ids['hub']}/users/u-1/connections", headers=flow.auth)
    assert listed.json()["items"] == []


async def test_a_state_bound_by_the_api_key_serves_only_its_user_and_survives_refusal(
    flow: Flow,
) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    url = (await initialise(flow, ids, userId="u-a")).json()["url"]
    returned = consent(url)
    exchanges = len(flow.provider.token_requests)
    wrong = await flow.connect(ids, returned["code"], returned["state"], user="u-b")
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["code"] == "invalid_state"
    assert len(flow.provider.token_requests) == exchanges  # refused before the exchange
    right = await flow.connect(ids, returned["code"], returned["state"], user="u-a")
    assert right.status_code == 201, right.text
    assert right.json()["userId"] == "u-a"


async def test_a_second_organisation_with_the_first_ones_client_id_gets_no_code(
    flow: Flow,
) -> None:
    """B registers A's client ID. B's authorize URL carries B's redirect URI, which the
    provider does not know for that client: the provider refuses before anyone consents."""
    oauth_client = flow.provider.register(flow.redirect_uri)
    await flow.connector(oauth_client)
    b_id, b_key = await flow.new_organisation("B")
    b = Flow(
        flow.client, flow.provider, flow.clock, b_id, b_key, flow.db_path, flow.storage,
        flow.keyring,
    )  # fmt: skip
    ids_b = await b.connector(oauth_client)
    url = await b.initialise(ids_b)
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [b.redirect_uri]
    codes = dict(flow.provider.codes)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
    assert page.status_code >= 400
    assert "Redirect URI" in page.text
    assert flow.provider.codes == codes
