"""Bounded, short-lived read caches in front of the repositories on the hot paths.

One generic lookup (``CachedLookup``) serves every cached read. Its rules:
- an entry lives at most ``ttl`` seconds, so a change made through another instance (a
  deleted credential, a revoked API key) is honoured everywhere within that bound;
- a change made through this instance is honoured by it at once: writes invalidate the
  entries they touch, and deleting a hub, connector or credential invalidates everything
  cached beneath it (its connectors and connections), found through a tag index, without
  scanning the cache;
- a load that was in flight when its entry was invalidated is handed to the requests that
  were already waiting for it, but never stored, so a deleted row cannot come back;
- misses are not cached, so a new object is usable at once.

Reads that must be exact do not come through here: a used state is recorded in the
database, and the code exchange and a refresh read the rows they depend on themselves.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Generic, Protocol, TypeVar

from application.ports.storage import (
    ApiKeyRepository,
    ConnectionRepository,
    ConnectorRepository,
    CredentialRepository,
    HubRepository,
    SigningKeyRepository,
    Storage,
    UnitOfWork,
)
from domain.model import (
    ApiKey,
    Connection,
    ConnectionStatus,
    ConnectionTokens,
    Connector,
    Credential,
    Hub,
    SigningKey,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Loader = Callable[[], Awaitable[V | None]]  # one row, read from the storage
Tag = tuple[str, str]  # ("hub", id), ("connector", id), ("credential", id), ("connection", id)
MAX_ENTRIES = 10_000


def _no_tags(_: object) -> tuple[Tag, ...]:
    return ()


class CachedLookup(Generic[K, V]):
    """At most ``max_entries`` values, each for at most ``ttl`` seconds, oldest out first;
    one load per key at a time, shared by every request that misses meanwhile."""

    def __init__(
        self,
        ttl: float,
        *,
        tags: Callable[[V], Iterable[Tag]] = _no_tags,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._tags_of = tags
        self._max = max_entries
        self._clock = clock
        # key -> (expiry, value, the load that produced it, reused to refresh it ahead)
        self._entries: OrderedDict[K, tuple[float, V, Loader[V]]] = OrderedDict()
        self._keys_by_tag: dict[Tag, set[K]] = {}
        self._loading: dict[K, asyncio.Future[V | None]] = {}
        self._tag_invalidations = 0  # loads that overlap a tag invalidation are not stored

    async def get(self, key: K, load: Loader[V]) -> V | None:
        """The cached value, or the result of one load shared by concurrent misses."""
        return self.hit(key) or await self.load(key, load)

    def hit(self, key: K) -> V | None:
        """The cached value while it lives, else ``None``; no await on the hot path.

        Past half its lifetime an entry is reloaded in the background while it is still
        served, so under steady load no request waits for the storage; an entry is never
        served past its lifetime.
        """
        entry = self._entries.get(key)
        if entry is None:
            return None
        remaining = entry[0] - self._clock()
        if remaining <= 0:
            return None
        if remaining < self._ttl / 2 and key not in self._loading:
            self._start_load(key, entry[2])
        return entry[1]

    async def load(self, key: K, load: Loader[V]) -> V | None:
        """Load the value, joining a load of the same key already under way."""
        pending = self._loading.get(key) or self._start_load(key, load)
        return await asyncio.shield(pending)

    def invalidate(self, key: K) -> None:
        self._remove(key)
        self._loading.pop(key, None)  # its result, when it comes, is not stored

    def invalidate_tag(self, tag: Tag) -> None:
        self._tag_invalidations += 1
        for key in list(self._keys_by_tag.get(tag, ())):
            self.invalidate(key)

    async def drain(self) -> None:
        """Wait for loads still running (at shutdown, before the storage goes away)."""
        if self._loading:
            await asyncio.gather(*self._loading.values(), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._entries)

    def _start_load(self, key: K, load: Loader[V]) -> asyncio.Future[V | None]:
        pending = asyncio.ensure_future(load())
        self._loading[key] = pending
        started_at = self._tag_invalidations

        def settle(done: asyncio.Future[V | None]) -> None:
            if self._loading.get(key) is not pending:
                return  # invalidated while loading
            del self._loading[key]
            if done.cancelled() or done.exception() is not None:
                return  # the entry, if any, lives out its lifetime; the next miss retries
            value = done.result()
            if value is None:
                self._remove(key)  # deleted meanwhile
            elif self._tag_invalidations == started_at:
                self._put(key, value, load)

        pending.add_done_callback(settle)
        return pending

    def _put(self, key: K, value: V, load: Loader[V]) -> None:
        self._remove(key)
        self._entries[key] = (self._clock() + self._ttl, value, load)
        for tag in self._tags_of(value):
            self._keys_by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self._max:
            self._remove(next(iter(self._entries)))

    def _remove(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in self._tags_of(entry[1]):
            keys = self._keys_by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_tag[tag]


class _Invalidated(Protocol):
    def invalidate_tag(self, tag: Tag) -> None: ...

    async def drain(self) -> None: ...


class CacheGroup:
    """The lookups of one storage, so that deleting a row invalidates what hangs beneath it
    in every one of them."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lookups: list[_Invalidated] = []

    def lookup(self, tags: Callable[[V], Iterable[Tag]] = _no_tags) -> CachedLookup[K, V]:
        created: CachedLookup[K, V] = CachedLookup(self.ttl, tags=tags)
        self._lookups.append(created)
        return created

    def invalidate_tag(self, tag: Tag) -> None:
        for lookup in self._lookups:
            lookup.invalidate_tag(tag)

    async def drain(self) -> None:
        for lookup in self._lookups:
            await lookup.drain()


