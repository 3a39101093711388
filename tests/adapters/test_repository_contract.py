"""One contract for every storage backend: the fakes must behave like SQLite and PostgreSQL."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.errors import CredentialInUse, DuplicateKey
from application.ports.storage import Storage
from domain.model import (
    ApiKey,
    Connection,
    ConnectionStatus,
    ConnectionTokens,
    Connector,
    ConnectSession,
    Credential,
    Hub,
    Organisation,
    RefreshHealth,
    SigningAlgorithm,
    SigningKey,
    TokenAuthMethod,
)
from domain.scopes import ScopeSeparator

T0 = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


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
        seal=f"v1.k.hub{n}",
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
        seal=f"v1.k.connector{n}",
    )


async def test_organisations_round_trip(storage: Storage) -> None:
    org_id = await org(storage, 1)
    assert await storage.organisations.get(org_id) == Organisation(org_id, "org 1", T0)
    assert await storage.organisations.get(uid(99)) is None


async def test_api_keys_resolve_by_hash_only(storage: Storage) -> None:
    org_id = await org(storage, 1)
    key = ApiKey(uid(2), org_id, b"\x01" * 32, T0, seal="v1.k.seal")
    await storage.api_keys.add(key)
    assert await storage.api_keys.find(b"\x01" * 32) == key
    assert await storage.api_keys.find(b"\x02" * 32) is None
    assert await storage.api_keys.delete(b"\x02" * 32) is False
    assert await storage.api_keys.delete(b"\x01" * 32) is True
    assert await storage.api_keys.find(b"\x01" * 32) is None


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


def connection(
    n: int,
    org_id: str,
    hub_id: str,
    connector_id: str,
    credential_id: str,
    user: str = "user-1",
    at: datetime = T0,
) -> Connection:
    return Connection(
        id=uid(n),
        organisation_id=org_id,
        hub_id=hub_id,
        user_id=user,
        connector_id=connector_id,
        credential_id=credential_id,
        name=f"connection {n}",
        tokens=ConnectionTokens(
            token_type="Bearer",
            sealed_access_token=f"v1.k.access{n}",
            sealed_refresh_token=f"v1.k.refresh{n}",
            expires_at=T0 + timedelta(hours=1),
            scopes=("read", "offline_access"),
        ),
        status=ConnectionStatus.ACTIVE,
        created_at=at,
        seal=f"v1.k.connection{n}",
    )


async def world_of(storage: Storage) -> tuple[str, str, str, str]:
    org_id = await org(storage, 1)
    await storage.credentials.add(credential(10, org_id))
    await storage.hubs.add(hub(20, org_id))
    await storage.connectors.add(connector(30, uid(20)))
    return org_id, uid(20), uid(30), uid(10)


async def test_connections_round_trip_and_are_scoped(storage: Storage) -> None:
    org_id, hub_id, connector_id, credential_id = await world_of(storage)
    other = await org(storage, 2)
    stored = connection(40, org_id, hub_id, connector_id, credential_id)
    await storage.connections.add(stored)
    assert await storage.connections.get(org_id, stored.id) == stored
    assert await storage.connections.get(other, stored.id) is None
    assert await storage.connections.delete(other, stored.id) is False


async def test_connections_list_per_end_user_oldest_first(storage: Storage) -> None:
    ids = await world_of(storage)
    await storage.connections.add(connection(41, *ids, user="u-a", at=T0 + timedelta(minutes=2)))
    await storage.connections.add(connection(42, *ids, user="u-a", at=T0 + timedelta(minutes=1)))
    await storage.connections.add(connection(43, *ids, user="u-b"))
    listed = await storage.connections.list_for_user(ids[0], ids[1], "u-a")
    assert [c.id for c in listed] == [uid(42), uid(41)]
    assert await storage.connections.list_for_user(ids[0], ids[1], "u-c") == []


async def test_connection_tokens_and_status_are_updated_in_place(storage: Storage) -> None:
    ids = await world_of(storage)
    stored = connection(40, *ids)
    await storage.connections.add(stored)
    tokens = ConnectionTokens("bearer", "v1.k.new-access", None, None, ("read",), 3600)
    later = T0 + timedelta(minutes=5)
    written = await storage.connections.update_tokens(
        stored.id, tokens, expected_version=1, refreshed_at=later
    )
    assert written is True
    assert await storage.connections.set_status(
        stored.id, ConnectionStatus.REAUTHORISATION_REQUIRED, "invalid_grant"
    )
    assert await storage.connections.get(ids[0], stored.id) == replace(
        stored,
        tokens=tokens,
        status=ConnectionStatus.REAUTHORISATION_REQUIRED,
        status_reason="invalid_grant",
        health=RefreshHealth(version=2, last_refreshed_at=later),
    )


async def test_a_token_write_with_a_stale_version_is_refused(storage: Storage) -> None:
    """The fencing check: a refresh that read version 1 cannot overwrite version 2."""
    ids = await world_of(storage)
    stored = connection(40, *ids)
    await storage.connections.add(stored)
    first = ConnectionTokens("Bearer", "v1.k.first", "v1.k.r1", None, ())
    second = ConnectionTokens("Bearer", "v1.k.second", "v1.k.r2", None, ())
    connections = storage.connections
    assert await connections.update_tokens(stored.id, first, expected_version=1, refreshed_at=T0)
    assert not await connections.update_tokens(
        stored.id, second, expected_version=1, refreshed_at=T0
    )
    assert not await connections.set_status(
        stored.id, ConnectionStatus.REAUTHORISATION_REQUIRED, "x", expected_version=1
    )
    current = await connections.get(ids[0], stored.id)
    assert current is not None
    assert (current.tokens, current.health.version, current.status) == (
        first,
        2,
        ConnectionStatus.ACTIVE,
    )


async def test_refresh_failures_are_counted_and_a_success_resets_them(storage: Storage) -> None:
    ids = await world_of(storage)
    stored = connection(40, *ids)
    await storage.connections.add(stored)
    until = T0 + timedelta(seconds=8)
    await storage.connections.record_refresh_failure(stored.id, failures=3, not_before=until)
    failed = await storage.connections.get(ids[0], stored.id)
    assert failed is not None
    assert (failed.health.failures, failed.health.not_before, failed.health.version) == (
        3,
        until,
        1,
    )
    await storage.connections.update_tokens(
        stored.id, stored.tokens, expected_version=1, refreshed_at=T0
    )
    recovered = await storage.connections.get(ids[0], stored.id)
    assert recovered is not None
    assert recovered.health == RefreshHealth(version=2, last_refreshed_at=T0)


async def test_connections_due_for_refresh(storage: Storage) -> None:
    ids = await world_of(storage)
    soon, later = T0 + timedelta(seconds=30), T0 + timedelta(hours=2)

    def expiring(n: int, at: datetime, refresh: str | None = "v1.k.r") -> Connection:
        base = connection(n, *ids)
        return replace(
            base, tokens=replace(base.tokens, expires_at=at, sealed_refresh_token=refresh)
        )

    await storage.connections.add(expiring(41, soon + timedelta(seconds=5)))
    await storage.connections.add(expiring(42, soon))
    await storage.connections.add(expiring(43, later))  # not due
    await storage.connections.add(expiring(44, soon, refresh=None))  # cannot be refreshed
    await storage.connections.add(expiring(45, soon))
    await storage.connections.set_status(uid(45), ConnectionStatus.REAUTHORISATION_REQUIRED)
    await storage.connections.add(expiring(46, soon))
    await storage.connections.record_refresh_failure(
        uid(46), failures=1, not_before=T0 + timedelta(minutes=1)
    )
    due = await storage.connections.due_for_refresh(T0 + timedelta(minutes=1), T0, 10)
    assert [c.id for c in due] == [uid(42), uid(41)]
    assert [
        c.id for c in await storage.connections.due_for_refresh(T0 + timedelta(minutes=1), T0, 1)
    ] == [uid(42)]


async def test_a_credential_in_use_cannot_be_deleted(storage: Storage) -> None:
    ids = await world_of(storage)
    await storage.connections.add(connection(40, *ids))
    with pytest.raises(CredentialInUse):
        await storage.credentials.delete(ids[0], ids[3])
    assert await storage.credentials.get(ids[0], ids[3]) is not None
    assert await storage.connections.delete(ids[0], uid(40)) is True
    assert await storage.credentials.delete(ids[0], ids[3]) is True


async def test_deleting_a_hub_or_connector_deletes_its_connections(storage: Storage) -> None:
    ids = await world_of(storage)
    await storage.connections.add(connection(40, *ids))
    assert await storage.connectors.delete(ids[1], ids[2]) is True
    assert await storage.connections.get(ids[0], uid(40)) is None
    await storage.connectors.add(connector(31, ids[1]))
    await storage.connections.add(connection(41, ids[0], ids[1], uid(31), ids[3]))
    assert await storage.hubs.delete(ids[0], ids[1]) is True
    assert await storage.connections.get(ids[0], uid(41)) is None


async def test_refresh_lock_is_exclusive_until_released_or_expired(storage: Storage) -> None:
    locks = storage.refresh_locks
    later = T0 + timedelta(seconds=30)
    assert await locks.acquire("c1", "a", T0, later) is True
    assert await locks.acquire("c1", "b", T0 + timedelta(seconds=1), later) is False
    assert await locks.acquire("c2", "b", T0, later) is True
    await locks.release("c1", "b")  # not the holder: no effect
    assert await locks.acquire("c1", "b", T0 + timedelta(seconds=2), later) is False
    await locks.release("c1", "a")
    assert await locks.acquire("c1", "b", T0 + timedelta(seconds=3), later) is True
    assert await locks.acquire("c1", "c", later, later + timedelta(seconds=30)) is True


async def test_racing_lock_acquisitions_let_exactly_one_through(storage: Storage) -> None:
    results = await asyncio.gather(
        *(
            storage.refresh_locks.acquire("c9", f"h{i}", T0, T0 + timedelta(seconds=30))
            for i in range(16)
        )
    )
    assert results.count(True) == 1


async def test_an_expired_lock_is_taken_over_and_purged(storage: Storage) -> None:
    locks = storage.refresh_locks
    lease_end = T0 + timedelta(seconds=30)
    assert await locks.acquire("c1", "a", T0, lease_end) is True
    assert await locks.acquire("c2", "a", T0, lease_end + timedelta(minutes=5)) is True
    assert await locks.acquire("c1", "b", lease_end, lease_end + timedelta(seconds=30)) is True
    await locks.release("c1", "a")  # the old holder no longer holds it: nothing happens
    assert await locks.acquire("c1", "c", lease_end, lease_end + timedelta(seconds=30)) is False
    assert await locks.delete_expired(lease_end + timedelta(seconds=30)) == 1  # c1, not c2
    assert await locks.acquire("c2", "c", lease_end, lease_end) is False


async def test_every_duplicate_key_is_refused_alike(storage: Storage) -> None:
    org_id, hub_id, connector_id, credential_id = await world_of(storage)
    with pytest.raises(DuplicateKey):
        await storage.organisations.add(Organisation(id=org_id, name="again", created_at=T0))
    with pytest.raises(DuplicateKey):
        await storage.credentials.add(credential(10, org_id))
    with pytest.raises(DuplicateKey):
        await storage.hubs.add(hub(20, org_id))
    with pytest.raises(DuplicateKey):
        await storage.connectors.add(connector(30, hub_id))
    stored = connection(40, org_id, hub_id, connector_id, credential_id)
    await storage.connections.add(stored)
    with pytest.raises(DuplicateKey):
        await storage.connections.add(stored)
    key = ApiKey(id=uid(50), organisation_id=org_id, key_hash=b"h" * 32, created_at=T0)
    await storage.api_keys.add(key)
    with pytest.raises(DuplicateKey):
        await storage.api_keys.add(replace(key, id=uid(51)))  # same hash, another id
    assert await storage.organisations.get(org_id) is not None
    assert await storage.connections.get(org_id, stored.id) == stored


async def test_a_unit_of_work_commits_all_its_writes_together(storage: Storage) -> None:
    await organisation_with_key(storage)
    assert await storage.organisations.get(uid(1)) is not None
    found = await storage.api_keys.find(b"k" * 32)
    assert found is not None
    assert found.organisation_id == uid(1)


class Interrupted(Exception):
    pass


async def organisation_with_key(storage: Storage, *, then_fail: bool = False) -> None:
    """Organisation 1 and a key with hash k..., in one unit of work."""
    async with storage.unit_of_work.begin() as tx:
        await tx.organisations.add(Organisation(id=uid(1), name="o", created_at=T0))
        async with tx.unit_of_work.begin() as joined:  # a unit inside a unit joins it
            await joined.api_keys.add(ApiKey(uid(2), uid(1), b"k" * 32, T0))
        if then_fail:
            raise Interrupted


async def test_a_unit_of_work_that_fails_leaves_nothing_behind(storage: Storage) -> None:
    await org(storage, 9)
    with pytest.raises(Interrupted):
        await organisation_with_key(storage, then_fail=True)
    assert await storage.organisations.get(uid(1)) is None
    assert await storage.api_keys.find(b"k" * 32) is None
    assert await storage.organisations.get(uid(9)) is not None  # what was there stays


async def test_a_duplicate_inside_a_unit_of_work_rolls_back_its_earlier_writes(
    storage: Storage,
) -> None:
    existing = await org(storage, 9)
    await storage.api_keys.add(ApiKey(uid(3), existing, b"k" * 32, T0))
    with pytest.raises(DuplicateKey):
        await organisation_with_key(storage)
    assert await storage.organisations.get(uid(1)) is None
    found = await storage.api_keys.find(b"k" * 32)
    assert found is not None
    assert found.organisation_id == existing


async def test_a_reauthorisation_replaces_tokens_and_health_in_place(storage: Storage) -> None:
    ids = await world_of(storage)
    stored = replace(
        connection(40, *ids),
        status=ConnectionStatus.REAUTHORISATION_REQUIRED,
        status_reason="invalid_grant",
        health=RefreshHealth(version=3, last_refreshed_at=T0, failures=2, not_before=T0),
    )
    await storage.connections.add(stored)
    await storage.credentials.add(credential(11, ids[0]))
    tokens = ConnectionTokens("Bearer", "v1.k.again", "v1.k.refresh-again", None, ("read",), 60)
    assert await storage.connections.reauthorise(stored.id, uid(11), tokens, "v1.k.s2") is True
    assert await storage.connections.get(ids[0], stored.id) == replace(
        stored,
        credential_id=uid(11),
        seal="v1.k.s2",
        tokens=tokens,
        status=ConnectionStatus.ACTIVE,
        status_reason=None,
        health=RefreshHealth(version=4, last_refreshed_at=T0),
    )
    # A refresh that read the version before cannot write over the new tokens.
    assert not await storage.connections.update_tokens(
        stored.id, tokens, expected_version=3, refreshed_at=T0
    )
    assert await storage.connections.reauthorise(uid(99), uid(11), tokens, "v1.k.s2") is False


async def test_hubs_and_connections_are_found_by_id_alone(storage: Storage) -> None:
    ids = await world_of(storage)
    await storage.connections.add(connection(40, *ids))
    assert (await storage.hubs.find(ids[1])) == await storage.hubs.get(ids[0], ids[1])
    assert await storage.hubs.find(uid(99)) is None
    assert await storage.connections.hub_of(uid(40)) == ids[1]
    assert await storage.connections.hub_of(uid(99)) is None


def signing_key(n: int, organisation_id: str, at: datetime = T0) -> SigningKey:
    return SigningKey(
        id=uid(n),
        organisation_id=organisation_id,
        name=f"key {n}",
        algorithm=SigningAlgorithm.ES256,
        public_key=f"-----BEGIN PUBLIC KEY-----\nkey{n}\n-----END PUBLIC KEY-----\n",
        created_at=at,
    )


async def test_signing_keys_are_scoped_but_found_by_kid(storage: Storage) -> None:
    a, b = await org(storage, 1), await org(storage, 2)
    first, second = signing_key(50, a, T0 + timedelta(minutes=1)), signing_key(51, a, T0)
    await storage.signing_keys.add(first)
    await storage.signing_keys.add(second)
    assert await storage.signing_keys.get(a, first.id) == first
    assert await storage.signing_keys.get(b, first.id) is None
    assert await storage.signing_keys.find(first.id) == first
    assert [k.id for k in await storage.signing_keys.list(a)] == [second.id, first.id]
    assert await storage.signing_keys.list(b) == []
    assert await storage.signing_keys.delete(b, first.id) is False
    assert await storage.signing_keys.delete(a, first.id) is True
    assert await storage.signing_keys.find(first.id) is None
    with pytest.raises(DuplicateKey):
        await storage.signing_keys.add(second)


def session(n: int, organisation_id: str, hub_id: str, **extra: Any) -> ConnectSession:
    values: dict[str, Any] = {
        "token_hash": n.to_bytes(32, "big"),
        "organisation_id": organisation_id,
        "hub_id": hub_id,
        "user_id": f"user-{n}",
        "connector_ids": None,
        "expires_at": T0 + timedelta(minutes=30),
        "created_at": T0,
    }
    return ConnectSession(**{**values, **extra})


async def test_connect_sessions_are_found_by_hash_revoked_within_their_organisation_and_purged(
    storage: Storage,
) -> None:
    org_id, hub_id, connector_id, _ = await world_of(storage)
    other = await org(storage, 2)
    limited = session(1, org_id, hub_id, connector_ids=(connector_id,))
    short = session(2, org_id, hub_id, expires_at=T0 + timedelta(minutes=1))
    await storage.connect_sessions.add(limited)
    await storage.connect_sessions.add(short)
    assert await storage.connect_sessions.get(limited.token_hash) == limited
    assert await storage.connect_sessions.get(bytes(32)) is None
    with pytest.raises(DuplicateKey):
        await storage.connect_sessions.add(limited)
    assert await storage.connect_sessions.delete(other, limited.token_hash) is False
    assert await storage.connect_sessions.delete_expired(T0 + timedelta(minutes=1)) == 1
    assert await storage.connect_sessions.get(short.token_hash) is None
    assert await storage.connect_sessions.delete(org_id, limited.token_hash) is True
    assert await storage.connect_sessions.get(limited.token_hash) is None


async def test_deleting_a_hub_deletes_its_connect_sessions(storage: Storage) -> None:
    org_id, hub_id, _, _ = await world_of(storage)
    await storage.hubs.add(hub(21, org_id))
    await storage.connect_sessions.add(session(1, org_id, hub_id))
    await storage.connect_sessions.add(session(2, org_id, uid(21)))
    assert await storage.hubs.delete(org_id, hub_id)
    assert await storage.connect_sessions.get((1).to_bytes(32, "big")) is None
    assert await storage.connect_sessions.get((2).to_bytes(32, "big")) is not None
