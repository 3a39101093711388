"""The read caches: bounded in size and age, one load per miss, writes invalidate what they
touch and everything beneath it, and an invalidated load never puts a stale value back."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from adapters.cache import CachedLookup, CacheGroup, cached_storage
from adapters.memory.repositories import in_memory_storage
from domain.model import (
    Connection,
    ConnectionStatus,
    ConnectionTokens,
    Connector,
    Credential,
    Hub,
    Organisation,
    TokenAuthMethod,
)
from domain.scopes import ScopeSeparator

NOW = datetime(2026, 11, 28, tzinfo=UTC)


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A load that counts its calls and answers what ``value`` holds at the time."""

    def __init__(self, value: str | None = "v") -> None:
        self.value = value
        self.loads = 0

    async def __call__(self) -> str | None:
        self.loads += 1
        return self.value


async def settle() -> None:
    for _ in range(3):  # a background load, then its completion callback
        await asyncio.sleep(0)


async def test_entries_expire_after_their_time_to_live() -> None:
    clock = Ticker()
    cache: CachedLookup[str, str] = CachedLookup(2.0, clock=clock)
    source = Source()
    await cache.get("a", source)
    clock.now = 0.99  # young: served without a load
    await cache.get("a", source)
    assert source.loads == 1
    clock.now = 2.0
    await cache.get("a", source)
    assert source.loads == 2


async def test_the_cache_holds_at_most_its_bound_oldest_out_first() -> None:
    cache: CachedLookup[int, str] = CachedLookup(60, max_entries=3)
    sources = [Source(str(n)) for n in range(5)]
    for n, source in enumerate(sources):
        await cache.get(n, source)
    assert len(cache) == 3
    await cache.get(0, sources[0])
    await cache.get(4, sources[4])
    assert (sources[0].loads, sources[4].loads) == (2, 1)


async def test_concurrent_misses_share_one_load_and_misses_are_not_cached() -> None:
    cache: CachedLookup[str, str] = CachedLookup(60)
    loads = 0

    async def slow() -> str | None:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "value"

    assert await asyncio.gather(*(cache.get("k", slow) for _ in range(20))) == ["value"] * 20
    assert loads == 1
    missing = Source(None)
    assert await cache.get("absent", missing) is None
    assert await cache.get("absent", missing) is None
    assert missing.loads == 2


async def test_an_ageing_entry_is_served_while_it_reloads_and_never_past_its_lifetime() -> None:
    clock = Ticker()
    cache: CachedLookup[str, str] = CachedLookup(2.0, clock=clock)
    source = Source("first")
    assert await cache.get("k", source) == "first"
    source.value = "second"
    clock.now = 1.5
    assert await cache.get("k", source) == "first"  # served at once, reload started
    await settle()
    assert source.loads == 2
    assert await cache.get("k", source) == "second"
    clock.now = 3.6  # past the reloaded entry's lifetime (1.5 + 2.0): loaded again
    await cache.get("k", source)
    assert source.loads == 3


async def test_a_reload_that_finds_nothing_evicts_the_entry() -> None:
    clock = Ticker()
    cache: CachedLookup[str, str] = CachedLookup(2.0, clock=clock)
    source = Source("value")
    await cache.get("k", source)
    source.value = None
    clock.now = 1.5
    await cache.get("k", source)
    await settle()
    assert len(cache) == 0


async def test_draining_waits_for_background_loads() -> None:
    clock = Ticker()
    cache: CachedLookup[str, str] = CachedLookup(2.0, clock=clock)
    finished = asyncio.Event()
    loads = 0

    async def slow_after_the_first() -> str | None:
        nonlocal loads
        loads += 1
        if loads > 1:
            await asyncio.sleep(0.02)
            finished.set()
        return "value"

    await cache.get("k", slow_after_the_first)
    clock.now = 1.5
    assert await cache.get("k", slow_after_the_first) == "value"  # a background reload starts
    assert not finished.is_set()
    await cache.drain()
    assert finished.is_set()


def gated(value: str) -> tuple[asyncio.Event, Callable[[], Awaitable[str | None]]]:
    gate = asyncio.Event()

    async def load() -> str | None:
        await gate.wait()
        return value

    return gate, load