def _hub_tags(hub: Hub) -> tuple[Tag, ...]:
    return (("hub", hub.id),)


def _connector_tags(connector: Connector) -> tuple[Tag, ...]:
    return (("hub", connector.hub_id), ("connector", connector.id))


def _credential_tags(credential: Credential) -> tuple[Tag, ...]:
    return (("credential", credential.id),)


def _connection_tags(connection: Connection) -> tuple[Tag, ...]:
    return (
        ("connection", connection.id),
        ("hub", connection.hub_id),
        ("connector", connection.connector_id),
        ("credential", connection.credential_id),
    )


class CachedApiKeys:
    def __init__(self, inner: ApiKeyRepository, group: CacheGroup) -> None:
        self._inner = inner
        self._lookup: CachedLookup[bytes, ApiKey] = group.lookup()

    async def add(self, api_key: ApiKey) -> None:
        await self._inner.add(api_key)

    async def find(self, key_hash: bytes) -> ApiKey | None:
        return self._lookup.hit(key_hash) or await self._lookup.load(
            key_hash, partial(self._inner.find, key_hash)
        )

    async def delete(self, key_hash: bytes) -> bool:
        deleted = await self._inner.delete(key_hash)
        self._lookup.invalidate(key_hash)
        return deleted


class CachedHubs:
    def __init__(self, inner: HubRepository, group: CacheGroup) -> None:
        self._inner = inner
        self._group = group
        self._lookup: CachedLookup[tuple[str, str], Hub] = group.lookup(_hub_tags)

    async def add(self, hub: Hub) -> None:
        await self._inner.add(hub)

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None:
        key = (organisation_id, hub_id)
        return self._lookup.hit(key) or await self._lookup.load(
            key, partial(self._inner.get, organisation_id, hub_id)
        )

    async def find(self, hub_id: str) -> Hub | None:
        return await self._inner.find(hub_id)

    async def list(self, organisation_id: str) -> list[Hub]:
        return await self._inner.list(organisation_id)

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        deleted = await self._inner.delete(organisation_id, hub_id)
        self._group.invalidate_tag(("hub", hub_id))
        return deleted


class CachedConnectors:
    def __init__(self, inner: ConnectorRepository, group: CacheGroup) -> None:
        self._inner = inner
        self._group = group
        self._lookup: CachedLookup[tuple[str, str], Connector] = group.lookup(_connector_tags)

    async def add(self, connector: Connector) -> None:
        await self._inner.add(connector)

    async def get(self, hub_id: str, connector_id: str) -> Connector | None:
        key = (hub_id, connector_id)
        return self._lookup.hit(key) or await self._lookup.load(
            key, partial(self._inner.get, hub_id, connector_id)
        )

    async def list(self, hub_id: str) -> list[Connector]:
        return await self._inner.list(hub_id)

    async def delete(self, hub_id: str, connector_id: str) -> bool:
        deleted = await self._inner.delete(hub_id, connector_id)
        self._group.invalidate_tag(("connector", connector_id))
        return deleted


