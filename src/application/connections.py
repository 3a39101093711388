"""Connections: the code exchange that creates one, and reading, listing and deleting them."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field

from application.callers import Caller, check_connector, check_hub, check_user, sees_connection
from application.errors import NotFound, ProviderTimeout, ProviderUnavailable, TamperedRecord
from application.events import Announcer
from application.identity import new_id
from application.integrity import check_record, seal_of, sealed
from application.ports.crypto import SecretCipher
from application.ports.provider import TokenEndpoint
from application.ports.storage import (
    ConnectionRepository,
    ConnectorRepository,
    CredentialRepository,
    HubRepository,
    UnitOfWork,
)
from application.ports.system import Clock, RandomSource
from application.states import InvalidState, RedeemState, StateScope
from application.token_grants import obtain_tokens, token_request
from application.validation import MAX_NAME_LENGTH, check_user_id
from domain.errors import FieldError, FieldErrors, InvalidInput
from domain.model import Connection, ConnectionStatus, ConnectionTokens, Hub
from domain.provider_settings import pick_metadata
from domain.redirect_uri import redirect_uri
from domain.tokens import TokenSet
from domain.webhooks import EventType

MAX_CODE_LENGTH = 4096
log = logging.getLogger("embed_oauth.connections")


def access_token_context(connection_id: str) -> str:
    return f"connection:{connection_id}:access_token"


def refresh_token_context(connection_id: str) -> str:
    return f"connection:{connection_id}:refresh_token"


def seal_tokens(
    cipher: SecretCipher,
    connection_id: str,
    tokens: TokenSet,
    *,
    previous_refresh: str | None = None,
) -> ConnectionTokens:
    """A token response as stored on the connection, encrypted and bound to it. Without a
    new refresh token, the one it had is kept."""
    return ConnectionTokens(
        token_type=tokens.token_type,
        sealed_access_token=cipher.encrypt(
            tokens.access_token, context=access_token_context(connection_id)
        ),
        sealed_refresh_token=(
            cipher.encrypt(tokens.refresh_token, context=refresh_token_context(connection_id))
            if tokens.refresh_token
            else previous_refresh
        ),
        expires_at=tokens.expires_at,
        scopes=tokens.scopes,
        lifetime_seconds=tokens.lifetime_seconds,
    )


@dataclass(frozen=True, slots=True)
class NewConnection:
    caller: Caller
    hub_id: str
    user_id: str
    connector_id: str
    code: str
    state: str
    name: str | None = None
    # The callback's query parameters the page passed on; the connector's callbackParams
    # are kept from them.
    callback_params: Mapping[str, str] = dataclass_field(default_factory=dict)


class CreateConnection:
    """Exchange an authorization code for tokens and store them as a connection.

    Rules, in order:
    - the hub is the caller's organisation's and the connector is that hub's (404); an end
      user creates connections only in their own hub (404) and for themselves (403);
    - the state was issued for this organisation, hub and connector, and for this end user
      when it names one, is unexpired, and is consumed here atomically, so a second use
      fails even when requests race;
    - the credential is read fresh (a deleted one stops working at once) and must still have
      the client ID, and we the redirect URI, that the state was issued for;
    - the code is exchanged with the decrypted secret, the same redirect URI and the PKCE
      verifier; a refusal is a 400 carrying the provider's error, a failure a 502 or 504;
    - only a complete connection is stored, with its tokens encrypted; the end user is
      created on first use;
    - a state that re-authorises a connection replaces that connection's tokens in place
      (same id, status active); if it was deleted meanwhile, nothing is stored (404);
    - the connection and its event (``connection.created`` or ``connection.reconnected``)
      are written in one transaction.
    """

    def __init__(
        self,
        *,
        hubs: HubRepository,
        connectors: ConnectorRepository,
        credentials: CredentialRepository,
        connections: ConnectionRepository,
        states: RedeemState,
        cipher: SecretCipher,
        token_endpoint: TokenEndpoint,
        clock: Clock,
        random: RandomSource,
        callback_url: str,
        unit_of_work: UnitOfWork,
        announce: Announcer,
    ) -> None:
        self._hubs = hubs
        self._connectors = connectors
        self._credentials = credentials
        self._connections = connections
        self._states = states
        self._cipher = cipher
        self._token_endpoint = token_endpoint
        self._clock = clock
        self._random = random
        self._callback_url = callback_url
        self._unit_of_work = unit_of_work
        self._announce = announce

    async def __call__(self, new: NewConnection) -> Connection:
        errors = FieldErrors()
        check_user_id(errors, new.user_id)
        for field, value in (
            ("connectorId", new.connector_id),
            ("code", new.code),
            ("state", new.state),
        ):
            if not value:
                errors.add(field, "is required")
        if len(new.code) > MAX_CODE_LENGTH or not new.code.isprintable():
            errors.add("code", f"must be at most {MAX_CODE_LENGTH} printable characters")
        if new.name is not None and (len(new.name) > MAX_NAME_LENGTH or not new.name.isprintable()):
            errors.add("name", f"must be at most {MAX_NAME_LENGTH} printable characters")
        errors.raise_if_any()

        caller = new.caller
        organisation_id = caller.organisation_id
        check_hub(caller, new.hub_id)
        check_user(caller, new.user_id)
        hub = await self._hubs.get(organisation_id, new.hub_id)
        if hub is None:
            raise NotFound("hub")
        check_connector(caller, new.connector_id)
        connector = await self._connectors.get(hub.id, new.connector_id)
        if connector is None:
            raise NotFound("connector", field="connectorId")
        from_callback, missing = pick_metadata(
            new.callback_params, connector.settings.callback_params, dotted=False
        )
        if missing:  # refused before the state is spent
            raise InvalidInput(
                "The connector keeps callback parameters the request did not pass on.",
                [FieldError(f"callbackParams.{name}", "is required") for name in missing],
            )
        opened = await self._states.redeem(
            new.state, StateScope(organisation_id, hub.id, connector.id, new.user_id)
        )
        claims = opened.claims
        credential = await self._credentials.get(organisation_id, claims.credential_id)
        if credential is None:
            raise NotFound("credential")
        redirect = redirect_uri(self._callback_url, organisation_id)
        if not claims.is_bound_to(credential.client_id, redirect):
            raise InvalidState("issued for another client ID or redirect URI")

        form = [
            ("grant_type", "authorization_code"),
            ("code", new.code),
            ("redirect_uri", redirect),
        ]
        if connector.pkce:
            form.append(("code_verifier", opened.pkce_verifier))
        tokens, response = await obtain_tokens(
            self._token_endpoint,
            token_request(connector, credential, self._cipher, tuple(form)),
            requested_scopes=claims.scopes,
            connector=connector,
            now=self._clock.now(),
        )
        from_response, absent = pick_metadata(
            response, connector.settings.metadata_fields, dotted=True
        )
        if absent:
            raise ProviderUnavailable(
                "The provider's token response lacks what this connector keeps: "
                f"{', '.join(absent)}."
            )
        metadata = from_response + from_callback
        if claims.connection_id is not None:
            return await self._reauthorise(
                claims.connection_id, organisation_id, credential.id, tokens, metadata
            )
        connection_id, now = new_id(self._clock, self._random)
        connection = Connection(
            id=connection_id,
            organisation_id=organisation_id,
            hub_id=hub.id,
            user_id=new.user_id,
            connector_id=connector.id,
            credential_id=credential.id,
            name=new.name or connector.name,
            tokens=seal_tokens(self._cipher, connection_id, tokens),
            status=ConnectionStatus.ACTIVE,
            created_at=now,
            metadata=metadata,
        )
        connection = sealed(self._cipher, connection)
        async with self._unit_of_work.begin() as tx:
            await tx.connections.add(connection)
            await self._announce(tx, EventType.CONNECTION_CREATED, connection)
        return connection

    async def _reauthorise(
        self,
        connection_id: str,
        organisation_id: str,
        credential_id: str,
        tokens: TokenSet,
        metadata: tuple[tuple[str, str], ...],
    ) -> Connection:
        """The connection's seal is checked, then renewed for its new credential."""
        new_tokens = seal_tokens(self._cipher, connection_id, tokens)
        async with self._unit_of_work.begin() as tx:
            current = await tx.connections.get(organisation_id, connection_id)
            if current is None:
                raise NotFound("connection")
            check_record(self._cipher, current)
            seal = seal_of(self._cipher, replace(current, credential_id=credential_id))
            if not await tx.connections.reauthorise(
                connection_id, credential_id, new_tokens, seal, metadata
            ):
                raise NotFound("connection")
            connection = await tx.connections.get(organisation_id, connection_id)
            if connection is None:
                raise NotFound("connection")
            await self._announce(tx, EventType.CONNECTION_RECONNECTED, connection)
        return connection


