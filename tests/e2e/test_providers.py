"""The provider catalogue end to end: every entry connects through a loopback simulation of
its provider's documented endpoints, and connectors made by hand get the same behaviours
from their settings. Revocation runs against the tests' real authorization server."""

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.test_oauth_flow import Flow, consent, running_flow, running_provider
from tests.support.oauth_provider import RunningProvider
from tests.support.simulated_providers import PROFILES, Profile, RunningSimulation, Simulation
from tests.support.webhook_receiver import Receiver, RunningReceiver

__all__ = ["running_provider"]

REQUIRED = {
    "google", "microsoft", "salesforce", "hubspot", "slack", "github", "gitlab", "atlassian",
    "notion", "dropbox", "box", "zoom", "xero", "quickbooks", "linear", "asana", "airtable",
    "pipedrive", "calendly", "intercom",
}  # fmt: skip


@pytest.fixture
async def flow(running_provider: RunningProvider, tmp_path: Path) -> AsyncIterator[Flow]:
    async with running_flow(
        "sqlite", tmp_path, running_provider, webhook_retry_seconds=(1, 1)
    ) as running:
        yield running


async def setup(flow: Flow, sim: Simulation, **connector: object) -> dict[str, str]:
    credential = await flow.post(
        "/credentials",
        {"name": "c", "clientId": sim.client_id, "clientSecret": sim.client_secret},
    )
    hub = await flow.post("/hubs", {"name": "h"})
    made = await flow.post(f"/hubs/{hub.json()['id']}/connectors", {"name": "c", **connector})
    assert made.status_code == 201, made.text
    return {
        "credential": credential.json()["id"],
        "hub": hub.json()["id"],
        "connector": made.json()["id"],
        "client_id": sim.client_id,
    }


async def authorize(flow: Flow, ids: dict[str, str], authorize_url: str) -> dict[str, str]:
    """Initialise, then consent at the simulation: the callback's query."""
    started = await flow.post(
        f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise",
        {
            "authorizeUrl": authorize_url,
            "clientId": ids["client_id"],
            "credential": {"id": ids["credential"], "organisationId": flow.organisation_id},
            "scopes": ["read", "write"],
        },
    )
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(started.json()["url"])
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


