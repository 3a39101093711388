"""One contract for every storage backend: the fakes must behave like SQLite and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.memory.repositories import in_memory_storage
from adapters.sql import schema
from adapters.sql.repositories import sql_storage
from application.ports import Storage
from domain.model import (
    ApiKey,
    Connector,
    Credential,
    Hub,
    Organisation,
    TokenAuthMethod,
)
from domain.scopes import ScopeSeparator
from tests.conftest import ALL_BACKENDS, sql_engine

T0 = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=ALL_BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "memory":
        yield in_memory_storage()
        return
    async with sql_engine(request.param, tmp_path) as engine:
        await schema.upgrade(engine)
        yield sql_storage(engine)


def uid(n: int) -> str:
    return f"01900000-0000-7000-8000-{n:012d}"


async def org(storage: Storage, n: int) -> str:
    await storage.organisations.add(Organisation(id=uid(n), name=f"org {n}", created_at=T0))
    return uid(n)


def credential(n: int, organisation_id: str, at: datetime = T0) -> Credential:
    return Credential(
        id=uid(n),
        organisation_id=organisation_id,
        name=f"cred {n}",
        client_id=f"client-{n}",
        sealed_secret=f"v1.k.sealed{n}",
        created_at=at,
    )


def hub(n: int, organisation_id: str, at: datetime = T0) -> Hub:
    return Hub(
        id=uid(n),
        organisation_id=organisation_id,
        name=f"hub {n}",
        allowed_origins=("https://a.example", "http://localhost:3000"),
        created_at=at,
    )


def connector(n: int, hub_id: str, at: datetime = T0) -> Connector:
    return Connector(
        id=uid(n),
        hub_id=hub_id,
        name=f"conn {n}",
        token_url="https://p.example/token",
        scope_separator=ScopeSeparator.COMMA,
        pkce=False,
        token_auth_method=TokenAuthMethod.CLIENT_SECRET_POST,
        created_at=at,
    )


async def test_organisations_round_trip(storage: Storage) -> None:
    org_id = await org(storage, 1)
    assert await storage.organisations.get(org_id) == Organisation(org_id, "org 1", T0)
    assert await storage.organisations.get(uid(99)) is None


async def test_api_keys_resolve_by_hash_only(storage: Storage) -> None:
    org_id = await org(storage, 1)
    await storage.api_keys.add(ApiKey(uid(2), org_id, b"\x01" * 32, T0))
    assert await storage.api_keys.organisation_for(b"\x01" * 32) == org_id
    assert await storage.api_keys.organisation_for(b"\x02" * 32) is None


async def test_credentials_round_trip_and_are_scoped_to_their_organisation(
    storage: Storage,
) -> None:
    a, b = await org(storage, 1), await org(storage, 2)
    stored = credential(10, a)
    await storage.credentials.add(stored)
    assert await storage.credentials.get(a, stored.id) == stored
    assert await storage.credentials.get(b, stored.id) is None
    assert await storage.credentials.list(b) == []


async def test_lists_are_oldest_first(storage: Storage) -> None:
    a = await org(storage, 1)
    for n, minutes in ((10, 5), (11, 1), (12, 3)):
        await storage.credentials.add(credential(n, a, T0 + timedelta(minutes=minutes)))
        await storage.hubs.add(hub(n + 10, a, T0 + timedelta(minutes=minutes)))
    assert [c.id for c in await storage.credentials.list(a)] == [uid(11), uid(12), uid(10)]
    assert [h.id for h in await storage.hubs.list(a)] == [uid(21), uid(22), uid(20)]


async def test_delete_only_within_the_organisation(storage: Storage) -> None:
    a, b = await org(storage, 1), await org(storage, 2)
    await storage.credentials.add(credential(10, a))
    assert await storage.credentials.delete(b, uid(10)) is False
    assert await storage.credentials.get(a, uid(10)) is not None
    assert await storage.credentials.delete(a, uid(10)) is True
    assert await storage.credentials.get(a, uid(10)) is None
    assert await storage.credentials.delete(a, uid(10)) is False


async def test_hubs_round_trip_with_origins(storage: Storage) -> None:
    a, b = await org(storage, 1), await org(storage, 2)
    stored = hub(20, a)
    await storage.hubs.add(stored)
    assert await storage.hubs.get(a, stored.id) == stored
    assert await storage.hubs.get(b, stored.id) is None
    assert await storage.hubs.delete(b, stored.id) is False


async def test_connectors_round_trip_within_their_hub(storage: Storage) -> None:
    a = await org(storage, 1)
    await storage.hubs.add(hub(20, a))
    await storage.hubs.add(hub(21, a))
    stored = connector(30, uid(20))
    await storage.connectors.add(stored)
    assert await storage.connectors.get(uid(20), stored.id) == stored
    assert await storage.connectors.get(uid(21), stored.id) is None
    assert await storage.connectors.list(uid(20)) == [stored]
    assert await storage.connectors.delete(uid(21), stored.id) is False
    assert await storage.connectors.delete(uid(20), stored.id) is True
    assert await storage.connectors.list(uid(20)) == []


async def test_deleting_a_hub_deletes_its_connectors_and_nothing_else(storage: Storage) -> None:
    a = await org(storage, 1)
    await storage.hubs.add(hub(20, a))
    await storage.hubs.add(hub(21, a))
    await storage.connectors.add(connector(30, uid(20)))
    await storage.connectors.add(connector(31, uid(21)))
    assert await storage.hubs.delete(a, uid(20)) is True
    assert await storage.connectors.get(uid(20), uid(30)) is None
    assert await storage.connectors.get(uid(21), uid(31)) is not None


async def test_a_state_can_be_marked_used_once(storage: Storage) -> None:
    state_id = b"\x07" * 16
    assert await storage.used_states.is_used(state_id) is False
    assert await storage.used_states.mark_used(state_id, T0) is True
    assert await storage.used_states.is_used(state_id) is True
    assert await storage.used_states.mark_used(state_id, T0) is False


async def test_racing_marks_of_one_state_succeed_exactly_once(storage: Storage) -> None:
    results = await asyncio.gather(
        *(storage.used_states.mark_used(b"\x09" * 16, T0) for _ in range(16))
    )
    assert results.count(True) == 1


async def test_expired_used_states_are_forgotten_and_live_ones_kept(storage: Storage) -> None:
    await storage.used_states.mark_used(b"\x01" * 16, T0)
    await storage.used_states.mark_used(b"\x02" * 16, T0 + timedelta(minutes=10))
    assert await storage.used_states.delete_expired(T0 + timedelta(minutes=1)) == 1
    assert await storage.used_states.is_used(b"\x01" * 16) is False
    assert await storage.used_states.is_used(b"\x02" * 16) is True


async def test_health_ping_answers(storage: Storage) -> None:
    await storage.health.ping()