class ManageConnections:
    """Reading, listing and deleting connections. An end user sees only their own, in their
    own hub: anyone else's is not found for them."""

    def __init__(
        self,
        hubs: HubRepository,
        connections: ConnectionRepository,
        unit_of_work: UnitOfWork,
        announce: Announcer,
        revoke: "RevokeTokens",
    ) -> None:
        self._hubs = hubs
        self._connections = connections
        self._unit_of_work = unit_of_work
        self._announce = announce
        self._revoke = revoke

    async def _hub(self, organisation_id: str, hub_id: str) -> Hub:
        hub = await self._hubs.get(organisation_id, hub_id)
        if hub is None:
            raise NotFound("hub")
        return hub

    async def list_for_user(self, caller: Caller, hub_id: str, user_id: str) -> list[Connection]:
        check_hub(caller, hub_id)
        check_user(caller, user_id)
        hub = await self._hub(caller.organisation_id, hub_id)
        return await self._connections.list_for_user(caller.organisation_id, hub.id, user_id)

    async def get(self, caller: Caller, connection_id: str) -> Connection:
        return _visible(caller, await self._connections.get(caller.organisation_id, connection_id))

    async def delete(self, caller: Caller, connection_id: str) -> bool | None:
        """The tokens are first revoked at the provider when its connector has a revocation
        URL (whatever the outcome, the deletion goes on); then the connection goes with its
        tokens, and ``connection.deleted`` (with ``revoked``) is announced in the same
        transaction. Returns whether the revocation succeeded (``None``: none was tried)."""
        connection = _visible(
            caller, await self._connections.get(caller.organisation_id, connection_id)
        )
        revoked = await self._revoke(connection)
        async with self._unit_of_work.begin() as tx:
            if not await tx.connections.delete(caller.organisation_id, connection_id):
                raise NotFound("connection")
            await self._announce(tx, EventType.CONNECTION_DELETED, connection, revoked=revoked)
        return revoked


