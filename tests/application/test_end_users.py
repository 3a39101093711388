"""End users through the use cases, over the in-memory fakes: connect sessions, what an end
user reaches, states bound to their user, re-authorisation in place, and the callback of
each organisation."""

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.memory.repositories import InMemoryConnectSessionRepository
from application.callback import CallbackParams
from application.callers import Caller, EndUser
from application.connections import NewConnection
from application.end_users import NewConnectSession
from application.errors import Forbidden, NotFound, Unauthenticated
from application.initialise import InitialiseCommand
from application.states import InvalidState
from domain.end_user_tokens import SESSION_PREFIX
from domain.errors import InvalidInput
from domain.model import ConnectionStatus
from tests.application.conftest import Tenant, World, ok


def initialise_command(
    t: Tenant, caller: Caller, user_id: str | None = None, connection_id: str | None = None
) -> InitialiseCommand:
    return InitialiseCommand(
        caller=caller,
        hub_id=t.hub.id,
        connector_id=t.connector.id,
        authorize_url="https://p.example/authorize",
        client_id=t.credential.client_id,
        credential_id=t.credential.id,
        credential_organisation_id=t.organisation_id,
        user_id=user_id,
        connection_id=connection_id,
    )


async def state_for(
    world: World,
    t: Tenant,
    caller: Caller,
    user_id: str | None = None,
    connection_id: str | None = None,
) -> str:
    url = await world.initialise(initialise_command(t, caller, user_id, connection_id))
    return parse_qs(urlsplit(url).query)["state"][0]


def end_user(t: Tenant, user: str = "u-1", connectors: tuple[str, ...] | None = None) -> Caller:
    return Caller(t.organisation_id, EndUser(t.hub.id, user, connectors))


def connect(t: Tenant, caller: Caller, state: str, user: str = "u-1") -> NewConnection:
    return NewConnection(caller, t.hub.id, user, t.connector.id, "the-code", state)


async def test_a_connect_session_lives_30_minutes_unless_told_and_ends_at_its_expiry(
    world: World,
) -> None:
    t = await world.tenant("acme")
    sessions, authenticate = world.services.connect_sessions, world.services.authenticate
    issued = await sessions.create(t.organisation_id, NewConnectSession(t.hub.id, "u-1"))
    assert issued.token.startswith(SESSION_PREFIX)
    assert issued.expires_at == world.clock.now() + timedelta(minutes=30)
    caller = await authenticate(issued.token)
    assert caller == Caller(t.organisation_id, EndUser(t.hub.id, "u-1", None))
    short = await sessions.create(
        t.organisation_id, NewConnectSession(t.hub.id, "u-1", ttl_seconds=60)
    )
    world.clock.advance(timedelta(seconds=59))
    assert (await authenticate(short.token)).end_user is not None
    world.clock.advance(timedelta(seconds=1))
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticate(short.token)
    repository = world.storage.connect_sessions
    assert isinstance(repository, InMemoryConnectSessionRepository)
    stored = list(repository.rows.values())
    assert all(issued.token.encode() not in s.token_hash for s in stored)


async def test_a_session_names_connectors_of_its_hub_only_once_each(world: World) -> None:
    t, other = await world.tenant("acme"), await world.tenant("other")
    sessions = world.services.connect_sessions
    issued = await sessions.create(
        t.organisation_id,
        NewConnectSession(t.hub.id, "u-1", connector_ids=[t.connector.id, t.connector.id]),
    )
    caller = await world.services.authenticate(issued.token)
    assert caller.end_user is not None
    assert caller.end_user.connector_ids == (t.connector.id,)
    with pytest.raises(NotFound):
        await sessions.create(
            t.organisation_id, NewConnectSession(t.hub.id, "u", connector_ids=[other.connector.id])
        )
    with pytest.raises(NotFound):
        await sessions.create(other.organisation_id, NewConnectSession(t.hub.id, "u"))
    with pytest.raises(InvalidInput):
        await sessions.create(t.organisation_id, NewConnectSession(t.hub.id, "u", connector_ids=[]))


async def test_tokens_of_no_known_form_are_refused(world: World) -> None:
    for token in ("not-a-token", "eocs_bm9ib2R5.c2VjcmV0", "a.b.c"):
        with pytest.raises(Unauthenticated):
            await world.services.authenticate(token)


async def test_an_end_user_reaches_only_their_hub_their_connectors_and_themselves(
    world: World,
) -> None:
    t, other = await world.tenant("acme"), await world.tenant("other")
    initialise = world.initialise
    elsewhere = replace(t, hub=other.hub, connector=other.connector)
    with pytest.raises(NotFound, match="hub"):
        await initialise(initialise_command(elsewhere, end_user(t)))
    with pytest.raises(NotFound, match="connector"):
        await initialise(initialise_command(t, end_user(t, connectors=("another",))))
    with pytest.raises(Forbidden):
        await initialise(initialise_command(t, end_user(t), user_id="u-2"))
    with pytest.raises(Forbidden):
        await world.services.connections.list_for_user(end_user(t), t.hub.id, "u-2")
    state = await state_for(world, t, end_user(t))
    with pytest.raises(Forbidden):
        await world.services.create_connection(connect(t, end_user(t), state, user="u-2"))


async def test_a_bound_state_refuses_other_users_without_being_consumed(world: World) -> None:
    t = await world.tenant("acme")
    state = await state_for(world, t, Caller(t.organisation_id), user_id="u-1")
    create = world.services.create_connection
    with pytest.raises(InvalidState, match="another user"):
        await create(connect(t, Caller(t.organisation_id), state, user="u-2"))
    with pytest.raises(InvalidState, match="another user"):
        await create(connect(t, end_user(t, "u-2"), state, user="u-2"))
    assert world.endpoint.requests == []
    created = await create(connect(t, end_user(t, "u-1"), state))
    assert created.user_id == "u-1"


async def test_reconnecting_replaces_the_tokens_of_the_same_connection(world: World) -> None:
    t = await world.tenant("acme")
    create = world.services.create_connection
    first = await create(connect(t, end_user(t), await state_for(world, t, end_user(t))))
    await world.storage.connections.set_status(
        first.id, ConnectionStatus.REAUTHORISATION_REQUIRED, "invalid_grant"
    )
    world.endpoint.answers = [ok(access="at-2", refresh="rt-2")]
    state = await state_for(world, t, Caller(t.organisation_id), connection_id=first.id)
    again = await create(connect(t, Caller(t.organisation_id), state))
    assert again.id == first.id
    assert again.status is ConnectionStatus.ACTIVE
    assert again.status_reason is None
    assert again.health.version == first.health.version + 1
    assert again.tokens.sealed_access_token != first.tokens.sealed_access_token
    listed = await world.services.connections.list_for_user(end_user(t), t.hub.id, "u-1")
    assert [c.id for c in listed] == [first.id]
    with pytest.raises(NotFound, match="connection"):  # another user's connection
        await state_for(world, t, end_user(t, "u-2"), connection_id=first.id)


async def test_the_callback_refuses_a_state_issued_to_another_organisation(world: World) -> None:
    t, other = await world.tenant("acme"), await world.tenant("other")
    state = await state_for(world, t, Caller(t.organisation_id))
    refused = await world.services.callback(
        CallbackParams(other.organisation_id, state=state, code="c")
    )
    assert not refused.ok
    assert refused.origins == ()
    assert "another organisation" in refused.summary
    accepted = await world.services.callback(
        CallbackParams(t.organisation_id, state=state, code="c")
    )
    assert accepted.ok