class CachedCredentials:
    def __init__(self, inner: CredentialRepository, group: CacheGroup) -> None:
        self._inner = inner
        self._group = group
        self._lookup: CachedLookup[tuple[str, str], Credential] = group.lookup(_credential_tags)

    async def add(self, credential: Credential) -> None:
        await self._inner.add(credential)

    async def get(self, organisation_id: str, credential_id: str) -> Credential | None:
        key = (organisation_id, credential_id)
        return self._lookup.hit(key) or await self._lookup.load(
            key, partial(self._inner.get, organisation_id, credential_id)
        )

    async def list(self, organisation_id: str) -> list[Credential]:
        return await self._inner.list(organisation_id)

    async def delete(self, organisation_id: str, credential_id: str) -> bool:
        deleted = await self._inner.delete(organisation_id, credential_id)
        self._group.invalidate_tag(("credential", credential_id))
        return deleted


class CachedConnections:
    def __init__(self, inner: ConnectionRepository, group: CacheGroup) -> None:
        self._inner = inner
        self._group = group
        self._lookup: CachedLookup[tuple[str, str], Connection] = group.lookup(_connection_tags)

    async def add(self, connection: Connection) -> None:
        await self._inner.add(connection)

    async def get(self, organisation_id: str, connection_id: str) -> Connection | None:
        key = (organisation_id, connection_id)
        return self._lookup.hit(key) or await self._lookup.load(
            key, partial(self._inner.get, organisation_id, connection_id)
        )

    async def hub_of(self, connection_id: str) -> str | None:
        return await self._inner.hub_of(connection_id)

    async def list_for_user(
        self, organisation_id: str, hub_id: str, user_id: str
    ) -> list[Connection]:
        return await self._inner.list_for_user(organisation_id, hub_id, user_id)

    async def delete(self, organisation_id: str, connection_id: str) -> bool:
        deleted = await self._inner.delete(organisation_id, connection_id)
        self._group.invalidate_tag(("connection", connection_id))
        return deleted

    async def update_tokens(
        self,
        connection_id: str,
        tokens: ConnectionTokens,
        *,
        expected_version: int,
        refreshed_at: datetime,
    ) -> bool:
        written = await self._inner.update_tokens(
            connection_id, tokens, expected_version=expected_version, refreshed_at=refreshed_at
        )
        self._group.invalidate_tag(("connection", connection_id))
        return written

    async def reauthorise(
        self,
        connection_id: str,
        credential_id: str,
        tokens: ConnectionTokens,
        seal: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        written = await self._inner.reauthorise(
            connection_id, credential_id, tokens, seal, metadata
        )
        self._group.invalidate_tag(("connection", connection_id))
        return written

    async def record_refresh_failure(
        self, connection_id: str, *, failures: int, not_before: datetime
    ) -> None:
        await self._inner.record_refresh_failure(
            connection_id, failures=failures, not_before=not_before
        )
        self._group.invalidate_tag(("connection", connection_id))

    async def set_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        written = await self._inner.set_status(
            connection_id, status, reason, expected_version=expected_version
        )
        self._group.invalidate_tag(("connection", connection_id))
        return written

    async def due_for_refresh(
        self, expiring_before: datetime, now: datetime, limit: int
    ) -> list[Connection]:
        return await self._inner.due_for_refresh(expiring_before, now, limit)


def _signing_key_tags(key: SigningKey) -> tuple[Tag, ...]:
    return (("signing_key", key.id),)


class CachedSigningKeys:
    """Caches the lookup by ``kid`` that every end-user JWT makes."""

    def __init__(self, inner: SigningKeyRepository, group: CacheGroup) -> None:
        self._inner = inner
        self._group = group
        self._lookup: CachedLookup[str, SigningKey] = group.lookup(_signing_key_tags)

    async def add(self, key: SigningKey) -> None:
        await self._inner.add(key)

    async def get(self, organisation_id: str, key_id: str) -> SigningKey | None:
        return await self._inner.get(organisation_id, key_id)

    async def find(self, key_id: str) -> SigningKey | None:
        return self._lookup.hit(key_id) or await self._lookup.load(
            key_id, partial(self._inner.find, key_id)
        )

    async def list(self, organisation_id: str) -> list[SigningKey]:
        return await self._inner.list(organisation_id)

    async def delete(self, organisation_id: str, key_id: str) -> bool:
        deleted = await self._inner.delete(organisation_id, key_id)
        self._group.invalidate_tag(("signing_key", key_id))
        return deleted


class _TouchedConnections:
    """The connections of one unit of work, noting which rows its writes touch."""

    def __init__(self, inner: ConnectionRepository, touched: list[Tag]) -> None:
        self._inner = inner
        self._touched = touched

    async def add(self, connection: Connection) -> None:
        await self._inner.add(connection)

    async def get(self, organisation_id: str, connection_id: str) -> Connection | None:
        return await self._inner.get(organisation_id, connection_id)

    async def hub_of(self, connection_id: str) -> str | None:
        return await self._inner.hub_of(connection_id)

    async def list_for_user(
        self, organisation_id: str, hub_id: str, user_id: str
    ) -> list[Connection]:
        return await self._inner.list_for_user(organisation_id, hub_id, user_id)

    async def due_for_refresh(
        self, expiring_before: datetime, now: datetime, limit: int
    ) -> list[Connection]:
        return await self._inner.due_for_refresh(expiring_before, now, limit)

    async def delete(self, organisation_id: str, connection_id: str) -> bool:
        self._touched.append(("connection", connection_id))
        return await self._inner.delete(organisation_id, connection_id)

    async def update_tokens(
        self,
        connection_id: str,
        tokens: ConnectionTokens,
        *,
        expected_version: int,
        refreshed_at: datetime,
    ) -> bool:
        self._touched.append(("connection", connection_id))
        return await self._inner.update_tokens(
            connection_id, tokens, expected_version=expected_version, refreshed_at=refreshed_at
        )

    async def reauthorise(
        self,
        connection_id: str,
        credential_id: str,
        tokens: ConnectionTokens,
        seal: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        self._touched.append(("connection", connection_id))
        return await self._inner.reauthorise(connection_id, credential_id, tokens, seal, metadata)

    async def record_refresh_failure(
        self, connection_id: str, *, failures: int, not_before: datetime
    ) -> None:
        self._touched.append(("connection", connection_id))
        await self._inner.record_refresh_failure(
            connection_id, failures=failures, not_before=not_before
        )

    async def set_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        self._touched.append(("connection", connection_id))
        return await self._inner.set_status(
            connection_id, status, reason, expected_version=expected_version
        )


class CachedUnitOfWork:
    """A unit of work whose connection writes invalidate the cached rows they touched once
    it has committed: invalidating earlier would let a read between the write and the
    commit put the old row back."""

    def __init__(self, inner: UnitOfWork, group: CacheGroup) -> None:
        self._inner = inner
        self._group = group

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Storage]:
        touched: list[Tag] = []
        async with self._inner.begin() as tx:
            yield replace(
                tx,
                connections=_TouchedConnections(tx.connections, touched),
            )
        for tag in touched:
            self._group.invalidate_tag(tag)


def cached_storage(storage: Storage, group: CacheGroup) -> Storage:
    """The storage with the hot-path reads cached (``group.ttl`` of 0 turns caching off)."""
    if group.ttl <= 0:
        return storage
    return replace(
        storage,
        api_keys=CachedApiKeys(storage.api_keys, group),
        hubs=CachedHubs(storage.hubs, group),
        connectors=CachedConnectors(storage.connectors, group),
        credentials=CachedCredentials(storage.credentials, group),
        connections=CachedConnections(storage.connections, group),
        signing_keys=CachedSigningKeys(storage.signing_keys, group),
        unit_of_work=CachedUnitOfWork(storage.unit_of_work, group),
    )
