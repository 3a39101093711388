"""Handing out fresh access tokens, refreshing each connection at most once at a time."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.connections import access_token_context, refresh_token_context, seal_tokens
from application.errors import (
    NotFound,
    ProviderRejected,
    ReauthorisationRequired,
    RefreshInProgress,
)
from application.ports.crypto import SecretCipher
from application.ports.provider import TokenEndpoint
from application.ports.storage import (
    ConnectionRepository,
    ConnectorRepository,
    CredentialRepository,
    RefreshLock,
)
from application.ports.system import Clock, RandomSource
from application.token_grants import obtain_tokens, token_request
from domain.model import Connection, ConnectionStatus
from domain.tokens import needs_refresh


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    token_type: str
    expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """``margin``: refresh tokens expiring within it. ``lease``: how long a refresh may hold
    the lock (longer than the token client's total timeout, so a lease never runs out under
    a live refresh). ``wait``: how long other requests wait for it."""

    margin: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(seconds=30)
    wait: timedelta = timedelta(seconds=35)
    poll: timedelta = timedelta(milliseconds=50)


class GetAccessToken:
    """A fresh access token for a connection.

    Rules:
    - a token expiring within the margin is refreshed first, with the refresh-token grant;
    - however many requests and processes ask at once, one refresh reaches the provider: the
      one holding the connection's lock in the database, which re-reads the connection after
      acquiring it; the others wait and read what it stored;
    - a rotated refresh token is stored in the same write as the new access token; without a
      new one, the old refresh token is kept;
    - ``invalid_grant`` marks the connection ``reauthorisation_required``; any other failure
      leaves the stored tokens as they were.
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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        fresh_connections: ConnectionRepository | None = None,
    ) -> None:
        """``fresh_connections`` reads past any cache: for the re-read under the lock and
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

    async def __call__(self, organisation_id: str, connection_id: str) -> AccessToken:
        connection = await self._usable(organisation_id, connection_id)
        if not self._expiring(connection):
            return self._current(connection)
        holder = self._random.token_bytes(16).hex()
        deadline = self._clock.now() + self._policy.wait
        while True:
            now = self._clock.now()
            if await self._locks.acquire(connection_id, holder, now, now + self._policy.lease):
                try:
                    return await self._refresh(organisation_id, connection_id)
                finally:
                    await self._locks.release(connection_id, holder)
            await self._sleep(self._policy.poll.total_seconds())
            connection = await self._usable(organisation_id, connection_id, fresh=True)
            if not self._expiring(connection):
                return self._current(connection)
            if self._clock.now() >= deadline:
                raise RefreshInProgress("Another request is still refreshing this connection.")

    def _expiring(self, connection: Connection) -> bool:
        return needs_refresh(connection.tokens.expires_at, self._clock.now(), self._policy.margin)

    async def _usable(
        self, organisation_id: str, connection_id: str, *, fresh: bool = False
    ) -> Connection:
        source = self._fresh if fresh else self._connections
        connection = await source.get(organisation_id, connection_id)
        if connection is None:
            raise NotFound("connection")
        if connection.status is ConnectionStatus.REAUTHORISATION_REQUIRED:
            raise ReauthorisationRequired
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

    async def _refresh(self, organisation_id: str, connection_id: str) -> AccessToken:
        connection = await self._usable(organisation_id, connection_id, fresh=True)  # under lock
        if not self._expiring(connection):
            return self._current(connection)
        now = self._clock.now()
        stored = connection.tokens
        if stored.sealed_refresh_token is None:
            if stored.expires_at is not None and stored.expires_at > now:
                return self._current(connection)  # cannot refresh, but still valid
            await self._connections.set_status(
                connection.id, ConnectionStatus.REAUTHORISATION_REQUIRED
            )
            raise ReauthorisationRequired
        connector = await self._connectors.get(connection.hub_id, connection.connector_id)
        credential = await self._credentials.get(organisation_id, connection.credential_id)
        if connector is None or credential is None:
            raise NotFound("connection")
        refresh_token = self._cipher.decrypt(
            stored.sealed_refresh_token, context=refresh_token_context(connection.id)
        )
        try:
            tokens = await obtain_tokens(
                self._token_endpoint,
                token_request(
                    connector,
                    credential,
                    self._cipher,
                    (("grant_type", "refresh_token"), ("refresh_token", refresh_token)),
                ),
                requested_scopes=stored.scopes,
                separator=connector.scope_separator,
                now=now,
            )
        except ProviderRejected as exc:
            if exc.provider_error == "invalid_grant":
                await self._connections.set_status(
                    connection.id, ConnectionStatus.REAUTHORISATION_REQUIRED
                )
                raise ReauthorisationRequired from exc
            raise
        await self._connections.update_tokens(
            connection.id,
            seal_tokens(
                self._cipher, connection.id, tokens, previous_refresh=stored.sealed_refresh_token
            ),
        )
        return AccessToken(tokens.access_token, tokens.token_type, tokens.expires_at, tokens.scopes)
