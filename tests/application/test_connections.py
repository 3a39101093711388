"""CreateConnection, GetAccessToken and HandleCallback over fakes."""

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.memory.repositories import InMemoryConnectionRepository, InMemoryRefreshLock
from application.access_tokens import GetAccessToken
from application.callback import CallbackParams, HandleCallback
from application.connections import CreateConnection, NewConnection, access_token_context
from application.errors import (
    CredentialInUse,
    NotFound,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ReauthorisationRequired,
)
from application.initialise import InitialiseCommand
from application.ports.provider import TokenEndpointAnswer
from application.states import InvalidState
from domain.errors import InvalidInput
from domain.model import ConnectionStatus
from tests.application.conftest import REDIRECT_URI, ScriptedTokenEndpoint, Tenant, World, ok
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
            organisation_id=t.organisation_id,
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
        organisation_id=t.organisation_id,
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
    assert form["redirect_uri"] == REDIRECT_URI
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
        await kit.create(NewConnection(t.organisation_id, t.hub.id, "", "", "", "", name="x" * 300))
    fields = {f.field for f in caught.value.fields}
    assert fields == {"user_id", "connectorId", "code", "state", "name"}


async def connected(kit: Kit, expires_in: int = 3600) -> tuple[Tenant, str]:
    t = await kit.world.tenant("acme")
    kit.endpoint.answers = [ok(expires_in=expires_in)]
    connection = await kit.create(new(t, await issue(kit, t)))
    kit.endpoint.requests.clear()
    return t, connection.id


async def test_fresh_token_is_returned_without_asking_the_provider(kit: Kit) -> None:
    t, connection_id = await connected(kit)
    token = await kit.access(t.organisation_id, connection_id)
    assert token.access_token == "at-1"
    assert kit.endpoint.requests == []


async def test_expiring_token_is_refreshed_and_rotation_stored(kit: Kit) -> None:
    t, connection_id = await connected(kit, expires_in=30)
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
    t, connection_id = await connected(kit, expires_in=30)
    before = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    kit.endpoint.answers = [ok("at-2", refresh=None)]
    await kit.access(t.organisation_id, connection_id)
    after = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert before is not None
    assert after is not None
    assert after.tokens.sealed_refresh_token == before.tokens.sealed_refresh_token


async def test_concurrent_calls_refresh_once(kit: Kit) -> None:
    t, connection_id = await connected(kit, expires_in=30)
    kit.endpoint.answers = [ok("at-2", "rt-2")]
    kit.endpoint.delay = 0.05
    tokens = await asyncio.gather(
        *(kit.access(t.organisation_id, connection_id) for _ in range(30))
    )
    assert {token.access_token for token in tokens} == {"at-2"}
    assert len(kit.endpoint.requests) == 1


async def test_invalid_grant_requires_reauthorisation(kit: Kit) -> None:
    t, connection_id = await connected(kit, expires_in=30)
    kit.endpoint.answers = [TokenEndpointAnswer(400, {"error": "invalid_grant"})]
    with pytest.raises(ReauthorisationRequired):
        await kit.access(t.organisation_id, connection_id)
    stored = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    assert stored is not None
    assert stored.status is ConnectionStatus.REAUTHORISATION_REQUIRED
    with pytest.raises(ReauthorisationRequired):
        await kit.access(t.organisation_id, connection_id)


@pytest.mark.parametrize(
    "answer",
    [
        TokenEndpointAnswer(500, None),
        TokenEndpointAnswer(400, {"error": "invalid_client"}),
        ProviderTimeout("slow"),
    ],
)
async def test_other_refresh_failures_leave_tokens_untouched(
    kit: Kit, answer: TokenEndpointAnswer | Exception
) -> None:
    t, connection_id = await connected(kit, expires_in=30)
    before = await kit.world.storage.connections.get(t.organisation_id, connection_id)
    kit.endpoint.answers = [answer]
    with pytest.raises((ProviderUnavailable, ProviderRejected, ProviderTimeout)):
        await kit.access(t.organisation_id, connection_id)
    assert await kit.world.storage.connections.get(t.organisation_id, connection_id) == before
    locks = kit.world.storage.refresh_locks
    assert isinstance(locks, InMemoryRefreshLock)
    assert locks.rows == {}


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
    result = await kit.callback(CallbackParams(state=state, code="c"))
    assert result.ok
    assert result.origins == ("https://app.example",)
    assert result.message == {"state": state}
    assert result.code_from_url
    await kit.create(new(t, state, code="c"))
    used = await kit.callback(CallbackParams(state=state, code="c"))
    assert not used.ok
    assert used.origins == ()


@pytest.mark.parametrize(
    ("params", "summary"),
    [
        (CallbackParams(state=None, code="c"), "no state"),
        (CallbackParams(state="forged", code="c"), "unknown"),
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
        CallbackParams(state=state, error="access_denied", error_description="No")
    )
    assert not result.ok
    assert result.message == {"error": "access_denied", "errorDescription": "No", "state": state}
    neither = await kit.callback(CallbackParams(state=state))
    assert not neither.ok
    assert neither.message == {}
