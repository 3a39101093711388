"""Keeping idle connections alive: refreshing tokens nobody asked for."""

import logging
from dataclasses import dataclass

from application.access_tokens import GetAccessToken, RefreshPolicy
from application.errors import ReauthorisationRequired
from application.ports.storage import ConnectionRepository
from application.ports.system import Clock
from domain.errors import DomainError

log = logging.getLogger("embed_oauth.keep_alive")
BATCH = 100


@dataclass(frozen=True, slots=True)
class KeepAliveReport:
    due: int
    refreshed: int


class RefreshIdleConnections:
    """Refresh the active connections whose access token expires within the margin and
    that have a refresh token, so that a connection nobody used for days does not die at a
    provider whose refresh tokens expire when idle.

    Rules: each connection is refreshed through ``GetAccessToken.refresh_if_due``, under the
    same lock as the requests, so a request and the job (or two instances' jobs) never
    refresh it twice at once, and a connection someone is refreshing is skipped; the
    effective margin and the backoff after failures apply as for requests; a failure of one
    connection does not stop the others.
    """

    def __init__(
        self,
        connections: ConnectionRepository,
        access_tokens: GetAccessToken,
        clock: Clock,
        policy: RefreshPolicy,
        batch: int = BATCH,
    ) -> None:
        self._connections = connections
        self._access_tokens = access_tokens
        self._clock = clock
        self._policy = policy
        self._batch = batch

    async def __call__(self) -> KeepAliveReport:
        now = self._clock.now()
        due = await self._connections.due_for_refresh(now + self._policy.margin, now, self._batch)
        refreshed = 0
        for connection in due:
            try:
                refreshed += await self._access_tokens.refresh_if_due(
                    connection.organisation_id, connection.id
                )
            except ReauthorisationRequired:
                continue  # recorded on the connection
            except DomainError as exc:  # provider trouble: counted and backed off already
                log.info("keep-alive refresh failed", extra={"error": exc.code})
        return KeepAliveReport(due=len(due), refreshed=refreshed)
