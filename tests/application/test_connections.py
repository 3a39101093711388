"""CreateConnection, GetAccessToken and HandleCallback over fakes."""

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.memory.repositories import InMemoryConnectionRepository, InMemoryRefreshLock
from application.access_tokens import GetAccessToken, RefreshPolicy
from application.callback import CallbackParams, HandleCallback
from application.callers import Caller
from application.connections import CreateConnection, NewConnection, access_token_context
from application.errors import (
    CredentialInUse,
    NotFound,
    ProviderBusy,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ReauthorisationRequired,
    RefreshBackingOff,
)
from application.initialise import InitialiseCommand
from application.keep_alive import RefreshIdleConnections
from application.ports.provider import TokenEndpointAnswer, TokenRequest
from application.states import InvalidState
from domain.errors import InvalidInput
from domain.model import ConnectionStatus
from domain.redirect_uri import redirect_uri
from tests.application.conftest import (
    CALLBACK_URL,
    ScriptedTokenEndpoint,
    Tenant,
    World,
    ok,
    wired,
)
from tests.fakes import ReversingCipher


@dataclass
class Kit:
    world: World
    endpoint: ScriptedTokenEndpoint
    create: CreateConnection
    access: GetAccessToken
    callback: HandleCallback


@pytest.fixture
def kit(world: World) -> Kit:
    services = world.services
    return Kit(
        world,
        world.endpoint,
        services.create_connection,
        services.access_token,
        services.callback,
    )


async def issue(kit: Kit, t: Tenant) -> str:
    url = await kit.world.initialise(
        InitialiseCommand(
            caller=Caller(t.organisation_id),
            hub_id=t.hub.id,
            connector_id=t.connector.id,
            authorize_url="https://p.example/authorize",
            client_id=t.credential.client_id,
            credential_id=t.credential.id,
            credential_organisation_id=t.organisation_id,
            scopes=["read"],
        )
    )
    return parse_qs(urlsplit(url).query)["state"][0]


def new(t: Tenant, state: str, code: str = "the-code", user: str = "user-1") -> NewConnection:
    return NewConnection(
        caller=Caller(t.organisation_id),
        hub_id=t.hub.id,
        user_id=user,
        connector_id=t.connector.id,
        code=code,
        state=state,
    )


async def test_code_exchange_sends_the_grant_and_stores_encrypted_tokens(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    state = await issue(kit, t)
    connection = await kit.create(new(t, state))
    sent = kit.endpoint.requests[0]
    assert sent.token_url == t.connector.token_url
    assert sent.client_id == t.credential.client_id
    assert sent.client_secret == "s3cr3t-value"
    form = dict(sent.form)
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["redirect_uri"] == redirect_uri(CALLBACK_URL, t.organisation_id)
    opened = kit.world.sealer.open(state)
    assert opened is not None
    assert form["code_verifier"] == opened.pkce_verifier
    assert connection.tokens.scopes == ("read", "offline_access")
    assert connection.name == t.connector.name
    assert "at-1" not in connection.tokens.sealed_access_token
    stored = await kit.world.storage.connections.get(t.organisation_id, connection.id)
    assert stored == connection


async def test_state_is_consumed_even_when_the_exchange_fails(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    state = await issue(kit, t)
    kit.endpoint.answers = [TokenEndpointAnswer(400, {"error": "invalid_grant"})]
    with pytest.raises(ProviderRejected):
        await kit.create(new(t, state))
    with pytest.raises(InvalidState, match="already used"):
        await kit.create(new(t, state))
    assert (
        await kit.world.storage.connections.list_for_user(t.organisation_id, t.hub.id, "user-1")
        == []
    )


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (TokenEndpointAnswer(503, None), ProviderUnavailable),
        (TokenEndpointAnswer(200, {"token_type": "Bearer"}), ProviderUnavailable),
        (ProviderTimeout("slow"), ProviderTimeout),
        (ProviderUnavailable("down"), ProviderUnavailable),
    ],
)
async def test_provider_failures_store_nothing(
    kit: Kit, answer: TokenEndpointAnswer | Exception, error: type[Exception]
) -> None:
    t = await kit.world.tenant("acme")
    kit.endpoint.answers = [answer]
    with pytest.raises(error):
        await kit.create(new(t, await issue(kit, t)))
    connections = kit.world.storage.connections
    assert isinstance(connections, InMemoryConnectionRepository)
    assert connections.rows == {}


