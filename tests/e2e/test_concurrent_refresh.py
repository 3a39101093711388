"""Concurrent access-token calls across two service processes on one database: exactly one
refresh reaches the provider, and every caller gets the refreshed token."""

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
    oauth_client = provider.register(f"{public}/oauth2/callback")
    with serving(env, first_port) as first, serving(env, second_port) as second:
        org = create_organisation(env)
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
            provider.expires_in = 30  # inside the 60 s refresh margin: due at once
            returned = await asyncio.to_thread(consent, url, "allow", f"{public}/oauth2/callback")
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
            provider.expires_in = 3600  # the refreshed token is fresh
            before = len(provider.refresh_requests())
            responses = await asyncio.gather(
                *(
                    client.post(f"{base}/connections/{connection['id']}/access-token")
                    for base in [first, second] * 12
                )
            )
    assert [r.status_code for r in responses] == [200] * 24, [r.text for r in responses]
    assert len(provider.refresh_requests()) - before == 1
    tokens = {r.json()["accessToken"] for r in responses}
    assert len(tokens) == 1
    assert tokens <= set(provider.tokens)


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
