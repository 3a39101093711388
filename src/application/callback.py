"""The provider's redirect back to us: what the callback page may tell the embedding page."""

from dataclasses import dataclass, field

from application.errors import TamperedRecord
from application.integrity import check_record
from application.ports.crypto import SecretCipher
from application.ports.storage import ConnectorRepository, HubRepository
from application.states import InvalidState, RedeemState
from domain.tokens import is_error_text

MAX_ERROR_LENGTH = 100
MAX_ERROR_DESCRIPTION_LENGTH = 500
# Sent instead of a provider's error that breaks RFC 6749's character rules.
UNREADABLE_ERROR = "invalid_response"


@dataclass(frozen=True, slots=True)
class CallbackParams:
    organisation_id: str  # from the redirect URI's path
    state: str | None
    code: str | None = None
    iss: str | None = None
    error: str | None = None
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """``message`` goes to ``window.opener``, only at ``origins``; ``ok`` is a usable code."""

    ok: bool
    summary: str
    origins: tuple[str, ...] = ()
    message: dict[str, str] = field(default_factory=dict)
    # On success the page adds the code from its own URL: the response never contains it.
    code_from_url: bool = False
    # On success the page also passes on these query parameters of its URL (the connector's
    # callbackParams) as ``callbackParams``.
    params_from_url: tuple[str, ...] = ()


class HandleCallback:
    """Check an authorization response without consuming its state.

    Rules: the state must be one we issued, unexpired and unused, to the organisation whose
    redirect URI the provider called (else a provider holding that organisation's redirect
    URI could have its code handed to another organisation's page), for a hub and connector
    that still exist; with an issuer configured on the connector, ``iss`` must match (RFC 9207),
    or the response is treated as a possible mix-up attack and its code is never passed on.
    A hub or connector that fails its integrity check (``application.integrity``) is refused
    before any origin of it is trusted. A provider error (RFC 6749 §4.1.2.1) is passed on to
    the embedding page as such, when it keeps to the characters that section allows (and its
    length limits): an ``error`` that does not is passed on as ``invalid_response``, a
    description that does not is dropped.
    """

    def __init__(
        self,
        states: RedeemState,
        hubs: HubRepository,
        connectors: ConnectorRepository,
        cipher: SecretCipher,
    ) -> None:
        self._states = states
        self._hubs = hubs
        self._connectors = connectors
        self._cipher = cipher

    async def __call__(self, params: CallbackParams) -> CallbackResult:
        if not params.state:
            return CallbackResult(False, "The response has no state: it was not started by us.")
        try:
            opened = await self._states.inspect(params.state)
        except InvalidState as exc:
            return CallbackResult(False, f"{exc.message} Start the connection again.")
        claims = opened.claims
        if claims.organisation_id != params.organisation_id:
            return CallbackResult(
                False, "This response was sent to another organisation's redirect URI."
            )
        hub = await self._hubs.get(claims.organisation_id, claims.hub_id)
        connector = await self._connectors.get(claims.hub_id, claims.connector_id) if hub else None
        if hub is None or connector is None:
            return CallbackResult(False, "The hub or connector of this request no longer exists.")
        try:
            check_record(self._cipher, hub)
            check_record(self._cipher, connector)
        except TamperedRecord as exc:
            return CallbackResult(False, exc.message)
        if not connector.accepts_issuer(params.iss):
            return CallbackResult(
                False,
                "The response did not come from the expected provider (iss mismatch).",
                hub.allowed_origins,
                {
                    "error": "invalid_issuer",
                    "errorDescription": "iss did not match",
                    "state": params.state,
                },
            )
        if params.error:
            readable = len(params.error) <= MAX_ERROR_LENGTH and is_error_text(params.error)
            message = {
                "error": params.error if readable else UNREADABLE_ERROR,
                "state": params.state,
            }
            description = params.error_description
            if (
                readable
                and description
                and len(description) <= MAX_ERROR_DESCRIPTION_LENGTH
                and is_error_text(description)
            ):
                message["errorDescription"] = description
            return CallbackResult(
                False,
                f"The provider answered with an error: {message['error']}.",
                hub.allowed_origins,
                message,
            )
        if not params.code:
            return CallbackResult(False, "The response has neither a code nor an error.")
        return CallbackResult(
            True,
            "Authorised. You can close this window.",
            hub.allowed_origins,
            {"state": params.state},
            code_from_url=True,
            params_from_url=connector.settings.callback_params,
        )
