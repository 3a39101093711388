"""Handing out fresh access tokens, refreshing each connection at most once per lifetime."""

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from application.connections import access_token_context, refresh_token_context, seal_tokens
from application.errors import (
    NotFound,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ReauthorisationRequired,
    RefreshBackingOff,
    RefreshInProgress,
)
from application.events import Announcer
from application.integrity import check_record
from application.ports.crypto import SecretCipher
from application.ports.provider import TokenEndpoint
from application.ports.storage import (
    ConnectionRepository,
    ConnectorRepository,
    CredentialRepository,
    RefreshLock,
    Storage,
    UnitOfWork,
)
from application.ports.system import Clock, RandomSource
from application.token_grants import obtain_tokens, token_request
from domain.model import Connection, ConnectionStatus
from domain.tokens import needs_refresh, refresh_backoff, refresh_margin
from domain.webhooks import EventType

INVALID_GRANT = "invalid_grant"
NO_REFRESH_TOKEN = "no_refresh_token"


class AccessToken(NamedTuple):
    """Handed out on every access-token request (a NamedTuple: cheap and immutable)."""

    access_token: str
    token_type: str
    expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """``margin``: refresh tokens expiring within it (never more than half their lifetime).
    ``lease``: how long a refresh may hold the lock; it must outlive the token client's
    total timeout, so a lease never runs out under a refresh still waiting for the
    provider. ``wait``: how long other requests wait for it. ``backoff``: the hold-back
    after the first failed refresh, doubled per consecutive failure up to ``max_backoff``."""

    margin: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(seconds=30)
    wait: timedelta = timedelta(seconds=35)
    poll: timedelta = timedelta(milliseconds=50)
    backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=5)


