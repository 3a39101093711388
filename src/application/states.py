"""Redeeming a ``state``: the check the callback and the code exchange rely on."""

from dataclasses import dataclass

from application.ports.crypto import OpenedState, StateSealer
from application.ports.storage import UsedStateRepository
from application.ports.system import Clock
from domain.errors import DomainError, FieldError


class InvalidState(DomainError):
    """The state is unknown, expired, already used, or issued for something else."""

    code = "invalid_state"

    def __init__(self, reason: str) -> None:
        super().__init__(f"The state is {reason}.", [FieldError("state", reason)])


@dataclass(frozen=True, slots=True)
class StateScope:
    """Where a state is being redeemed: it must have been issued for exactly this."""

    organisation_id: str
    hub_id: str
    connector_id: str
    user_id: str


class RedeemState:
    """Check a state and mark it used, atomically, so that it can succeed only once.

    A state is refused when it was not issued by this service (or was tampered with), when
    it was issued for another organisation, hub or connector, or bound to another end user,
    when it has expired, and when it was used before, even by a request racing this one. A
    refused state is not consumed.
    """

    def __init__(self, sealer: StateSealer, used_states: UsedStateRepository, clock: Clock) -> None:
        self._sealer = sealer
        self._used = used_states
        self._clock = clock

    async def inspect(self, state: str) -> OpenedState:
        """Check without consuming: for the callback page."""
        opened = self._sealer.open(state)
        if opened is None:
            raise InvalidState("unknown")
        if opened.claims.is_expired(self._clock.now()):
            raise InvalidState("expired")
        if await self._used.is_used(opened.claims.state_id):
            raise InvalidState("already used")
        return opened

    async def redeem(self, state: str, scope: StateScope) -> OpenedState:
        opened = self._sealer.open(state)
        if opened is None:
            raise InvalidState("unknown")
        claims = opened.claims
        issued_for = (claims.organisation_id, claims.hub_id, claims.connector_id)
        if issued_for != (scope.organisation_id, scope.hub_id, scope.connector_id):
            raise InvalidState("unknown")
        if not claims.admits_user(scope.user_id):
            raise InvalidState("issued for another user")
        if claims.is_expired(self._clock.now()):
            raise InvalidState("expired")
        if not await self._used.mark_used(claims.state_id, claims.expires_at):
            raise InvalidState("already used")
        return opened