class RevokeTokens:
    """RFC 7009 at the connector's revocation URL: the refresh token first (a provider
    revokes the grant's access tokens with it, §2.1), then the access token, with the
    connector's client authentication and within the token timeout. A failure is logged and
    reported, never raised: deleting a connection must not depend on the provider. A
    connection or connector that fails its integrity check is not revoked at all (its
    tokens would go where the changed row points)."""

    def __init__(
        self,
        *,
        connectors: ConnectorRepository,
        credentials: CredentialRepository,
        cipher: SecretCipher,
        token_endpoint: TokenEndpoint,
    ) -> None:
        self._connectors = connectors
        self._credentials = credentials
        self._cipher = cipher
        self._token_endpoint = token_endpoint

    async def __call__(self, connection: Connection) -> bool | None:
        connector = await self._connectors.get(connection.hub_id, connection.connector_id)
        if connector is None or connector.settings.revocation_url is None:
            return None
        credential = await self._credentials.get(
            connection.organisation_id, connection.credential_id
        )
        if credential is None:
            return False
        try:  # no token goes where a changed row points; the deletion still goes on
            check_record(self._cipher, connection)
            check_record(self._cipher, connector)
        except TamperedRecord:
            return False
        tokens = connection.tokens
        to_revoke = [
            (sealed, hint, context(connection.id))
            for sealed, hint, context in (
                (tokens.sealed_refresh_token, "refresh_token", refresh_token_context),
                (tokens.sealed_access_token, "access_token", access_token_context),
            )
            if sealed is not None
        ]
        revoked = True
        for sealed_token, hint, context in to_revoke:
            token = self._cipher.decrypt(sealed_token, context=context)
            request = token_request(
                connector,
                credential,
                self._cipher,
                (("token", token), ("token_type_hint", hint)),
                url=connector.settings.revocation_url,
            )
            try:
                answer = await self._token_endpoint.request(request)
            except (ProviderTimeout, ProviderUnavailable) as exc:
                log.warning("revoking connection %s's %s failed: %s", connection.id, hint, exc)
                return False
            if answer.status != 200:  # RFC 7009 §2.2: 200 whether or not it was valid
                log.warning(
                    "revoking connection %s's %s: the provider answered HTTP %d",
                    connection.id, hint, answer.status,
                )  # fmt: skip
                revoked = False
        log.info("revoked connection %s's tokens: %s", connection.id, revoked)
        return revoked


def _visible(caller: Caller, connection: Connection | None) -> Connection:
    """The connection if the caller may see it: an end user only their own (404 otherwise)."""
    if connection is None or not sees_connection(caller, connection.hub_id, connection.user_id):
        raise NotFound("connection")
    return connection
