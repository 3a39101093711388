"""RedeemState: a state is honoured once, before it expires, where it was issued (rule 8)."""

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from application.callers import Caller
from application.initialise import InitialiseCommand
from application.states import InvalidState, StateScope
from tests.application.conftest import Tenant, World


async def issue(world: World, t: Tenant) -> str:
    url = await world.initialise(
        InitialiseCommand(
            caller=Caller(t.organisation_id),
            hub_id=t.hub.id,
            connector_id=t.connector.id,
            authorize_url="https://p.example/authorize",
            client_id=t.credential.client_id,
            credential_id=t.credential.id,
            credential_organisation_id=t.organisation_id,
        )
    )
    return parse_qs(urlsplit(url).query)["state"][0]


def scope_of(t: Tenant) -> StateScope:
    return StateScope(t.organisation_id, t.hub.id, t.connector.id, "user-1")


async def test_state_redeems_once_then_is_refused(world: World) -> None:
    t = await world.tenant("acme")
    state = await issue(world, t)
    opened = await world.states.redeem(state, scope_of(t))
    assert opened.claims.credential_id == t.credential.id
    with pytest.raises(InvalidState, match="already used"):
        await world.states.redeem(state, scope_of(t))


async def test_racing_redeems_succeed_exactly_once(world: World) -> None:
    t = await world.tenant("acme")
    state = await issue(world, t)
    results = await asyncio.gather(
        *(world.states.redeem(state, scope_of(t)) for _ in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, InvalidState) for r in results if isinstance(r, Exception))


async def test_expired_state_is_refused(world: World) -> None:
    t = await world.tenant("acme")
    state = await issue(world, t)
    world.clock.advance(timedelta(minutes=10))
    with pytest.raises(InvalidState, match="expired"):
        await world.states.redeem(state, scope_of(t))


async def test_state_is_valid_until_just_before_expiry(world: World) -> None:
    t = await world.tenant("acme")
    state = await issue(world, t)
    world.clock.advance(timedelta(minutes=9, seconds=59))
    await world.states.redeem(state, scope_of(t))


async def test_state_from_another_hub_connector_or_organisation_is_unknown(world: World) -> None:
    a, b = await world.tenant("a"), await world.tenant("b")
    state = await issue(world, a)
    for scope in (
        StateScope(b.organisation_id, a.hub.id, a.connector.id, "user-1"),
        StateScope(a.organisation_id, b.hub.id, a.connector.id, "user-1"),
        StateScope(a.organisation_id, a.hub.id, b.connector.id, "user-1"),
    ):
        with pytest.raises(InvalidState, match="unknown"):
            await world.states.redeem(state, scope)
    await world.states.redeem(state, scope_of(a))  # the refusals did not consume it


async def test_forged_state_is_unknown(world: World) -> None:
    t = await world.tenant("acme")
    with pytest.raises(InvalidState, match="unknown"):
        await world.states.redeem("state-999", scope_of(t))


async def test_inspect_checks_without_consuming(world: World) -> None:
    t = await world.tenant("acme")
    state = await issue(world, t)
    assert (await world.states.inspect(state)).claims.hub_id == t.hub.id
    await world.states.redeem(state, scope_of(t))
    with pytest.raises(InvalidState, match="already used"):
        await world.states.inspect(state)
