"""InitialiseOAuth2Connection: ownership, client ID and the state it binds (rules 6-8)."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from application.callers import Caller
from application.errors import Forbidden, NotFound
from application.initialise import InitialiseCommand
from domain.errors import InvalidInput, ParameterConflict
from domain.pkce import s256_challenge
from domain.redirect_uri import redirect_uri
from domain.state import state_binding
from tests.application.conftest import CALLBACK_URL, Tenant, World


def command(t: Tenant, **changes: Any) -> InitialiseCommand:
    base = InitialiseCommand(
        caller=Caller(t.organisation_id),
        hub_id=t.hub.id,
        connector_id=t.connector.id,
        authorize_url="https://p.example/authorize",
        client_id=t.credential.client_id,
        credential_id=t.credential.id,
        credential_organisation_id=t.organisation_id,
        scopes=["read", "read", "write"],
    )
    return base._replace(**changes)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


async def test_state_is_bound_to_everything_the_exchange_checks(world: World) -> None:
    t = await world.tenant("acme")
    url = await world.initialise(command(t))
    state = query(url)["state"][0]
    claims = world.sealer.sealed[state]
    assert claims.organisation_id == t.organisation_id
    assert claims.hub_id == t.hub.id
    assert claims.connector_id == t.connector.id
    assert claims.credential_id == t.credential.id
    assert claims.binding == state_binding(
        t.credential.client_id, redirect_uri(CALLBACK_URL, t.organisation_id)
    )
    assert claims.scopes == ("read", "write", "offline_access")
    assert claims.expires_at == datetime(2026, 11, 28, 12, 10, 0, tzinfo=UTC)
    assert len(claims.state_id) == 16


async def test_url_uses_configured_redirect_uri_and_pkce_challenge_of_server_verifier(
    world: World,
) -> None:
    t = await world.tenant("acme")
    q = query(await world.initialise(command(t)))
    opened = world.sealer.open(q["state"][0])
    assert opened is not None
    assert q["redirect_uri"] == [redirect_uri(CALLBACK_URL, t.organisation_id)]
    assert q["code_challenge"] == [s256_challenge(opened.pkce_verifier)]
    assert q["code_challenge_method"] == ["S256"]
    assert opened.pkce_verifier not in str(q)


async def test_connector_without_pkce_sends_no_challenge(world: World) -> None:
    t = await world.tenant("acme", pkce=False)
    q = query(await world.initialise(command(t)))
    assert "code_challenge" not in q
    assert "code_challenge_method" not in q


async def test_each_initialise_gets_a_fresh_state(world: World) -> None:
    t = await world.tenant("acme")
    first = query(await world.initialise(command(t)))["state"]
    second = query(await world.initialise(command(t)))["state"]
    assert first != second


async def test_unknown_hub_is_not_found(world: World) -> None:
    t = await world.tenant("acme")
    with pytest.raises(NotFound) as caught:
        await world.initialise(command(t, hub_id="no-such-hub"))
    assert caught.value.code == "hub_not_found"


async def test_another_organisations_hub_is_not_found(world: World) -> None:
    a, b = await world.tenant("a"), await world.tenant("b")
    with pytest.raises(NotFound) as caught:
        await world.initialise(command(a, hub_id=b.hub.id, connector_id=b.connector.id))
    assert caught.value.code == "hub_not_found"


async def test_connector_of_another_hub_is_not_found(world: World) -> None:
    a, b = await world.tenant("a"), await world.tenant("b")
    with pytest.raises(NotFound) as caught:
        await world.initialise(command(a, connector_id=b.connector.id))
    assert caught.value.code == "connector_not_found"


async def test_credential_organisation_must_be_the_callers(world: World) -> None:
    a, b = await world.tenant("a"), await world.tenant("b")
    with pytest.raises(Forbidden) as caught:
        await world.initialise(command(a, credential_organisation_id=b.organisation_id))
    assert caught.value.fields[0].field == "credential.organisationId"


async def test_another_organisations_credential_is_not_found(world: World) -> None:
    a, b = await world.tenant("a"), await world.tenant("b")
    with pytest.raises(NotFound) as caught:
        await world.initialise(
            command(a, credential_id=b.credential.id, client_id=b.credential.client_id)
        )
    assert caught.value.code == "credential_not_found"
    assert caught.value.fields[0].field == "credential.id"
    assert b.organisation_id not in caught.value.message


async def test_client_id_must_match_the_credential(world: World) -> None:
    t = await world.tenant("acme")
    with pytest.raises(InvalidInput) as caught:
        await world.initialise(command(t, client_id="someone-else"))
    assert caught.value.code == "client_id_mismatch"
    assert caught.value.fields[0].field == "clientId"


async def test_missing_credential_fields_are_listed_with_other_invalid_fields(world: World) -> None:
    t = await world.tenant("acme")
    with pytest.raises(InvalidInput) as caught:
        await world.initialise(
            command(t, credential_id="", credential_organisation_id="", scopes=["bad scope"])
        )
    assert {f.field for f in caught.value.fields} == {
        "credential.id",
        "credential.organisationId",
        "scopes[0]",
    }


async def test_conflicts_are_reported_after_ownership_of_the_path(world: World) -> None:
    t = await world.tenant("acme")
    with pytest.raises(ParameterConflict):
        await world.initialise(command(t, additional_params="state=mine"))
    with pytest.raises(NotFound):
        await world.initialise(command(t, hub_id="x", additional_params="state=mine"))


async def test_initialise_writes_nothing(world: World) -> None:
    t = await world.tenant("acme")
    await world.initialise(command(t))
    assert await world.storage.used_states.delete_expired(datetime.max.replace(tzinfo=UTC)) == 0
