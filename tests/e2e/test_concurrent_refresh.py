"""Concurrent access-token calls across two service processes on one database, against a
provider that issues 4-second access tokens, rotates refresh tokens and revokes the whole
grant when a rotated refresh token is presented again: exactly one refresh per token
lifetime reaches the provider, every caller of a round gets the same token, and the grant
survives."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.crypto.keyring import generate_key_spec
from tests.conftest import needs_postgres
from tests.e2e.test_oauth_flow import consent
from tests.support.oauth_provider import RunningProvider
from tests.support.processes import create_organisation, free_port, run_cli, serving

pytestmark = pytest.mark.slow
LIFETIME = 4
ROUNDS = 3


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    yield running
    running.stop()


async def run_scenario(database_url: str, tmp_path: Path, running: RunningProvider) -> None:
    provider = running.provider
    first_port, second_port = free_port(), free_port()
    public = f"http://127.0.0.1:{first_port}"
    env = {
        "EMBED_OAUTH_DATABASE_URL": database_url,
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": public,
    }
    if not database_url.startswith("sqlite"):
        run_cli(env, "db", "upgrade")
    with serving(env, first_port) as first, serving(env, second_port) as second:
        org = create_organisation(env)
        oauth_client = provider.register(f"{public}/oauth2/callback/{org['organisationId']}")
        headers = {"Authorization": f"Bearer {org['apiKey']}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            credential = (
                await client.post(
                    f"{first}/credentials",
                    json={
                        "name": "p",
                        "clientId": oauth_client.client_id,
                        "clientSecret": oauth_client.client_secret,
                    },
                )
            ).json()
            hub = (await client.post(f"{first}/hubs", json={"name": "h"})).json()
            connector = (
                await client.post(
                    f"{first}/hubs/{hub['id']}/connectors",
                    json={"name": "p", "tokenUrl": provider.token_url},
                )
            ).json()
            url = (
                await client.post(
                    f"{first}/embed/{hub['id']}/connector/{connector['id']}/oauth2/initialise",
                    json={
                        "authorizeUrl": provider.authorize_url,
                        "clientId": oauth_client.client_id,
                        "credential": {
                            "id": credential["id"],
                            "organisationId": org["organisationId"],
                        },
                    },
                )
            ).json()["url"]
            provider.expires_in = LIFETIME  # shorter than the 60-s margin: the rule halves it
            provider.reuse_revokes_grant = True
            returned = await asyncio.to_thread(consent, url, "allow")
            connection = (
                await client.post(
                    f"{second}/hubs/{hub['id']}/users/u-1/connections",
                    json={
                        "connectorId": connector["id"],
                        "code": returned["code"],
                        "state": returned["state"],
                    },
                )
            ).json()
            path = f"/connections/{connection['id']}/access-token"
            before = len(provider.refresh_requests())
            rounds = []
            for _ in range(ROUNDS):
                await asyncio.sleep(LIFETIME / 2 + 0.3)  # the last token is due now
                responses = await asyncio.gather(
                    *(client.post(f"{base}{path}") for base in [first, second] * 25)
                )
                assert [r.status_code for r in responses] == [200] * 50, [
                    r.text for r in responses if r.status_code != 200
                ]
                rounds.append({r.json()["accessToken"] for r in responses})
            status = (await client.get(f"{first}/connections/{connection['id']}")).json()
    refreshes = provider.refresh_requests()[before:]
    assert len(refreshes) == ROUNDS  # one per round: each token was due once, refreshed once
    assert all(len(tokens) == 1 for tokens in rounds)  # everyone got the refreshed token
    assert len(set().union(*rounds)) == ROUNDS
    sent = [r.form["refresh_token"] for r in refreshes]
    assert len(set(sent)) == ROUNDS  # each rotated refresh token presented exactly once
    assert provider.revoked_grants == []
    issued = provider.tokens[next(iter(rounds[-1]))]
    assert provider.grant_alive(issued.grant)
    assert status["status"] == "active"
    assert status["refreshFailures"] == 0
    assert status["lastRefreshedAt"] is not None


async def test_two_processes_on_sqlite_refresh_once(
    tmp_path: Path, provider: RunningProvider
) -> None:
    await run_scenario(f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}", tmp_path, provider)


@needs_postgres
@pytest.mark.postgres
async def test_two_processes_on_postgres_refresh_once(
    tmp_path: Path, provider: RunningProvider, fresh_postgres_database: str
) -> None:
    await run_scenario(fresh_postgres_database, tmp_path, provider)
