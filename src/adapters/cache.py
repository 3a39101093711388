"""Bounded, short-lived read caches in front of the repositories on the hot paths.

Every entry lives at most ``ttl`` seconds, so a change made through another instance (a
deleted credential, a revoked API key) is honoured everywhere within that bound; a change
made through this instance is honoured at once (writes invalidate). Misses are not cached,
so a new object is usable at once. Nothing that must be exact goes through these: a used
state is recorded in the database, the code exchange reads the credential itself, and a
refresh re-reads the connection under its lock.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from application.ports import (
    ApiKeyRepository,
    ConnectionRepository,
    ConnectorRepository,
    CredentialRepository,
    HubRepository,
)
from domain.model import ApiKey, Connection, ConnectionStatus, Connector, Credential, Hub

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """At most ``max_entries`` values, each for at most ``ttl`` seconds; oldest out first."""

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V | None]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, or one load shared by every request that misses meanwhile.

        Past half its lifetime an entry is reloaded in the background while it is still
        served, so that under steady load no request waits for the database; an entry is
        never served past its lifetime. Misses are not cached.
        """
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None and entry[0] > now:
            if entry[0] - now < self._ttl / 2 and key not in self._loading:
                self._start_load(key, load)
            return entry[1]
        pending = self._loading.get(key) or self._start_load(key, load)
        return await asyncio.shield(pending)

    def _start_load(
        self, key: K, load: Callable[[], Awaitable[V | None]]
    ) -> asyncio.Future[V | None]:
        pending = asyncio.ensure_future(load())
        self._loading[key] = pending

        def settle(done: asyncio.Future[V | None]) -> None:
            del self._loading[key]
            if done.cancelled() or done.exception() is not None:
                return  # the entry, if any, lives out its lifetime; the next miss retries
            value = done.result()
            if value is None:
                self._entries.pop(key, None)  # deleted meanwhile
            else:
                self.put(key, value)

        pending.add_done_callback(settle)
        return pending

    async def drain(self) -> None:
        """Wait for loads still running (at shutdown, before the database goes away)."""
        if self._loading:
            await asyncio.gather(*self._loading.values(), return_exceptions=True)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        for key in [k for k in self._entries if predicate(k)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class CachedApiKeys:
    def __init__(self, inner: ApiKeyRepository, ttl: float) -> None:
        self._inner = inner
        self._cache: TtlCache[bytes, str] = TtlCache(ttl)

    async def add(self, api_key: ApiKey) -> None:
        await self._inner.add(api_key)

    async def organisation_for(self, key_hash: bytes) -> str | None:
        return await self._cache.get_or_load(
            key_hash, lambda: self._inner.organisation_for(key_hash)
        )

    async def delete(self, key_hash: bytes) -> bool:
        self._cache.discard_where(lambda k: k == key_hash)
        return await self._inner.delete(key_hash)

    async def drain(self) -> None:
        await self._cache.drain()


class CachedHubs:
    def __init__(self, inner: HubRepository, ttl: float) -> None:
        self._inner = inner
        self._cache: TtlCache[tuple[str, str], Hub] = TtlCache(ttl)

    async def add(self, hub: Hub) -> None:
        await self._inner.add(hub)

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None:
        return await self._cache.get_or_load(
            (organisation_id, hub_id), lambda: self._inner.get(organisation_id, hub_id)
        )

    async def list(self, organisation_id: str) -> list[Hub]:
        return await self._inner.list(organisation_id)

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        self._cache.discard_where(lambda k: k[1] == hub_id)
        return await self._inner.delete(organisation_id, hub_id)

    async def drain(self) -> None:
        await self._cache.drain()


class CachedConnectors:
    def __init__(self, inner: ConnectorRepository, ttl: float) -> None:
        self._inner = inner
        self._cache: TtlCache[tuple[str, str], Connector] = TtlCache(ttl)

    async def add(self, connector: Connector) -> None:
        await self._inner.add(connector)

    async def get(self, hub_id: str, connector_id: str) -> Connector | None:
        return await self._cache.get_or_load(
            (hub_id, connector_id), lambda: self._inner.get(hub_id, connector_id)
        )

    async def list(self, hub_id: str) -> list[Connector]:
        return await self._inner.list(hub_id)

    async def delete(self, hub_id: str, connector_id: str) -> bool:
        self._cache.discard_where(lambda k: k[1] == connector_id)
        return await self._inner.delete(hub_id, connector_id)

    async def drain(self) -> None:
        await self._cache.drain()


class CachedCredentials:
    def __init__(self, inner: CredentialRepository, ttl: float) -> None:
        self._inner = inner
        self._cache: TtlCache[tuple[str, str], Credential] = TtlCache(ttl)

    async def add(self, credential: Credential) -> None:
        await self._inner.add(credential)

    async def get(self, organisation_id: str, credential_id: str) -> Credential | None:
        return await self._cache.get_or_load(
            (organisation_id, credential_id),
            lambda: self._inner.get(organisation_id, credential_id),
        )

    async def list(self, organisation_id: str) -> list[Credential]:
        return await self._inner.list(organisation_id)

    async def delete(self, organisation_id: str, credential_id: str) -> bool:
        self._cache.discard_where(lambda k: k[1] == credential_id)
        return await self._inner.delete(organisation_id, credential_id)

    async def drain(self) -> None:
        await self._cache.drain()


class CachedConnections:
    """Reads for the access-token fast path; every write goes through and invalidates."""

    def __init__(self, inner: ConnectionRepository, ttl: float) -> None:
        self._inner = inner
        self._cache: TtlCache[tuple[str, str], Connection] = TtlCache(ttl)

    def _forget(self, connection_id: str) -> None:
        self._cache.discard_where(lambda k: k[1] == connection_id)

    async def add(self, connection: Connection) -> None:
        await self._inner.add(connection)

    async def get(self, organisation_id: str, connection_id: str) -> Connection | None:
        return await self._cache.get_or_load(
            (organisation_id, connection_id),
            lambda: self._inner.get(organisation_id, connection_id),
        )

    async def list_for_user(
        self, organisation_id: str, hub_id: str, user_id: str
    ) -> list[Connection]:
        return await self._inner.list_for_user(organisation_id, hub_id, user_id)

    async def delete(self, organisation_id: str, connection_id: str) -> bool:
        self._forget(connection_id)
        return await self._inner.delete(organisation_id, connection_id)

    async def update_tokens(
        self,
        connection_id: str,
        *,
        token_type: str,
        sealed_access_token: str,
        sealed_refresh_token: str | None,
        expires_at: datetime | None,
        scopes: tuple[str, ...],
    ) -> None:
        self._forget(connection_id)
        await self._inner.update_tokens(
            connection_id,
            token_type=token_type,
            sealed_access_token=sealed_access_token,
            sealed_refresh_token=sealed_refresh_token,
            expires_at=expires_at,
            scopes=scopes,
        )

    async def set_status(self, connection_id: str, status: ConnectionStatus) -> None:
        self._forget(connection_id)
        await self._inner.set_status(connection_id, status)

    async def drain(self) -> None:
        await self._cache.drain()
