"""Initialise an OAuth 2.0 connection: the URL an end user is sent to."""

from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

from application.errors import Forbidden, NotFound
from application.ports.crypto import StateSealer
from application.ports.storage import ConnectorRepository, CredentialRepository, HubRepository
from application.ports.system import Clock, RandomSource
from domain.authorize_url import build_authorize_url, parse_authorization_request
from domain.errors import FieldError, FieldErrors, InvalidInput
from domain.pkce import s256_challenge
from domain.state import STATE_ID_BYTES, StateClaims, state_binding


class InitialiseCommand(NamedTuple):
    """One request of the hot path. A NamedTuple: as immutable as a frozen dataclass and
    built in a fifth of its time (measured: 0.6 against 3.4 us for eleven fields)."""

    organisation_id: str  # the caller's, from its API key
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


class InitialiseOAuth2Connection:
    """Build the provider's authorize URL for one end user's "Connect" click.

    Business rules, in the order they are checked:
    - the hub belongs to the caller's organisation and the connector to that hub (else 404);
    - the request is valid as a whole (see ``parse_authorization_request``), every bad field
      reported at once;
    - ``credential.organisationId`` is the caller's organisation (else forbidden), and the
      credential exists in it (else not found, as if another organisation's did not exist);
    - ``clientId`` equals the client ID stored on the credential, refused now rather than
      when the provider redirects back;
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
        sealer: StateSealer,
        clock: Clock,
        random: RandomSource,
        redirect_uri: str,
        state_lifetime: timedelta,
        allow_local_providers: bool = True,
    ) -> None:
        self._hubs = hubs
        self._connectors = connectors
        self._credentials = credentials
        self._sealer = sealer
        self._clock = clock
        self._random = random
        self._redirect_uri = redirect_uri
        self._state_lifetime = state_lifetime
        self._allow_local = allow_local_providers

    async def __call__(self, command: InitialiseCommand) -> str:
        organisation_id = command.organisation_id
        hub = await self._hubs.get(organisation_id, command.hub_id)
        if hub is None:
            raise NotFound("hub")
        connector = await self._connectors.get(hub.id, command.connector_id)
        if connector is None:
            raise NotFound("connector")

        errors = FieldErrors()
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
            )
        except InvalidInput as exc:
            raise InvalidInput(exc.message, [*errors.invalid, *exc.fields]) from None
        errors.raise_if_any()

        if command.credential_organisation_id != organisation_id:
            raise Forbidden(
                "The credential must belong to the organisation of the API key.",
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

        now = self._clock.now()
        state_id = self._random.token_bytes(STATE_ID_BYTES)
        claims = StateClaims(
            state_id=state_id,
            organisation_id=organisation_id,
            hub_id=hub.id,
            connector_id=connector.id,
            credential_id=credential.id,
            binding=state_binding(credential.client_id, self._redirect_uri),
            scopes=request.scopes,
            expires_at=now.replace(microsecond=0) + self._state_lifetime,
        )
        sealed = self._sealer.seal(claims)
        return build_authorize_url(
            request,
            redirect_uri=self._redirect_uri,
            state=sealed.value,
            code_challenge=s256_challenge(sealed.pkce_verifier) if connector.pkce else None,
        )
