"""A provider in trouble during a refresh, over real HTTP (the Authlib provider on loopback,
which rotates refresh tokens and revokes the grant when a rotated one comes back): what is
stored afterwards, and what callers are told."""

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
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

LIFETIME = 60  # the effective margin is 30 s: 31 s in, a token is due but still valid


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    running.provider.expires_in = LIFETIME
    running.provider.reuse_revokes_grant = True
    yield running
    running.stop()


@pytest.fixture(params=SQL_BACKENDS)
async def flow(
    request: pytest.FixtureRequest, provider: RunningProvider, tmp_path: Path
) -> AsyncIterator[Flow]:
    settings = Settings(
        database_url="unused://",
        public_url=PUBLIC_URL,
        token_timeout=timedelta(seconds=1),  # the lock's lease is 3 s
        refresh_job=False,
    )
    async with migrated_backend(request.param, tmp_path) as backend:
        keyring = Keyring.parse(generate_key_spec())
        created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
        clock = MovableClock()
        app = create_app(settings, backend=backend, keyring=keyring, clock=clock)
        async with AsyncTestClient(app) as client:
            yield Flow(
                client,
                provider.provider,
                clock,
                created.organisation.id,
                created.api_key,
                None,
                backend.storage,
                keyring,
            )


async def connected(flow: Flow) -> str:
    ids = await flow.connector(flow.provider.register(flow.redirect_uri))
    returned = consent(await flow.initialise(ids))
    created = await flow.connect(ids, returned["code"], returned["state"])
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def token(flow: Flow, connection_id: str) -> httpx.Response:
    return await flow.client.post(f"/connections/{connection_id}/access-token", headers=flow.auth)


async def shown(flow: Flow, connection_id: str) -> dict[str, object]:
    answer = await flow.client.get(f"/connections/{connection_id}", headers=flow.auth)
    return dict(answer.json())


async def test_429_with_retry_after_while_the_token_is_valid_keeps_serving_it(
    flow: Flow,
) -> None:
    connection_id = await connected(flow)
    first = (await token(flow, connection_id)).json()["accessToken"]
    flow.clock.offset = timedelta(seconds=31)  # due, still valid
    flow.provider.refresh_faults = [(429, {"Retry-After": "7"})]
    before = len(flow.provider.refresh_requests())
    for _ in range(20):  # one provider call, then held back for 7 s
        answer = await token(flow, connection_id)
        assert answer.status_code == 200
        assert answer.json()["accessToken"] == first
    assert len(flow.provider.refresh_requests()) - before == 1
    health = await shown(flow, connection_id)
    assert (health["status"], health["refreshFailures"]) == ("active", 1)
    flow.clock.offset += timedelta(seconds=8)  # past the provider's Retry-After
    refreshed = await token(flow, connection_id)
    assert refreshed.json()["accessToken"] != first
    assert (await shown(flow, connection_id))["refreshFailures"] == 0


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [((429, {"Retry-After": "7"}), 503, "7"), ((500, {}), 502, None)],
)
async def test_a_failed_refresh_of_an_expired_token_is_clear_and_backed_off(
    flow: Flow, fault: tuple[int, dict[str, str]], status: int, retry_after: str | None
) -> None:
    connection_id = await connected(flow)
    flow.clock.offset = timedelta(seconds=LIFETIME + 1)  # expired
    flow.provider.refresh_faults = [fault]
    before = len(flow.provider.refresh_requests())
    failed = await token(flow, connection_id)
    assert failed.status_code == status, failed.text
    assert failed.headers.get("retry-after") == retry_after
    for _ in range(20):  # a crowd during the backoff: told when to come back, no provider call
        held = await token(flow, connection_id)
        assert held.status_code == 503
        assert held.json()["code"] == "refresh_backing_off"
        assert 0 < int(held.headers["retry-after"]) <= int(retry_after or 1)
    assert len(flow.provider.refresh_requests()) - before == 1
    assert (await shown(flow, connection_id))["status"] == "active"
    flow.clock.offset += timedelta(seconds=8)
    recovered = await token(flow, connection_id)
    assert recovered.status_code == 200
    assert (await shown(flow, connection_id))["refreshFailures"] == 0


async def test_a_response_lost_after_the_provider_rotated_ends_in_a_clear_state(
    flow: Flow,
) -> None:
    """The provider rotates, then answers after 4 s: past the 1-s client timeout and the
    3-s lease, so the answer is lost. The stored refresh token is the one the provider
    rotated away; the next refresh presents it, the provider revokes the whole grant, and
    the connection says so instead of keeping a dead refresh token."""
    connection_id = await connected(flow)
    flow.clock.offset = timedelta(seconds=LIFETIME + 1)
    flow.provider.delay_after_refresh = 4.0
    lost = await token(flow, connection_id)
    assert lost.status_code == 504, lost.text
    stored = await shown(flow, connection_id)
    assert (stored["status"], stored["refreshFailures"]) == ("active", 1)
    flow.provider.delay_after_refresh = 0.0
    flow.clock.offset += timedelta(seconds=2)  # past the backoff
    refused = await token(flow, connection_id)
    assert refused.status_code == 409
    assert refused.json()["code"] == "reauthorisation_required"
    assert len(flow.provider.revoked_grants) == 1
    final = await shown(flow, connection_id)
    assert (final["status"], final["statusReason"]) == ("reauthorisation_required", "invalid_grant")
