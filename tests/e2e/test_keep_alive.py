"""The keep-alive job against the real provider: a connection about to expire is refreshed
without any request, and two instances running the job on one database refresh it once."""

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from tests.conftest import SQL_BACKENDS, migrated_backend
from tests.e2e.test_oauth_flow import PUBLIC_URL, Flow, MovableClock, consent
from tests.support.oauth_provider import RunningProvider


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_two_instances_keep_an_idle_connection_alive_with_one_refresh(
    backend: str, tmp_path: Path
) -> None:
    running = RunningProvider()
    provider = running.provider
    provider.expires_in, provider.reuse_revokes_grant = 4, True
    settings = Settings(
        database_url="unused://",
        public_url=PUBLIC_URL,
        refresh_job_interval=timedelta(seconds=1),
    )
    keyring = Keyring.parse(generate_key_spec())
    try:
        async with migrated_backend(backend, tmp_path) as shared, AsyncExitStack() as stack:
            created = await create_organisation(shared.storage, AesGcmSecretCipher(keyring))("Acme")
            clients = [
                await stack.enter_async_context(
                    AsyncTestClient(create_app(settings, backend=shared, keyring=keyring))
                )
                for _ in range(2)  # two instances on one database, each running the job
            ]
            flow = Flow(
                clients[0], provider, MovableClock(), created.organisation.id,
                created.api_key, None, shared.storage, keyring,
            )  # fmt: skip
            ids = await flow.connector(provider.register(flow.redirect_uri))
            returned = consent(await flow.initialise(ids))
            connection = (await flow.connect(ids, returned["code"], returned["state"])).json()
            provider.expires_in = 3600  # the refreshed token is long-lived: one refresh
            before = len(provider.refresh_requests())
            for _ in range(60):  # due 2 s after issue (half the lifetime); the job runs each 1 s
                await asyncio.sleep(0.1)
                if len(provider.refresh_requests()) > before:
                    break
            await asyncio.sleep(2.5)  # both jobs ran at least twice more
            shown = await clients[1].get(f"/connections/{connection['id']}", headers=flow.auth)
    finally:
        running.stop()
    assert len(provider.refresh_requests()) - before == 1
    assert provider.revoked_grants == []
    assert shown.json()["lastRefreshedAt"] is not None
    assert shown.json()["status"] == "active"
