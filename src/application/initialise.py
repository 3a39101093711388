"""Initialise an OAuth 2.0 connection: the URL an end user is sent to."""

from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

from application.callers import Caller, check_connector, check_hub, check_user
from application.errors import Forbidden, NotFound
from application.ports.crypto import StateSealer
from application.ports.storage import (
    ConnectionRepository,
    ConnectorRepository,
    CredentialRepository,
    HubRepository,
)
from application.ports.system import Clock, RandomSource
from application.validation import check_user_id
from domain.authorize_url import build_authorize_url, parse_authorization_request
from domain.errors import FieldError, FieldErrors, InvalidInput
from domain.pkce import s256_challenge
from domain.redirect_uri import redirect_uri
from domain.state import STATE_ID_BYTES, UNBOUND, StateClaims, state_binding, user_binding


class InitialiseCommand(NamedTuple):
    """One request of the hot path. A NamedTuple: as immutable as a frozen dataclass and
    built in a fifth of its time (measured: 0.6 against 3.4 us for eleven fields)."""

    caller: Caller
    hub_id: str
    connector_id: str
    authorize_url: str
    client_id: str
    credential_id: str
    credential_organisation_id: str
    scopes: Sequence[str] = ()
    prompt: str | None = None
    additional_params: str | None = None
    disable_offline_access: bool = False
    user_id: str | None = None  # binds the state to this end user
    connection_id: str | None = None  # the connection to re-authorise


class InitialiseOAuth2Connection:
    """Build the provider's authorize URL for one end user's "Connect" click.

    Business rules, in the order they are checked:
    - the hub belongs to the caller's organisation and the connector to that hub (else 404);
      an end user reaches only the hub of their token, and a connect session only its
      connectors;
    - the request is valid as a whole (see ``parse_authorization_request``), every bad field
      reported at once;
    - ``credential.organisationId`` is the caller's organisation (else forbidden), and the
      credential exists in it (else not found, as if another organisation's did not exist);
    - ``clientId`` equals the client ID stored on the credential, refused now rather than
      when the provider redirects back;
    - the state is bound to an end user: the token's own, or ``userId`` when an API key sends
      one (an end user naming another user is refused); with ``connectionId``, that
      connection of this hub, connector (and user) is the one the state re-authorises;
    - a fresh ``state`` (128 random bits) is sealed with everything the code exchange must
      check, and expires after the configured lifetime; its single use is recorded when it
      is redeemed, so initialising writes nothing;
    - with PKCE on, the S256 challenge of a verifier that stays on the server is added.
    """

    def __init__(
        self,
        *,
        hubs: HubRepository,
        connectors: ConnectorRepository,
        credentials: CredentialRepository,
        connections: ConnectionRepository,
        sealer: StateSealer,
        clock: Clock,
        random: RandomSource,
        callback_url: str,
        state_lifetime: timedelta,
        allow_local_providers: bool = True,
    ) -> None:
        self._hubs = hubs
        self._connectors = connectors
        self._credentials = credentials
        self._connections = connections
        self._sealer = sealer
        self._clock = clock
        self._random = random
        self._callback_url = callback_url
        self._state_lifetime = state_lifetime
        self._allow_local = allow_local_providers

    async def __call__(self, command: InitialiseCommand) -> str:
        caller = command.caller
        organisation_id = caller.organisation_id
        check_hub(caller, command.hub_id)
        hub = await self._hubs.get(organisation_id, command.hub_id)
        if hub is None:
            raise NotFound("hub")
        check_connector(caller, command.connector_id)
        connector = await self._connectors.get(hub.id, command.connector_id)
        if connector is None:
            raise NotFound("connector")
        user_id = command.user_id
        if caller.end_user is not None:
            if user_id is not None:
                check_user(caller, user_id)
            user_id = caller.end_user.user_id

        errors = FieldErrors()
        if command.user_id is not None:
            check_user_id(errors, command.user_id, "userId")
        if not command.credential_id:
            errors.add("credential.id", "is required")
        if not command.credential_organisation_id:
            errors.add("credential.organisationId", "is required")
        try:
            request = parse_authorization_request(
                authorize_url=command.authorize_url,
                client_id=command.client_id,
                scopes=command.scopes,
                prompt=command.prompt,
                additional_params=command.additional_params,
                disable_offline_access=command.disable_offline_access,
                scope_separator=connector.scope_separator,
                allow_loopback_http=self._allow_local,
                provider=connector.settings,
            )
        except InvalidInput as exc:
            raise InvalidInput(exc.message, [*errors.invalid, *exc.fields]) from None
        errors.raise_if_any()

        if command.credential_organisation_id != organisation_id:
            raise Forbidden(
                "The credential must belong to the caller's organisation.",
                [FieldError("credential.organisationId", "is not your organisation")],
            )
        credential = await self._credentials.get(organisation_id, command.credential_id)
        if credential is None:
            raise NotFound("credential", field="credential.id")
        if credential.client_id != request.client_id:
            raise InvalidInput(
                "clientId does not match the client ID stored on the credential.",
                [FieldError("clientId", "does not match the credential's client ID")],
                code="client_id_mismatch",
            )

        reconnect: str | None = None
        if command.connection_id is not None:
            connection = await self._connections.get(organisation_id, command.connection_id)
            if (
                connection is None
                or (connection.hub_id, connection.connector_id) != (hub.id, connector.id)
                or (user_id is not None and connection.user_id != user_id)
            ):
                raise NotFound("connection", field="connectionId")
            user_id, reconnect = connection.user_id, connection.id

        redirect = redirect_uri(self._callback_url, organisation_id)
        now = self._clock.now()
        state_id = self._random.token_bytes(STATE_ID_BYTES)
        claims = StateClaims(
            state_id=state_id,
            organisation_id=organisation_id,
            hub_id=hub.id,
            connector_id=connector.id,
            credential_id=credential.id,
            binding=state_binding(credential.client_id, redirect),
            scopes=request.scopes,
            expires_at=now.replace(microsecond=0) + self._state_lifetime,
            user=UNBOUND if user_id is None else user_binding(user_id),
            connection_id=reconnect,
        )
        sealed = self._sealer.seal(claims)
        return build_authorize_url(
            request,
            redirect_uri=redirect,
            state=sealed.value,
            code_challenge=s256_challenge(sealed.pkce_verifier) if connector.pkce else None,
        )
