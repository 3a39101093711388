"""The read caches: bounded in size and age, one load per miss, and writes invalidate."""

import asyncio
from datetime import UTC, datetime

from adapters.cache import CachedCredentials, CachedHubs, TtlCache
from adapters.memory.repositories import in_memory_storage
from domain.model import Credential, Hub, Organisation

NOW = datetime(2026, 11, 28, tzinfo=UTC)


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_time_to_live() -> None:
    clock = Ticker()
    cache: TtlCache[str, int] = TtlCache(ttl=2.0, clock=clock)
    cache.put("a", 1)
    clock.now = 1.99
    assert cache.get("a") == 1
    clock.now = 2.0
    assert cache.get("a") is None


def test_the_cache_holds_at_most_its_bound_oldest_out_first() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl=60, max_entries=3)
    for n in range(5):
        cache.put(n, n)
    assert len(cache) == 3
    assert cache.get(0) is None
    assert cache.get(4) == 4


async def test_concurrent_misses_share_one_load_and_misses_are_not_cached() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl=60)
    loads = 0

    async def load() -> str | None:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "value"

    results = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(20)))
    assert results == ["value"] * 20
    assert loads == 1

    async def missing() -> str | None:
        nonlocal loads
        loads += 1
        return None

    assert await cache.get_or_load("absent", missing) is None
    assert await cache.get_or_load("absent", missing) is None
    assert loads == 3


async def test_a_cached_object_is_forgotten_when_deleted_through_the_cache() -> None:
    storage = in_memory_storage()
    await storage.organisations.add(Organisation("o", "o", NOW))
    credentials = CachedCredentials(storage.credentials, ttl=60)
    await credentials.add(Credential("c", "o", "n", "client", "v1.k.x", NOW))
    assert await credentials.get("o", "c") is not None
    assert await credentials.delete("o", "c") is True
    assert await credentials.get("o", "c") is None


async def test_a_change_made_elsewhere_shows_after_the_time_to_live() -> None:
    storage = in_memory_storage()
    hubs = CachedHubs(storage.hubs, ttl=0.05)
    await storage.hubs.add(Hub("h", "o", "n", (), NOW))
    assert await hubs.get("o", "h") is not None
    await storage.hubs.delete("o", "h")  # another instance, past this cache
    assert await hubs.get("o", "h") is not None  # still cached: within the bound
    await asyncio.sleep(0.06)
    assert await hubs.get("o", "h") is None


async def test_an_ageing_entry_is_served_while_it_reloads_and_never_past_its_lifetime() -> None:
    clock = Ticker()
    cache: TtlCache[str, str] = TtlCache(ttl=2.0, clock=clock)
    values = iter(["first", "second"])
    loads = 0

    async def load() -> str | None:
        nonlocal loads
        loads += 1
        return next(values)

    assert await cache.get_or_load("k", load) == "first"
    clock.now = 0.5
    assert await cache.get_or_load("k", load) == "first"
    assert loads == 1  # young: no reload
    clock.now = 1.5
    assert await cache.get_or_load("k", load) == "first"  # served at once, reload started
    for _ in range(3):  # the load, then its completion callback
        await asyncio.sleep(0)
    assert loads == 2
    assert cache.get("k") == "second"
    clock.now = 3.6  # past the reloaded entry's lifetime (1.5 + 2.0): never served
    assert cache.get("k") is None


async def test_a_reload_that_finds_nothing_evicts_the_entry() -> None:
    clock = Ticker()
    cache: TtlCache[str, str] = TtlCache(ttl=2.0, clock=clock)
    answers = iter(["value", None])

    async def load() -> str | None:
        return next(answers)

    await cache.get_or_load("k", load)
    clock.now = 1.5
    await cache.get_or_load("k", load)
    for _ in range(3):
        await asyncio.sleep(0)
    assert cache.get("k") is None


async def test_draining_waits_for_background_loads() -> None:
    clock = Ticker()
    cache: TtlCache[str, str] = TtlCache(ttl=2.0, clock=clock)
    finished = asyncio.Event()

    async def slow() -> str | None:
        await asyncio.sleep(0.02)
        finished.set()
        return "fresh"

    cache.put("k", "old")
    clock.now = 1.5
    assert await cache.get_or_load("k", slow) == "old"  # a background reload starts
    assert not finished.is_set()
    await cache.drain()
    assert finished.is_set()