class GetAccessToken:
    """A fresh access token for a connection.

    Rules:
    - a token is refreshed when it expires within the effective margin: the configured
      margin, or half the lifetime the provider granted if that is shorter, so each token
      is refreshed once per lifetime however many ask;
    - one refresh reaches the provider at a time, across requests, processes and instances:
      the one holding the connection's lock in the database, which re-reads the connection
      after acquiring it; the others wait and return what it stored;
    - the new tokens are written in one write, and only if the connection's token version
      is still the one read under the lock (the fencing token): a holder whose lease ran
      out cannot overwrite a later refresh. Without a new refresh token, the old one stays;
    - ``invalid_grant`` marks the connection ``reauthorisation_required`` only if its
      tokens did not change meanwhile: a refusal of a token another holder already rotated
      says nothing about the current one;
    - any other failure (429, 5xx, a timeout, an unreadable answer, another refusal) leaves
      the tokens untouched, counts a consecutive failure and holds refreshing back for a
      doubling delay (or the provider's Retry-After, if longer); meanwhile a still-valid
      token keeps being handed out, and an expired one is a 503 with Retry-After;
    - an expired token without a refresh token marks the connection
      ``reauthorisation_required`` (reason ``no_refresh_token``);
    - each change is announced in its own transaction: ``reauthorisation_required``;
      ``refresh_failed`` for the first failure of a run of them (not for every attempt);
      ``recovered`` for the first success after such failures.
    """

    def __init__(
        self,
        *,
        connections: ConnectionRepository,
        connectors: ConnectorRepository,
        credentials: CredentialRepository,
        locks: RefreshLock,
        cipher: SecretCipher,
        token_endpoint: TokenEndpoint,
        clock: Clock,
        random: RandomSource,
        policy: RefreshPolicy,
        unit_of_work: UnitOfWork,
        announce: Announcer,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        fresh_connections: ConnectionRepository | None = None,
    ) -> None:
        """``connections`` serves the first read of each request (it may be cached);
        ``fresh_connections`` reads past any cache, for everything done under the lock and
        while waiting for another refresh. Without it, ``connections`` serves both."""
        self._connections = connections
        self._fresh = fresh_connections or connections
        self._connectors = connectors
        self._credentials = credentials
        self._locks = locks
        self._cipher = cipher
        self._token_endpoint = token_endpoint
        self._clock = clock
        self._random = random
        self._policy = policy
        self._sleep = sleep
        self._unit_of_work = unit_of_work
        self._announce = announce

    async def __call__(self, organisation_id: str, connection_id: str) -> AccessToken:
        connection = await self._usable(organisation_id, connection_id)
        if not self._due(connection) or self._held_back(connection):
            return self._current(connection)
        holder = self._random.token_bytes(16).hex()
        deadline = self._clock.now() + self._policy.wait
        while True:
            now = self._clock.now()
            if await self._locks.acquire(connection_id, holder, now, now + self._policy.lease):
                try:
                    locked = await self._usable(organisation_id, connection_id, fresh=True)
                    return await self._refresh(organisation_id, locked)
                finally:
                    await self._locks.release(connection_id, holder)
            await self._sleep(self._policy.poll.total_seconds())
            connection = await self._usable(organisation_id, connection_id, fresh=True)
            if not self._due(connection) or self._held_back(connection):
                return self._current(connection)
            if self._clock.now() >= deadline:
                raise RefreshInProgress("Another request is still refreshing this connection.")

    async def refresh_if_due(self, organisation_id: str, connection_id: str) -> bool:
        """For the background job: refresh now if due and nobody else is refreshing; never
        waits. ``True`` when this call refreshed the token."""
        holder = self._random.token_bytes(16).hex()
        now = self._clock.now()
        if not await self._locks.acquire(connection_id, holder, now, now + self._policy.lease):
            return False
        try:
            before = await self._usable(organisation_id, connection_id, fresh=True)
            if not self._due(before):
                return False
            await self._refresh(organisation_id, before)
            after = await self._usable(organisation_id, connection_id, fresh=True)
            return after.health.version != before.health.version
        finally:
            await self._locks.release(connection_id, holder)

    def _due(self, connection: Connection) -> bool:
        tokens = connection.tokens
        margin = refresh_margin(self._policy.margin, tokens.lifetime_seconds)
        return needs_refresh(tokens.expires_at, self._clock.now(), margin)

    def _still_valid(self, connection: Connection, now: datetime) -> bool:
        expires_at = connection.tokens.expires_at
        return expires_at is None or expires_at > now

    def _held_back(self, connection: Connection) -> bool:
        """Refreshing is held back after failures: ``True`` while the token still serves,
        ``RefreshBackingOff`` once it has expired."""
        now = self._clock.now()
        not_before = connection.health.not_before
        if not_before is None or now >= not_before:
            return False
        if not self._still_valid(connection, now):
            raise RefreshBackingOff(math.ceil((not_before - now).total_seconds()))
        return True

    async def _usable(
        self, organisation_id: str, connection_id: str, *, fresh: bool = False
    ) -> Connection:
        source = self._fresh if fresh else self._connections
        connection = await source.get(organisation_id, connection_id)
        if connection is None:
            raise NotFound("connection")
        check_record(self._cipher, connection)  # its organisation and credential
        if connection.status is ConnectionStatus.REAUTHORISATION_REQUIRED:
            raise ReauthorisationRequired(connection.status_reason)
        return connection

    def _current(self, connection: Connection) -> AccessToken:
        tokens = connection.tokens
        return AccessToken(
            access_token=self._cipher.decrypt(
                tokens.sealed_access_token, context=access_token_context(connection.id)
            ),
            token_type=tokens.token_type,
            expires_at=tokens.expires_at,
            scopes=tokens.scopes,
        )

    async def _refresh(self, organisation_id: str, connection: Connection) -> AccessToken:
        """Under the lock, with ``connection`` as read after taking it."""
        if not self._due(connection) or self._held_back(connection):
            return self._current(connection)  # refreshed meanwhile, or held back but valid
        now = self._clock.now()
        stored = connection.tokens
        if stored.sealed_refresh_token is None:
            if self._still_valid(connection, now):
                return self._current(connection)  # cannot refresh, but still valid
            await self._needs_reauthorisation(organisation_id, connection, NO_REFRESH_TOKEN)
            raise ReauthorisationRequired(NO_REFRESH_TOKEN)
        connector = await self._connectors.get(connection.hub_id, connection.connector_id)
        credential = await self._credentials.get(organisation_id, connection.credential_id)
        if connector is None or credential is None:
            raise NotFound("connection")
        refresh_token = self._cipher.decrypt(
            stored.sealed_refresh_token, context=refresh_token_context(connection.id)
        )
        try:
            tokens, _ = await obtain_tokens(
                self._token_endpoint,
                token_request(
                    connector,
                    credential,
                    self._cipher,
                    (("grant_type", "refresh_token"), ("refresh_token", refresh_token)),
                ),
                requested_scopes=stored.scopes,
                connector=connector,
                now=now,
            )
        except ProviderRejected as exc:
            if exc.provider_error == INVALID_GRANT:
                return await self._refused(organisation_id, connection, exc)
            return await self._failed(organisation_id, connection, exc, None)
        except (ProviderUnavailable, ProviderTimeout) as exc:
            retry_after = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
            return await self._failed(organisation_id, connection, exc, retry_after)
        sealed = seal_tokens(
            self._cipher, connection.id, tokens, previous_refresh=stored.sealed_refresh_token
        )
        async with self._unit_of_work.begin() as tx:
            written = await tx.connections.update_tokens(
                connection.id, sealed, expected_version=connection.health.version, refreshed_at=now
            )
            if written and connection.health.failures:
                await self._announce_now(
                    tx, organisation_id, connection.id, EventType.CONNECTION_RECOVERED
                )
        if not written:  # fenced out: a later holder refreshed meanwhile, and its tokens stand
            return self._current(await self._usable(organisation_id, connection.id, fresh=True))
        return AccessToken(tokens.access_token, tokens.token_type, tokens.expires_at, tokens.scopes)

    async def _refused(
        self, organisation_id: str, connection: Connection, refusal: ProviderRejected
    ) -> AccessToken:
        """``invalid_grant``: believed only if it was about the tokens still stored, which the
        status write checks itself (it applies only to the token version the refresh read)."""
        if await self._needs_reauthorisation(organisation_id, connection, INVALID_GRANT):
            raise ReauthorisationRequired(INVALID_GRANT) from refusal
        return self._current(await self._usable(organisation_id, connection.id, fresh=True))

    async def _needs_reauthorisation(
        self, organisation_id: str, connection: Connection, reason: str
    ) -> bool:
        """Only if the token version is still the one this refresh read; announced."""
        async with self._unit_of_work.begin() as tx:
            changed = await tx.connections.set_status(
                connection.id,
                ConnectionStatus.REAUTHORISATION_REQUIRED,
                reason,
                expected_version=connection.health.version,
            )
            if changed:
                await self._announce_now(
                    tx,
                    organisation_id,
                    connection.id,
                    EventType.CONNECTION_REAUTHORISATION_REQUIRED,
                )
        return changed

    async def _announce_now(
        self, tx: Storage, organisation_id: str, connection_id: str, event_type: EventType
    ) -> None:
        """The connection as this transaction has just left it."""
        current = await tx.connections.get(organisation_id, connection_id)
        if current is not None:
            await self._announce(tx, event_type, current)

    async def _failed(
        self,
        organisation_id: str,
        connection: Connection,
        failure: Exception,
        retry_after: int | None,
    ) -> AccessToken:
        """Provider trouble: count it, hold refreshing back, keep a still-valid token."""
        now = self._clock.now()
        failures = connection.health.failures + 1
        delay = refresh_backoff(failures, self._policy.backoff, self._policy.max_backoff)
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=min(retry_after, 3600)))
        async with self._unit_of_work.begin() as tx:
            await tx.connections.record_refresh_failure(
                connection.id, failures=failures, not_before=now + delay
            )
            if failures == 1:  # the first of a run of failures
                await self._announce_now(
                    tx, organisation_id, connection.id, EventType.CONNECTION_REFRESH_FAILED
                )
        if self._still_valid(connection, now):
            return self._current(connection)
        raise failure