async def connect(flow: Flow, ids: dict[str, str], query: dict[str, str]) -> httpx.Response:
    extra = {k: v for k, v in query.items() if k not in ("code", "state")}
    return await flow.post(
        f"/hubs/{ids['hub']}/users/u-1/connections",
        {
            "connectorId": ids["connector"],
            "code": query["code"],
            "state": query["state"],
            "callbackParams": extra,
        },
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = RunningReceiver()
    yield running.receiver
    running.stop()


async def test_the_catalogue_lists_every_provider_with_its_sources(flow: Flow) -> None:
    listed = await flow.client.get("/providers", headers=flow.auth)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert {p["id"] for p in items} >= REQUIRED
    for entry in items:
        assert entry["docsUrl"].startswith("https://")
        assert entry["authorizeUrl"].startswith("https://")
        assert entry["tokenUrl"].startswith("https://")
        one = await flow.client.get(f"/providers/{entry['id']}", headers=flow.auth)
        assert one.json() == entry
    missing = await flow.client.get("/providers/nope", headers=flow.auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "provider_not_found"
    assert (await flow.client.get("/providers")).status_code == 401


@pytest.mark.parametrize("provider", sorted(PROFILES))
async def test_every_catalogue_entry_connects_refreshes_and_passes_refusals_on(
    flow: Flow, provider: str
) -> None:
    running = RunningSimulation(PROFILES[provider])
    sim, profile = running.simulation, PROFILES[provider]
    try:
        template = (await flow.client.get(f"/providers/{provider}", headers=flow.auth)).json()
        ids = await setup(
            flow,
            sim,
            provider=provider,
            tokenUrl=sim.token_url,  # the template's own endpoints are real providers'
            authorizeUrl=sim.authorize_url,
        )
        connector = (
            await flow.client.get(
                f"/hubs/{ids['hub']}/connectors/{ids['connector']}", headers=flow.auth
            )
        ).json()
        assert connector["provider"] == provider
        assert connector["tokenUrl"] == sim.token_url
        assert connector["authorizeParams"] == template["authorizeParams"]

        query = await authorize(flow, ids, sim.authorize_url)
        assert "error" not in query, query
        page = await flow.client.get(flow.callback_path, params=query)
        assert page.status_code == 200, page.text
        assert result_of(page.text)["paramsFromUrl"] == template["callbackParams"]
        created = await connect(flow, ids, query)
        assert created.status_code == 201, created.text
        connection = created.json()
        expected_metadata = {
            name: str(value)
            for name in template["metadataFields"]
            if (value := _at(profile.extra, name)) is not None
        } | {name: profile.callback_extra[name] for name in template["callbackParams"]}
        assert connection["metadata"] == expected_metadata
        assert set(profile.needs) <= set(connection["metadata"])
        # granted with commas or spaces as the provider does, read as two scopes either way
        assert {"read", "write"} <= set(connection["scopes"])
        assert not any("," in scope for scope in connection["scopes"])
        assert len(expected_metadata) == len(template["metadataFields"]) + len(
            template["callbackParams"]
        )
        path = f"/connections/{connection['id']}/access-token"
        token = (await flow.client.post(path, headers=flow.auth)).json()
        assert token["accessToken"] == sim.access_tokens[-1]

        if profile.refresh != "never":
            assert sim.refresh_tokens, "the template did not ask for a refresh token"
            lifetime = profile.expires_in or template["defaultExpiresInSeconds"]
            flow.clock.offset += timedelta(seconds=lifetime)
            refreshed = await flow.client.post(path, headers=flow.auth)
            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["accessToken"] == sim.access_tokens[-1] != token["accessToken"]
            assert sim.token_requests[-1]["body"]["grant_type"] == "refresh_token"
        else:
            assert not sim.refresh_tokens

        again = await authorize(flow, ids, sim.authorize_url)
        refused = await connect(flow, ids, {**again, "code": "not-a-code"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "provider_rejected"
    finally:
        running.stop()


def result_of(page: str) -> dict[str, Any]:
    """What the callback page's script is given."""
    found = re.search(r'<script type="application/json" id="result"[^>]*>(.*?)</script>', page)
    assert found
    return dict(json.loads(found.group(1)))


def _at(payload: dict[str, Any], path: str) -> object:
    value: object = payload
    for segment in path.split("."):
        value = value.get(segment) if isinstance(value, dict) else None
    return value


async def test_settings_make_an_unlisted_provider_work(flow: Flow) -> None:
    """A provider with Notion's habits and Slack's nesting, configured by hand."""
    profile = PROFILES["notion"]
    nested = type(profile)(
        **{
            **profile.__dict__,
            "nest": "authed_user",
            "expires_in": None,
            "extra": {"team": {"id": "T9"}},
        }
    )
    running = RunningSimulation(nested)
    sim = running.simulation
    try:
        ids = await setup(
            flow,
            sim,
            tokenUrl=sim.token_url,
            authorizeUrl=sim.authorize_url,
            tokenAuthMethod="client_secret_basic",
            tokenRequestFormat="json",
            authorizeParams={"owner": "user"},
            offlineAccess="none",
            tokenResponsePath="authed_user",
            metadataFields=["team.id"],
            defaultExpiresInSeconds=600,
        )
        connection = await connect(flow, ids, await authorize(flow, ids, sim.authorize_url))
        assert connection.status_code == 201, connection.text
        assert connection.json()["metadata"] == {"team.id": "T9"}
        assert connection.json()["expiresAt"] is not None  # the assumed 600 s
        assert "offline_access" not in connection.json()["scopes"]
        conflict = await flow.post(
            f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise",
            {
                "authorizeUrl": sim.authorize_url,
                "clientId": sim.client_id,
                "credential": {"id": ids["credential"], "organisationId": flow.organisation_id},
                "additionalParams": "owner=workspace",
            },
        )
        assert conflict.status_code == 409
        assert conflict.json()["code"] == "parameter_conflict"
        elsewhere = await flow.post(
            f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise",
            {
                "authorizeUrl": "https://evil.example/authorize",
                "clientId": sim.client_id,
                "credential": {"id": ids["credential"], "organisationId": flow.organisation_id},
            },
        )
        assert elsewhere.status_code == 400
        assert elsewhere.json()["fields"][0]["field"] == "authorizeUrl"
    finally:
        running.stop()


async def test_metadata_named_like_a_secret_and_bad_settings_are_refused(flow: Flow) -> None:
    hub = (await flow.post("/hubs", {"name": "h"})).json()["id"]
    answer = await flow.post(
        f"/hubs/{hub}/connectors",
        {
            "name": "c",
            "tokenUrl": "https://p.example/token",
            "metadataFields": ["instance_url", "id_token"],
            "callbackParams": ["code"],
            "authorizeParams": {"redirect_uri": "https://evil.example"},
            "defaultPrompt": "none consent",
            "tokenAuthMethod": "none",
            "pkce": False,
            "revocationUrl": "ftp://p.example/revoke",
        },
    )
    assert answer.status_code == 400, answer.text
    fields = {f["field"] for f in answer.json()["fields"]}
    assert fields == {
        "metadataFields[1]",
        "callbackParams[0]",
        "authorizeParams.redirect_uri",
        "defaultPrompt",
        "pkce",
        "revocationUrl",
    }
    unknown = await flow.post(f"/hubs/{hub}/connectors", {"name": "c", "provider": "nope"})
    assert unknown.status_code == 400
    assert unknown.json()["fields"][0]["field"] == "provider"


async def test_a_public_client_sends_no_secret(flow: Flow) -> None:
    running = RunningSimulation(Profile(auth="none", pkce_required=True))
    sim = running.simulation
    try:
        ids = await setup(flow, sim, tokenUrl=sim.token_url, tokenAuthMethod="none", pkce=True)
        created = await connect(flow, ids, await authorize(flow, ids, sim.authorize_url))
        assert created.status_code == 201, created.text
        assert "client_secret" not in sim.token_requests[-1]["body"]
        assert "authorization" not in sim.token_requests[-1]["headers"]
    finally:
        running.stop()


async def test_deleting_a_connection_revokes_its_tokens_at_the_provider(
    flow: Flow, receiver: Receiver
) -> None:
    await flow.post("/webhooks", {"url": receiver.url, "events": ["connection.deleted"]})
    ids = await flow.connector(
        flow.provider.register(flow.redirect_uri), revocationUrl=flow.provider.revocation_url
    )
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
    access = (
        await flow.client.post(f"/connections/{connection['id']}/access-token", headers=flow.auth)
    ).json()["accessToken"]
    issued = flow.provider.tokens[access]
    before = len(flow.provider.revocation_requests)
    deleted = await flow.client.delete(f"/connections/{connection['id']}", headers=flow.auth)
    assert deleted.status_code == 204
    hints = [r["token_type_hint"] for r in flow.provider.revocation_requests[before:]]
    assert hints == ["refresh_token", "access_token"]
    assert not flow.provider.grant_alive(issued.grant)
    async with httpx.AsyncClient() as client:  # the refresh token no longer works there
        refused = await client.post(
            flow.provider.token_url,
            data={"grant_type": "refresh_token", "refresh_token": issued.refresh_token or ""},
            auth=(issued.client_id, flow.provider.clients[issued.client_id].client_secret),
        )
    assert refused.status_code == 400
    event = (await asyncio.to_thread(receiver.wait_for, 1))[0]
    assert '"revoked":true' in event.body.decode()


async def test_a_failed_revocation_does_not_stop_the_deletion(
    flow: Flow, receiver: Receiver
) -> None:
    await flow.post("/webhooks", {"url": receiver.url, "events": ["connection.deleted"]})
    ids = await flow.connector(
        flow.provider.register(flow.redirect_uri), revocationUrl=flow.provider.revocation_url
    )
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
    flow.provider.revocation_status = 503
    try:
        deleted = await flow.client.delete(f"/connections/{connection['id']}", headers=flow.auth)
    finally:
        flow.provider.revocation_status = 200
    assert deleted.status_code == 204
    gone = await flow.client.get(f"/connections/{connection['id']}", headers=flow.auth)
    assert gone.status_code == 404
    event = (await asyncio.to_thread(receiver.wait_for, 1))[0]
    assert '"revoked":false' in event.body.decode()
    metrics = (await flow.client.get("/metrics")).text
    assert 'embed_oauth_revocations_total{outcome="failed"}' in metrics


class MetadataServer:
    """Serves issuers with odd metadata: ``/redirect`` answers 302, ``/huge`` a document over
    the size cap, ``/oidc-only`` only OpenID Connect Discovery, ``/other`` another issuer."""

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer = f"{server.base_url}/{self.path.rsplit('/', 1)[-1]}"
                if self.path.endswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", f"{server.base_url}/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.endswith("/huge"):
                    body = json.dumps({"issuer": issuer, "pad": "x" * 300_000}).encode()
                elif self.path == "/oidc-only/.well-known/openid-configuration":
                    body = json.dumps({
                        "issuer": f"{server.base_url}/oidc-only",
                        "authorization_endpoint": f"{server.base_url}/oidc-only/authorize",
                        "token_endpoint": f"{server.base_url}/oidc-only/token",
                        "token_endpoint_auth_methods_supported": ["client_secret_post"],
                        "authorization_response_iss_parameter_supported": True,
                    }).encode()  # fmt: skip
                elif self.path.endswith("/other"):
                    body = json.dumps({"issuer": "https://someone.else.example"}).encode()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


async def discover(flow: Flow, **body: object) -> httpx.Response:
    hub = (await flow.post("/hubs", {"name": "h"})).json()["id"]
    return await flow.post(f"/hubs/{hub}/connectors", {"name": "d", "discover": True, **body})


async def test_discovery_reads_the_real_servers_metadata_and_explicit_fields_win(
    flow: Flow,
) -> None:
    provider = flow.provider
    found = await discover(flow, issuer=provider.issuer)
    assert found.status_code == 201, found.text
    body = found.json()
    assert (body["authorizeUrl"], body["tokenUrl"], body["revocationUrl"]) == (
        provider.authorize_url,
        provider.token_url,
        provider.revocation_url,
    )
    assert (body["tokenAuthMethod"], body["pkce"], body["issParameterSupported"]) == (
        "client_secret_basic",
        True,
        False,
    )
    chosen = await discover(
        flow, issuer=provider.issuer, tokenAuthMethod="client_secret_post", pkce=False
    )
    assert (chosen.json()["tokenAuthMethod"], chosen.json()["pkce"]) == (
        "client_secret_post",
        False,
    )
    # A connector made by discovery connects end to end.
    oauth_client = provider.register(flow.redirect_uri, "client_secret_basic")
    ids = await flow.connector(oauth_client, issuer=provider.issuer, discover=True)
    returned = await asyncio.to_thread(consent, await flow.initialise(ids))
    assert (await flow.connect(ids, returned["code"], returned["state"])).status_code == 201


async def test_discovery_refuses_what_it_cannot_trust(flow: Flow) -> None:
    server = MetadataServer()
    base = server.base_url
    try:
        oidc = await discover(flow, issuer=f"{base}/oidc-only")
        assert oidc.status_code == 201, oidc.text
        assert oidc.json()["tokenAuthMethod"] == "client_secret_post"
        assert oidc.json()["issParameterSupported"] is True
        for issuer, words in [
            (f"{base}/other", "not '" + base),  # its issuer is another one
            (f"{base}/redirect", "redirect (HTTP 302)"),
            (f"{base}/huge", "larger than allowed"),
            (f"{base}/missing", "has no metadata at"),
        ]:
            refused = await discover(flow, issuer=issuer)
            assert refused.status_code == 400, (issuer, refused.text)
            (error,) = refused.json()["fields"]
            assert error["field"] == "issuer"
            assert words in error["message"], error
        none = await discover(flow)
        assert none.json()["fields"] == [{"field": "issuer", "message": "is required to discover"}]
    finally:
        server.stop()


async def test_discovery_in_production_refuses_private_addresses(
    running_provider: RunningProvider, tmp_path: Path
) -> None:
    async with running_flow(
        "sqlite", tmp_path, running_provider, allow_local_providers=False
    ) as flow:
        refused = await discover(flow, issuer="https://127.0.0.1:1")
    assert refused.status_code == 400
    (error,) = refused.json()["fields"]
    assert error["field"] == "issuer"
    assert "could not be read" in error["message"]