async def test_deleted_credential_stops_the_exchange(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    state = await issue(kit, t)
    await kit.world.storage.credentials.delete(t.organisation_id, t.credential.id)
    with pytest.raises(NotFound):
        await kit.create(new(t, state))
    assert kit.endpoint.requests == []


async def test_invalid_fields_are_listed(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    with pytest.raises(InvalidInput, match="invalid fields") as caught:
        await kit.create(
            NewConnection(Caller(t.organisation_id), t.hub.id, "", "", "", "", name="x" * 300)
        )
    fields = {f.field for f in caught.value.fields}
    assert fields == {"user_id", "connectorId", "code", "state", "name"}


async def connected(kit: Kit, expires_in: int = 3600) -> tuple[Tenant, str]:
    t = await kit.world.tenant("acme")
    kit.endpoint.answers = [ok(expires_in=expires_in)]
    connection = await kit.create(new(t, await issue(kit, t)))
    kit.endpoint.requests.clear()
    return t, connection.id


async def due(kit: Kit) -> tuple[Tenant, str]:
    """A connection whose 30-s token is 20 s old: within half its lifetime of expiring."""
    connection = await connected(kit, expires_in=30)
    kit.world.clock.advance(timedelta(seconds=20))
    return connection


async def test_fresh_token_is_returned_without_asking_the_provider(kit: Kit) -> None:
    t, connection_id = await connected(kit)
    token = await kit.access(t.organisation_id, connection_id)
    assert token.access_token == "at-1"
    assert kit.endpoint.requests == []


async def test_expiring_token_is_refreshed_and_rotation_stored(kit: Kit) -> None:
    t, connection_id = await due(kit)
    kit.endpoint.answers = [ok("at-2", "rt-2")]
    token = await kit.access(t.organisation_id, connection_id)
    assert token.access_token == "at-2"
    assert dict(kit.endpoint.requests[0].form) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
    }
    stored = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert (
        ReversingCipher().decrypt(
            stored.tokens.sealed_access_token, context=access_token_context(connection_id)
        )
        == "at-2"
    )
    assert "rt-2"[::-1] in (stored.tokens.sealed_refresh_token or "")


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(kit: Kit) -> None:
    t, connection_id = await due(kit)
    before = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    kit.endpoint.answers = [ok("at-2", refresh=None)]
    await kit.access(t.organisation_id, connection_id)
    after = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert before is not None
    assert after is not None
    assert after.tokens.sealed_refresh_token == before.tokens.sealed_refresh_token


async def test_concurrent_calls_refresh_once(kit: Kit) -> None:
    t, connection_id = await due(kit)
    kit.endpoint.answers = [ok("at-2", "rt-2")]
    kit.endpoint.delay = 0.05
    tokens = await asyncio.gather(
        *(kit.access(t.organisation_id, connection_id) for _ in range(30))
    )
    assert {token.access_token for token in tokens} == {"at-2"}
    assert len(kit.endpoint.requests) == 1


async def test_invalid_grant_requires_reauthorisation(kit: Kit) -> None:
    t, connection_id = await due(kit)
    kit.endpoint.answers = [TokenEndpointAnswer(400, {"error": "invalid_grant"})]
    with pytest.raises(ReauthorisationRequired):
        await kit.access(t.organisation_id, connection_id)
    stored = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert stored.status is ConnectionStatus.REAUTHORISATION_REQUIRED
    assert stored.status_reason == "invalid_grant"
    with pytest.raises(ReauthorisationRequired):
        await kit.access(t.organisation_id, connection_id)


TROUBLE: list[TokenEndpointAnswer | Exception] = [
    TokenEndpointAnswer(500, None),
    TokenEndpointAnswer(429, {"error": "slow_down"}, retry_after=30),
    TokenEndpointAnswer(400, {"error": "invalid_client"}),
    TokenEndpointAnswer(200, {"no": "token"}),
    ProviderTimeout("slow"),
]


@pytest.mark.parametrize("answer", TROUBLE)
async def test_a_failed_early_refresh_keeps_handing_out_the_still_valid_token(
    kit: Kit, answer: TokenEndpointAnswer | Exception
) -> None:
    t, connection_id = await due(kit)
    before = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    kit.endpoint.answers = [answer]
    token = await kit.access(t.organisation_id, connection_id)
    assert token.access_token == "at-1"
    after = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert before is not None
    assert after is not None
    assert after.tokens == before.tokens
    assert after.health.failures == 1
    locks = kit.world.storage.refresh_locks
    assert isinstance(locks, InMemoryRefreshLock)
    assert locks.rows == {}


@pytest.mark.parametrize("answer", TROUBLE)
async def test_a_failed_refresh_of_an_expired_token_is_an_error_and_is_backed_off(
    kit: Kit, answer: TokenEndpointAnswer | Exception
) -> None:
    t, connection_id = await due(kit)
    kit.world.clock.advance(timedelta(seconds=15))  # expired now
    kit.endpoint.answers = [answer]
    with pytest.raises((ProviderUnavailable, ProviderRejected, ProviderTimeout)) as failed:
        await kit.access(t.organisation_id, connection_id)
    if isinstance(answer, TokenEndpointAnswer) and answer.status == 429:
        assert isinstance(failed.value, ProviderBusy)
        assert failed.value.retry_after == 30
    calls = len(kit.endpoint.requests)
    for _ in range(50):  # a crowd of callers during the backoff: no provider call at all
        with pytest.raises(RefreshBackingOff):
            await kit.access(t.organisation_id, connection_id)
    assert len(kit.endpoint.requests) == calls == 1
    stored = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.health.failures == 1
    held = 30 if isinstance(answer, TokenEndpointAnswer) and answer.status == 429 else 1
    assert stored.health.not_before == kit.world.clock.now() + timedelta(seconds=held)


async def test_consecutive_failures_double_the_backoff_and_a_success_resets_it(kit: Kit) -> None:
    t, connection_id = await due(kit)
    kit.world.clock.advance(timedelta(seconds=15))
    kit.endpoint.answers = [TokenEndpointAnswer(503, None)]
    waits = []
    for _ in range(4):
        with pytest.raises(ProviderUnavailable):
            await kit.access(t.organisation_id, connection_id)
        stored = await kit.world.storage.connections.get(t.organisation_id, connection_id)
        assert stored is not None
        assert stored.health.not_before is not None
        waits.append((stored.health.not_before - kit.world.clock.now()).total_seconds())
        kit.world.clock.current = stored.health.not_before
    assert waits == [1, 2, 4, 8]
    kit.endpoint.answers = [ok("at-2", "rt-2")]
    assert (await kit.access(t.organisation_id, connection_id)).access_token == "at-2"
    stored = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert (stored.health.failures, stored.health.not_before) == (0, None)
    assert stored.health.last_refreshed_at == kit.world.clock.now()


async def test_an_invalid_grant_about_a_token_another_holder_rotated_is_not_believed(
    kit: Kit,
) -> None:
    """Two holders read rt-1; the first rotates it to rt-2; the second's invalid_grant for
    rt-1 says nothing about rt-2: the connection stays active with the first's tokens."""
    t, connection_id = await due(kit)
    storage = kit.world.storage
    first = await storage.connections.get(t.organisation_id, connection_id)
    assert first is not None
    rotated = replace(
        first.tokens,
        sealed_access_token=ReversingCipher().encrypt(
            "at-2", context=access_token_context(connection_id)
        ),
    )

    class RotatingMeanwhile:
        """The provider refuses rt-1, after the other holder has stored rt-2."""

        async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
            await storage.connections.update_tokens(
                connection_id, rotated, expected_version=1, refreshed_at=kit.world.clock.now()
            )
            return TokenEndpointAnswer(400, {"error": "invalid_grant"})

    w = kit.world
    access = wired(w.storage, w.clock, w.random, w.sealer, RotatingMeanwhile()).access_token
    token = await access(t.organisation_id, connection_id)
    assert token.access_token == "at-2"
    stored = await storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.status_reason is None


async def test_other_organisations_connection_is_not_found(kit: Kit) -> None:
    _, connection_id = await connected(kit)
    other = await kit.world.tenant("other")
    with pytest.raises(NotFound):
        await kit.access(other.organisation_id, connection_id)


async def test_credential_with_connections_cannot_be_deleted(kit: Kit) -> None:
    t, _ = await connected(kit)
    with pytest.raises(CredentialInUse):
        await kit.world.credentials.delete(t.organisation_id, t.credential.id)


async def test_callback_passes_the_code_only_to_the_hubs_origins(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    state = await issue(kit, t)
    result = await kit.callback(CallbackParams(t.organisation_id, state=state, code="c"))
    assert result.ok
    assert result.origins == ("https://app.example",)
    assert result.message == {"state": state}
    assert result.code_from_url
    await kit.create(new(t, state, code="c"))
    used = await kit.callback(CallbackParams(t.organisation_id, state=state, code="c"))
    assert not used.ok
    assert used.origins == ()


@pytest.mark.parametrize(
    ("params", "summary"),
    [
        (CallbackParams("org", state=None, code="c"), "no state"),
        (CallbackParams("org", state="forged", code="c"), "unknown"),
    ],
)
async def test_callback_without_a_known_state_posts_nothing(
    kit: Kit, params: CallbackParams, summary: str
) -> None:
    result = await kit.callback(params)
    assert not result.ok
    assert result.origins == ()
    assert summary in result.summary


async def test_callback_passes_on_provider_errors(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    state = await issue(kit, t)
    result = await kit.callback(
        CallbackParams(
            t.organisation_id, state=state, error="access_denied", error_description="No"
        )
    )
    assert not result.ok
    assert result.message == {"error": "access_denied", "errorDescription": "No", "state": state}
    neither = await kit.callback(CallbackParams(t.organisation_id, state=state))
    assert not neither.ok
    assert neither.message == {}


async def test_a_short_lived_token_is_refreshed_once_per_half_lifetime_however_many_ask(
    kit: Kit,
) -> None:
    """4-s tokens and the default 60-s margin: the effective margin is 2 s, so over 20 s
    with 20 callers every half second there are 10 refreshes, each served to everyone."""
    t, connection_id = await connected(kit, expires_in=4)
    kit.endpoint.answers = [ok(f"at-{n}", f"rt-{n}", expires_in=4) for n in range(2, 60)]
    for _ in range(40):
        kit.world.clock.advance(timedelta(milliseconds=500))
        tokens = await asyncio.gather(
            *(kit.access(t.organisation_id, connection_id) for _ in range(20))
        )
        assert len({token.access_token for token in tokens}) == 1
    assert len(kit.endpoint.requests) == 10
    sent = [dict(r.form)["refresh_token"] for r in kit.endpoint.requests]
    assert sent == ["rt-1", *(f"rt-{n}" for n in range(2, 11))]  # each rotated token once


async def test_an_expired_token_without_a_refresh_token_needs_reauthorisation(kit: Kit) -> None:
    t = await kit.world.tenant("acme")
    kit.endpoint.answers = [ok(refresh=None, expires_in=30)]
    connection = await kit.create(new(t, await issue(kit, t)))
    kit.world.clock.advance(timedelta(seconds=20))
    assert (await kit.access(t.organisation_id, connection.id)).access_token == "at-1"
    kit.world.clock.advance(timedelta(seconds=15))
    with pytest.raises(ReauthorisationRequired, match="no refresh token"):
        await kit.access(t.organisation_id, connection.id)
    stored = await kit.world.storage.connections.get(t.organisation_id, connection.id)
    assert stored is not None
    assert stored.status_reason == "no_refresh_token"


async def test_the_keep_alive_job_refreshes_idle_connections_once_across_instances(
    kit: Kit,
) -> None:
    t, connection_id = await connected(kit, expires_in=120)
    w = kit.world
    kit.world.clock.advance(timedelta(seconds=70))  # within the 60-s margin of expiring
    kit.endpoint.answers = [ok("at-2", "rt-2", expires_in=120)]
    kit.endpoint.delay = 0.02
    jobs = [
        RefreshIdleConnections(
            w.storage.connections,
            wired(w.storage, w.clock, w.random, w.sealer, kit.endpoint).access_token,
            w.clock,
            RefreshPolicy(),
        )
        for _ in range(2)  # two instances on one database
    ]
    reports = await asyncio.gather(*(job() for job in jobs))
    assert sum(report.refreshed for report in reports) == 1
    assert len(kit.endpoint.requests) == 1
    stored = await w.storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert stored.health.last_refreshed_at == w.clock.now()
    assert (await jobs[0]()).due == 0  # refreshed: nothing left to do


@pytest.mark.parametrize(
    ("error", "description", "forwarded"),
    [
        (
            "access_denied",
            "The user said no",
            {"error": "access_denied", "errorDescription": "The user said no"},
        ),
        ("access_denied", 'quote " here', {"error": "access_denied"}),
        ("access_denied", "caf\u00e9", {"error": "access_denied"}),
        ("access_denied", "x" * 501, {"error": "access_denied"}),
        ("tab\there", "anything", {"error": "invalid_response"}),
        ('quote"d', None, {"error": "invalid_response"}),
        ("bad\\error", None, {"error": "invalid_response"}),
        ("e" * 101, None, {"error": "invalid_response"}),
    ],
)
async def test_the_callback_forwards_only_errors_in_rfc_6749_characters(
    kit: Kit, error: str, description: str | None, forwarded: dict[str, str]
) -> None:
    t = await kit.world.tenant("acme")
    state = await issue(kit, t)
    result = await kit.callback(
        CallbackParams(t.organisation_id, state=state, error=error, error_description=description)
    )
    assert not result.ok
    assert result.message == {**forwarded, "state": state}
