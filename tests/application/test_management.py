"""Credentials, hubs and connectors: validation, encryption and tenant scoping."""

import pytest

from application.connectors import NewConnector
from application.credentials import NewCredential, secret_context
from application.errors import NotFound
from application.hubs import NewHub
from domain.errors import InvalidInput
from tests.application.conftest import World
from tests.fakes import ReversingCipher


async def test_client_secret_is_stored_encrypted_with_its_row_as_context(world: World) -> None:
    t = await world.tenant("acme")
    stored = await world.storage.credentials.get(t.organisation_id, t.credential.id)
    assert stored is not None
    assert "s3cr3t-value" not in stored.sealed_secret
    cipher = ReversingCipher()
    assert cipher.decrypt(stored.sealed_secret, context=secret_context(stored.id)) == "s3cr3t-value"


@pytest.mark.parametrize(
    ("new", "fields"),
    [
        (
            NewCredential(name="", client_id="", client_secret=""),
            {"name", "clientId", "clientSecret"},
        ),
        (NewCredential(name="n", client_id="c", client_secret="s" * 4097), {"clientSecret"}),
        (NewCredential(name="n\x00", client_id="c", client_secret="s"), {"name"}),
        (NewCredential(name="n", client_id="c", client_secret="tab\t"), {"clientSecret"}),
    ],
)
async def test_invalid_credentials_are_refused_listing_fields(
    world: World, new: NewCredential, fields: set[str]
) -> None:
    t = await world.tenant("acme")
    with pytest.raises(InvalidInput) as caught:
        await world.credentials.create(t.organisation_id, new)
    assert {f.field for f in caught.value.fields} == fields


async def test_other_organisations_objects_are_not_found(world: World) -> None:
    a, b = await world.tenant("a"), await world.tenant("b")
    with pytest.raises(NotFound):
        await world.credentials.get(b.organisation_id, a.credential.id)
    with pytest.raises(NotFound):
        await world.credentials.delete(b.organisation_id, a.credential.id)
    with pytest.raises(NotFound):
        await world.hubs.get(b.organisation_id, a.hub.id)
    with pytest.raises(NotFound):
        await world.hubs.delete(b.organisation_id, a.hub.id)
    with pytest.raises(NotFound):
        await world.connectors.get(b.organisation_id, a.hub.id, a.connector.id)
    with pytest.raises(NotFound):
        await world.connectors.list(b.organisation_id, a.hub.id)
    with pytest.raises(NotFound):
        await world.connectors.create(
            b.organisation_id, a.hub.id, NewConnector(name="x", token_url="https://x.example/t")
        )
    with pytest.raises(NotFound):
        await world.connectors.get(b.organisation_id, b.hub.id, a.connector.id)
    assert [c.id for c in await world.credentials.list(b.organisation_id)] == [b.credential.id]
    assert await world.credentials.get(a.organisation_id, a.credential.id) == a.credential


async def test_hub_origins_are_normalised_and_deduplicated(world: World) -> None:
    t = await world.tenant("acme")
    hub = await world.hubs.create(
        t.organisation_id,
        NewHub(
            name="h",
            allowed_origins=["https://A.example:443", "https://a.example", "http://localhost:3000"],
        ),
    )
    assert hub.allowed_origins == ("https://a.example", "http://localhost:3000")


async def test_invalid_origin_is_refused_naming_its_index(world: World) -> None:
    t = await world.tenant("acme")
    with pytest.raises(InvalidInput) as caught:
        await world.hubs.create(
            t.organisation_id, NewHub(name="h", allowed_origins=["https://ok.example", "*"])
        )
    assert [f.field for f in caught.value.fields] == ["allowedOrigins[1]"]


@pytest.mark.parametrize(
    "token_url", ["", "http://p.example/token", "https://p.example/t#x", "nope"]
)
async def test_connector_token_url_must_be_https_or_loopback(world: World, token_url: str) -> None:
    t = await world.tenant("acme")
    with pytest.raises(InvalidInput) as caught:
        await world.connectors.create(
            t.organisation_id, t.hub.id, NewConnector(name="x", token_url=token_url)
        )
    assert [f.field for f in caught.value.fields] == ["tokenUrl"]


async def test_deleting_a_hub_deletes_its_connectors(world: World) -> None:
    t = await world.tenant("acme")
    await world.hubs.delete(t.organisation_id, t.hub.id)
    assert await world.storage.connectors.get(t.hub.id, t.connector.id) is None
    with pytest.raises(NotFound):
        await world.hubs.get(t.organisation_id, t.hub.id)
