"""The whole authorization-code flow against a real OAuth 2.0 server (Authlib) on loopback."""

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from application.ports.storage import Storage
from tests.conftest import SQL_BACKENDS, migrated_backend
from tests.support.oauth_provider import PASSWORD, USERNAME, Client, Provider, RunningProvider

PUBLIC_URL = "http://127.0.0.1:8765"
APP_ORIGIN = "https://app.example"


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Flow:
    client: AsyncTestClient[Any]
    provider: Provider
    clock: MovableClock
    organisation_id: str
    api_key: str
    db_path: Path | None  # the SQLite file, when the backend is SQLite
    storage: Storage
    keyring: Keyring  # the service's

    async def new_organisation(self, name: str) -> tuple[str, str]:
        """Another organisation in the same service: its id and API key."""
        created = await create_organisation(self.storage, AesGcmSecretCipher(self.keyring))(name)
        return created.organisation.id, created.api_key

    @property
    def callback_path(self) -> str:
        return f"/oauth2/callback/{self.organisation_id}"

    @property
    def redirect_uri(self) -> str:
        """The organisation's redirect URI, to register with the provider."""
        return PUBLIC_URL + self.callback_path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def post(self, path: str, body: object) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth)

    async def connector(
        self, oauth_client: Client, *, pkce: bool = True, **extra: object
    ) -> dict[str, str]:
        credential = await self.post(
            "/credentials",
            {
                "name": "Test provider",
                "clientId": oauth_client.client_id,
                "clientSecret": oauth_client.client_secret,
            },
        )
        hub = await self.post("/hubs", {"name": "Main", "allowedOrigins": [APP_ORIGIN]})
        connector = await self.post(
            f"/hubs/{hub.json()['id']}/connectors",
            {
                "name": "Test provider",
                "tokenUrl": self.provider.token_url,
                "pkce": pkce,
                "tokenAuthMethod": oauth_client.auth_method,
                **extra,
            },
        )
        assert connector.status_code == 201, connector.text
        return {
            "credential": credential.json()["id"],
            "hub": hub.json()["id"],
            "connector": connector.json()["id"],
            "client_id": oauth_client.client_id,
        }

    async def initialise(self, ids: dict[str, str], scopes: list[str] | None = None) -> str:
        response = await self.post(
            f"/embed/{ids['hub']}/connector/{ids['connector']}/oauth2/initialise",
            {
                "authorizeUrl": self.provider.authorize_url,
                "clientId": ids["client_id"],
                "credential": {"id": ids["credential"], "organisationId": self.organisation_id},
                "scopes": scopes or ["contacts.read"],
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["url"])

    async def connect(
        self, ids: dict[str, str], code: str, state: str, user: str = "u-1"
    ) -> httpx.Response:
        return await self.post(
            f"/hubs/{ids['hub']}/users/{user}/connections",
            {"connectorId": ids["connector"], "code": code, "state": state},
        )


def consent(url: str, decision: str = "allow", redirect_uri: str | None = None) -> dict[str, str]:
    """What a person does at the provider: sign in and allow (or deny). Returns the query of
    the redirect back to our callback (by default, the authorize URL's redirect URI)."""
    redirect_uri = redirect_uri or parse_qs(urlsplit(url).query)["redirect_uri"][0]
    with httpx.Client() as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        answer = browser.post(
            url, data={"username": USERNAME, "password": PASSWORD, "decision": decision}
        )
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(redirect_uri + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture(scope="module")
def running_provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    yield running
    running.stop()


@asynccontextmanager
async def running_flow(
    kind: str, tmp_path: Path, running: RunningProvider, **settings: Any
) -> AsyncIterator[Flow]:
    """The application on ``kind``'s database, an organisation, and the provider reset to
    its defaults; ``settings`` override the service's."""
    provider = running.provider
    provider.expires_in, provider.send_iss, provider.iss_value = 3600, False, None
    provider.token_delay = 0.0
    async with migrated_backend(kind, tmp_path) as backend:
        keyring = Keyring.parse(generate_key_spec())
        created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
        clock = MovableClock()
        app = create_app(
            Settings(database_url="unused://", public_url=PUBLIC_URL, **settings),
            backend=backend,
            keyring=keyring,
            clock=clock,
        )
        async with AsyncTestClient(app) as client:
            yield Flow(
                client,
                provider,
                clock,
                created.organisation.id,
                created.api_key,
                tmp_path / "test.sqlite3" if kind == "sqlite" else None,
                backend.storage,
                keyring,
            )


@pytest.fixture(params=SQL_BACKENDS)
async def flow(
    request: pytest.FixtureRequest, running_provider: RunningProvider, tmp_path: Path
) -> AsyncIterator[Flow]:
    async with running_flow(request.param, tmp_path, running_provider) as running:
        yield running


def posted_message(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="result"[^>]*>(.*?)</script>', page, re.S
    )
    assert match
    return dict(json.loads(match.group(1)))


async def test_full_flow_with_pkce_and_basic_authentication(flow: Flow) -> None:
    oauth_client = flow.provider.register(flow.redirect_uri, "client_secret_basic")
    ids = await flow.connector(oauth_client, pkce=True)
    url = await flow.initialise(ids, ["contacts.read", "openid"])
    returned = consent(url)

    page = await flow.client.get(flow.callback_path, params=returned)
    assert page.status_code == 200
    assert posted_message(page.text) == {
        "origins": [APP_ORIGIN],
        "message": {"state": returned["state"]},
        "codeFromUrl": True,  # the page reads the code from its own URL
        "paramsFromUrl": [],  # the connector keeps no callback parameters
    }
    assert returned["code"] not in page.text

    created = await flow.connect(ids, returned["code"], returned["state"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "id", "hubId", "userId", "connectorId", "credentialId", "name", "scopes",
        "expiresAt", "status", "createdAt", "lastRefreshedAt", "refreshFailures", "statusReason",
        "metadata",
    }  # fmt: skip
    assert body["metadata"] == {}
    assert body["userId"] == "u-1"
    assert body["status"] == "active"
    assert body["scopes"] == ["contacts.read", "openid", "offline_access"]
    exchange = flow.provider.token_requests[-1]
    assert exchange.grant_type == "authorization_code"
    assert exchange.basic_auth
    assert "client_secret" not in exchange.form
    assert exchange.form["redirect_uri"] == flow.redirect_uri
    assert len(exchange.form["code_verifier"]) == 43
    issued = {t.access_token for t in flow.provider.tokens.values()}
    for token in issued:
        assert token not in created.text

    answer = await flow.client.post(f"/connections/{body['id']}/access-token", headers=flow.auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accessToken"] in issued
    assert answer.json()["tokenType"] == "Bearer"
    listed = await flow.client.get(f"/hubs/{ids['hub']}/users/u-1/connections", headers=flow.auth)
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]
    assert (await flow.client.get(f"/connections/{body['id']}", headers=flow.auth)).json() == body


async def test_flow_without_pkce_and_with_client_secret_post(flow: Flow) -> None:
    oauth_client = flow.provider.register(flow.redirect_uri, "client_secret_post")
    ids = await flow.connector(oauth_client, pkce=False)
    url = await flow.initialise(ids)
    assert "code_challenge" not in url
    returned = consent(url)
    created = await flow.connect(ids, returned["code"], returned["state"])
    assert created.status_code == 201, created.text
    exchange = flow.provider.token_requests[-1]
    assert not exchange.basic_auth
    assert exchange.form["client_id"] == oauth_client.client_id
    assert exchange.form["client_secret"] == oauth_client.client_secret
    assert "code_verifier" not in exchange.form


async def test_denied_consent_is_passed_on_and_creates_nothing(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids), decision="deny")
    assert returned["error"] == "access_denied"
    page = await flow.client.get(flow.callback_path, params=returned)
    assert page.status_code == 400
    message = posted_message(page.text)["message"]
    assert message["error"] == "access_denied"
    assert "code" not in message
    listed = await flow.client.get(f"/hubs/{ids['hub']}/users/u-1/connections", headers=flow.auth)
    assert listed.json()["items"] == []


async def test_replayed_state_is_refused_without_calling_the_provider(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    assert (await flow.connect(ids, returned["code"], returned["state"])).status_code == 201
    before = len(flow.provider.token_requests)
    replay = await flow.connect(ids, returned["code"], returned["state"])
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_state"
    assert "already used" in replay.json()["message"]
    assert len(flow.provider.token_requests) == before
    page = await flow.client.get(flow.callback_path, params=returned)
    assert page.status_code == 400
    assert posted_message(page.text)["origins"] == []


async def test_expired_state_is_refused(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    flow.clock.offset = timedelta(minutes=10, seconds=1)
    page = await flow.client.get(flow.callback_path, params=returned)
    assert page.status_code == 400
    assert "expired" in page.text
    response = await flow.connect(ids, returned["code"], returned["state"])
    assert response.status_code == 400
    assert "expired" in response.json()["message"]


async def test_state_used_on_another_hub_is_refused(flow: Flow) -> None:
    oauth_client = flow.provider.register(flow.redirect_uri)
    first = await flow.connector(oauth_client)
    second = await flow.connector(oauth_client)
    returned = consent(await flow.initialise(first))
    response = await flow.connect(second, returned["code"], returned["state"])
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_state"
    assert (await flow.connect(first, returned["code"], returned["state"])).status_code == 201


async def test_wrong_iss_is_refused_and_the_code_is_not_passed_on(flow: Flow) -> None:
    ids = await flow.connector(
        flow.provider.register(flow.redirect_uri),
        issuer=flow.provider.issuer.replace("127.0.0.1", "localhost"),
    )
    flow.provider.send_iss = True
    returned = consent(await flow.initialise(ids))
    assert returned["iss"] == flow.provider.issuer
    page = await flow.client.get(flow.callback_path, params=returned)
    assert page.status_code == 400
    message = posted_message(page.text)["message"]
    assert message["error"] == "invalid_issuer"
    assert "code" not in message
    assert returned["code"] not in page.text


async def test_matching_iss_is_accepted_and_a_missing_one_only_when_not_sent(flow: Flow) -> None:
    oauth_client = flow.provider.register(flow.redirect_uri)
    expects_iss = await flow.connector(oauth_client, issuer=flow.provider.issuer)
    flow.provider.send_iss = True
    returned = consent(await flow.initialise(expects_iss))
    assert (await flow.client.get(flow.callback_path, params=returned)).status_code == 200

    flow.provider.send_iss = False
    returned = consent(await flow.initialise(expects_iss))
    assert (await flow.client.get(flow.callback_path, params=returned)).status_code == 400

    no_iss = await flow.connector(
        oauth_client, issuer=flow.provider.issuer, issParameterSupported=False
    )
    returned = consent(await flow.initialise(no_iss))
    assert (await flow.client.get(flow.callback_path, params=returned)).status_code == 200


async def test_refresh_rotates_the_refresh_token_and_stores_it(flow: Flow) -> None:
    flow.provider.expires_in = 120
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
    path = f"/connections/{connection['id']}/access-token"
    before = len(flow.provider.refresh_requests())  # the provider outlives each test
    first = (await flow.client.post(path, headers=flow.auth)).json()
    assert len(flow.provider.refresh_requests()) == before

    for round_number in (1, 2):
        flow.clock.offset += timedelta(seconds=61)  # within the 60 s margin of expiry
        refreshed = await flow.client.post(path, headers=flow.auth)
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["accessToken"] != first["accessToken"]
        assert len(flow.provider.refresh_requests()) == before + round_number
        first = refreshed.json()
    # the second refresh used the rotated token: the provider revoked the first one
    used = [r.form["refresh_token"] for r in flow.provider.refresh_requests()[before:]]
    assert used[0] != used[1]
    assert (await flow.client.post(path, headers=flow.auth)).json() == first


async def test_invalid_grant_marks_the_connection_for_reauthorisation(flow: Flow) -> None:
    flow.provider.expires_in = 30
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
    flow.provider.revoke_all_tokens()
    flow.clock.offset = timedelta(seconds=16)  # within half the 30-s lifetime of expiry
    response = await flow.client.post(
        f"/connections/{connection['id']}/access-token", headers=flow.auth
    )
    assert response.status_code == 409
    assert response.json()["code"] == "reauthorisation_required"
    stored = await flow.client.get(f"/connections/{connection['id']}", headers=flow.auth)
    assert stored.json()["status"] == "reauthorisation_required"
    assert stored.json()["statusReason"] == "invalid_grant"


async def test_bad_grant_at_the_provider_is_a_400_carrying_its_error(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    response = await flow.connect(ids, "not-the-code", returned["state"])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "provider_rejected"
    assert body["provider"]["error"] == "invalid_grant"
    listed = await flow.client.get(f"/hubs/{ids['hub']}/users/u-1/connections", headers=flow.auth)
    assert listed.json()["items"] == []


async def test_deleting_a_connection_destroys_its_tokens(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
    in_use = await flow.client.delete(f"/credentials/{ids['credential']}", headers=flow.auth)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "credential_in_use"
    path = f"/connections/{connection['id']}"
    if flow.db_path is None:  # PostgreSQL: the row is gone (VACUUM reclaims its space later)
        assert (await flow.client.delete(path, headers=flow.auth)).status_code == 204
        assert (await flow.client.get(path, headers=flow.auth)).status_code == 404
        return
    with sqlite3.connect(flow.db_path) as db:
        (sealed,) = db.execute(
            "SELECT sealed_access_token FROM connections WHERE id = ?", (connection["id"],)
        ).fetchone()
    wal = flow.db_path.with_name(flow.db_path.name + "-wal")
    assert sealed.encode() in flow.db_path.read_bytes() + wal.read_bytes()
    assert (await flow.client.delete(path, headers=flow.auth)).status_code == 204
    assert (await flow.client.get(path, headers=flow.auth)).status_code == 404
    # secure_delete overwrote the row in the file, and the service emptied the WAL after it
    assert sealed.encode() not in flow.db_path.read_bytes()
    assert sealed.encode() not in wal.read_bytes()


async def test_racing_requests_with_one_state_create_exactly_one_connection(flow: Flow) -> None:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    responses = await asyncio.gather(
        *(flow.connect(ids, returned["code"], returned["state"]) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [201] + [400] * 9
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {"invalid_state"}
    listed = await flow.client.get(f"/hubs/{ids['hub']}/users/u-1/connections", headers=flow.auth)
    assert len(listed.json()["items"]) == 1


@pytest.mark.parametrize("deleted", ["hub", "connector"])
async def test_deleting_a_hub_or_connector_stops_its_tokens_at_once_on_this_instance(
    flow: Flow, deleted: str
) -> None:
    oauth_client = flow.provider.register(flow.redirect_uri)
    ids = await flow.connector(oauth_client)
    returned = consent(await flow.initialise(ids, ["contacts.read"]))
    connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
    path = f"/connections/{connection['id']}/access-token"
    for _ in range(2):  # the connection is cached now
        assert (await flow.client.post(path, headers=flow.auth)).status_code == 200
    target = f"/hubs/{ids['hub']}" + (
        f"/connectors/{ids['connector']}" if deleted == "connector" else ""
    )
    assert (await flow.client.delete(target, headers=flow.auth)).status_code == 204
    gone = await flow.client.post(path, headers=flow.auth)
    assert gone.status_code == 404
    assert gone.json()["code"] == "connection_not_found"
    assert (
        await flow.client.get(f"/connections/{connection['id']}", headers=flow.auth)
    ).status_code == 404