async def test_a_load_in_flight_when_its_entry_is_invalidated_is_not_stored() -> None:
    cache: CachedLookup[str, str] = CachedLookup(60)
    gate, stale = gated("before the delete")
    waiting = asyncio.ensure_future(cache.get("k", stale))
    await asyncio.sleep(0)
    cache.invalidate("k")  # the row is deleted while the load still runs
    gate.set()
    assert await waiting == "before the delete"  # the request that asked before the delete
    after = Source(None)
    assert await cache.get("k", after) is None  # the deleted row did not come back
    assert after.loads == 1


async def test_a_tag_invalidated_while_a_load_runs_keeps_that_load_out() -> None:
    cache: CachedLookup[str, Hub] = CachedLookup(60, tags=lambda hub: [("hub", hub.id)])
    gate = asyncio.Event()

    async def load() -> Hub | None:
        await gate.wait()
        return Hub("h", "o", "n", (), NOW)

    waiting = asyncio.ensure_future(cache.get("k", load))
    await asyncio.sleep(0)
    cache.invalidate_tag(("hub", "h"))
    gate.set()
    await waiting
    assert len(cache) == 0


def connection(connection_id: str, hub_id: str, connector_id: str) -> Connection:
    return Connection(
        id=connection_id,
        organisation_id="o",
        hub_id=hub_id,
        user_id="u",
        connector_id=connector_id,
        credential_id="c",
        name="n",
        tokens=ConnectionTokens("Bearer", "sealed", None, None, ()),
        status=ConnectionStatus.ACTIVE,
        created_at=NOW,
    )


def connector(connector_id: str, hub_id: str) -> Connector:
    return Connector(
        id=connector_id,
        hub_id=hub_id,
        name="p",
        token_url="https://p.example/token",
        scope_separator=ScopeSeparator.SPACE,
        pkce=True,
        token_auth_method=TokenAuthMethod.CLIENT_SECRET_BASIC,
        created_at=NOW,
    )


async def test_deleting_a_hub_invalidates_its_connectors_and_connections_and_nothing_else() -> None:
    storage = in_memory_storage()
    await storage.organisations.add(Organisation("o", "o", NOW))
    await storage.credentials.add(Credential("c", "o", "n", "client", "v1.k.x", NOW))
    for hub_id in ("h1", "h2"):
        await storage.hubs.add(Hub(hub_id, "o", "n", (), NOW))
        await storage.connectors.add(connector(f"p-{hub_id}", hub_id))
        await storage.connections.add(connection(f"c-{hub_id}", hub_id, f"p-{hub_id}"))
    cached = cached_storage(storage, CacheGroup(60))
    for hub_id in ("h1", "h2"):  # everything cached
        assert await cached.hubs.get("o", hub_id) is not None
        assert await cached.connectors.get(hub_id, f"p-{hub_id}") is not None
        assert await cached.connections.get("o", f"c-{hub_id}") is not None

    assert await cached.hubs.delete("o", "h1")

    assert await cached.hubs.get("o", "h1") is None
    assert await cached.connectors.get("h1", "p-h1") is None
    assert await cached.connections.get("o", "c-h1") is None
    await storage.hubs.delete("o", "h2")  # past the cache: h2's entries are still served
    assert await cached.hubs.get("o", "h2") is not None
    assert await cached.connections.get("o", "c-h2") is not None


async def test_deleting_a_connector_invalidates_its_connections() -> None:
    storage = in_memory_storage()
    await storage.hubs.add(Hub("h", "o", "n", (), NOW))
    await storage.connectors.add(connector("p", "h"))
    await storage.connections.add(connection("c1", "h", "p"))
    cached = cached_storage(storage, CacheGroup(60))
    assert await cached.connections.get("o", "c1") is not None
    assert await cached.connectors.delete("h", "p")
    assert await cached.connections.get("o", "c1") is None


async def test_a_change_made_elsewhere_shows_after_the_time_to_live() -> None:
    storage = in_memory_storage()
    cached = cached_storage(storage, CacheGroup(0.05))
    await storage.hubs.add(Hub("h", "o", "n", (), NOW))
    assert await cached.hubs.get("o", "h") is not None
    await storage.hubs.delete("o", "h")  # another instance, past this cache
    assert await cached.hubs.get("o", "h") is not None  # still cached: within the bound
    await asyncio.sleep(0.06)
    assert await cached.hubs.get("o", "h") is None


async def test_no_time_to_live_means_no_cache() -> None:
    storage = in_memory_storage()
    assert cached_storage(storage, CacheGroup(0)) is storage
