"""A crash loses no acknowledged connection: SIGKILL under load, restart, check every 201."""

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.crypto.keyring import generate_key_spec
from tests.e2e.test_oauth_flow import consent
from tests.support.oauth_provider import RunningProvider
from tests.support.processes import create_organisation, free_port, serving, start_server
from tests.support.provisioning import provision

pytestmark = pytest.mark.slow


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    yield running
    running.stop()


def test_every_acknowledged_connection_survives_sigkill(
    tmp_path: Path, provider: RunningProvider
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'crash.sqlite3'}",
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": base,
    }
    org = create_organisation(env)
    oauth_client = provider.provider.register(f"{base}/oauth2/callback/{org['organisationId']}")
    headers = {"Authorization": f"Bearer {org['apiKey']}"}
    with serving(env, port), httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        ids = provision(client, provider.provider, oauth_client, org["organisationId"])
        grants = [consent(ids.authorize_url(client, provider.provider), "allow") for _ in range(40)]

    process = start_server(env, port, new_session=True)
    acknowledged: list[dict[str, Any]] = []
    provider.provider.token_delay = 0.1  # exchanges overlap, so the kill lands among them

    async def create_then_kill() -> None:
        enough = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:

            async def create(n: int, grant: dict[str, str]) -> None:
                await asyncio.sleep(n * 0.025)  # a steady stream of requests
                response = await client.post(
                    f"/hubs/{ids.hub_id}/users/u-{n}/connections",
                    json={
                        "connectorId": ids.connector_id,
                        "code": grant["code"],
                        "state": grant["state"],
                    },
                )
                if response.status_code == 201:
                    acknowledged.append(response.json())
                    if len(acknowledged) >= 10:
                        enough.set()

            tasks = [asyncio.create_task(create(n, grant)) for n, grant in enumerate(grants)]
            await enough.wait()
            # The server and its worker, at once, mid-load: some requests are in flight.
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(create_then_kill())
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert 10 <= len(acknowledged) < len(grants), "the kill should land while requests run"

    with serving(env, port), httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for connection in acknowledged:
            stored = client.get(f"/connections/{connection['id']}")
            assert stored.status_code == 200
            assert stored.json() == connection
            token = client.post(f"/connections/{connection['id']}/access-token")
            assert token.status_code == 200
            assert token.json()["accessToken"] in provider.provider.tokens
