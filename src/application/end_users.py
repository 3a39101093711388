"""End-user tokens: the signing keys an organisation's JWTs are verified with, connect
sessions, and turning a presented bearer token into a ``Caller``."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.callers import Caller, EndUser
from application.errors import NotFound, Unauthenticated
from application.identity import new_id
from application.integrity import intact, sealed
from application.organisations import AuthenticateApiKey
from application.ports.crypto import (
    EndUserTokenVerifier,
    InvalidEndUserToken,
    InvalidPublicKey,
    PublicKeyReader,
    SecretCipher,
    TokenHasher,
)
from application.ports.storage import (
    ConnectorRepository,
    ConnectSessionRepository,
    HubRepository,
    SigningKeyRepository,
)
from application.ports.system import Clock, RandomSource
from application.validation import check_name, check_user_id
from domain.api_keys import PREFIX as API_KEY_PREFIX
from domain.end_user_tokens import (
    JWT_MAX_LIFETIME,
    SESSION_DEFAULT_LIFETIME,
    SESSION_MAX_LIFETIME,
    SESSION_PREFIX,
    SESSION_SECRET_BYTES,
    format_session_token,
    looks_like_jwt,
)
from domain.errors import FieldErrors
from domain.model import ConnectSession, SigningAlgorithm, SigningKey

MAX_PUBLIC_KEY_LENGTH = 4096
MAX_SESSION_CONNECTORS = 100


class ManageSigningKeys:
    """Register, list and delete the public keys of an organisation's end-user JWTs.

    Rules: the name is valid; the key is a PEM SubjectPublicKeyInfo of RSA (at least 2048
    bits), EC P-256 or Ed25519, and its type fixes the one algorithm its tokens may use; the
    key is sealed to its organisation (``application.integrity``). A deleted key stops
    verifying at once on this instance (and within the read cache's bound on the others).
    """

    def __init__(
        self,
        keys: SigningKeyRepository,
        reader: PublicKeyReader,
        clock: Clock,
        random: RandomSource,
        cipher: SecretCipher,
    ) -> None:
        self._keys = keys
        self._reader = reader
        self._clock = clock
        self._random = random
        self._cipher = cipher

    async def create(self, organisation_id: str, name: str, public_key: str) -> SigningKey:
        errors = FieldErrors()
        check_name(errors, name)
        algorithm = self._algorithm(errors, public_key)
        errors.raise_if_any()
        key_id, now = new_id(self._clock, self._random)
        key = SigningKey(
            id=key_id,
            organisation_id=organisation_id,
            name=name,
            algorithm=algorithm,
            public_key=public_key.strip() + "\n",
            created_at=now,
        )
        key = sealed(self._cipher, key)
        await self._keys.add(key)
        return key

    def _algorithm(self, errors: FieldErrors, public_key: str) -> SigningAlgorithm:
        if len(public_key) > MAX_PUBLIC_KEY_LENGTH:
            errors.add("publicKey", f"must be at most {MAX_PUBLIC_KEY_LENGTH} characters")
        else:
            try:
                return SigningAlgorithm(self._reader.algorithm_of(public_key))
            except InvalidPublicKey as exc:
                errors.add("publicKey", str(exc))
        return SigningAlgorithm.RS256  # not used: the errors are raised

    async def get(self, organisation_id: str, key_id: str) -> SigningKey:
        key = await self._keys.get(organisation_id, key_id)
        if key is None:
            raise NotFound("signing key")
        return key

    async def list(self, organisation_id: str) -> list[SigningKey]:
        return await self._keys.list(organisation_id)

    async def delete(self, organisation_id: str, key_id: str) -> None:
        if not await self._keys.delete(organisation_id, key_id):
            raise NotFound("signing key")


@dataclass(frozen=True, slots=True)
class NewConnectSession:
    hub_id: str
    user_id: str
    connector_ids: Sequence[str] | None = None
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class IssuedConnectSession:
    token: str  # shown once; only its keyed hash is stored
    expires_at: datetime


class ManageConnectSessions:
    """Connect sessions: short-lived end-user tokens made with the API key.

    Rules: the hub is the organisation's (404) and every listed connector is that hub's
    (404); the lifetime is 1 s to 1 hour, 30 minutes by default; the token holds 256 random
    bits and is stored only as a keyed hash, sealed with whom and where it acts for
    (``application.integrity``); revoking ends it at once on this instance.
    """

    def __init__(
        self,
        *,
        hubs: HubRepository,
        connectors: ConnectorRepository,
        sessions: ConnectSessionRepository,
        hasher: TokenHasher,
        clock: Clock,
        random: RandomSource,
        cipher: SecretCipher,
    ) -> None:
        self._hubs = hubs
        self._connectors = connectors
        self._sessions = sessions
        self._hasher = hasher
        self._clock = clock
        self._random = random
        self._cipher = cipher

    async def create(self, organisation_id: str, new: NewConnectSession) -> IssuedConnectSession:
        errors = FieldErrors()
        check_user_id(errors, new.user_id, "userId")
        max_seconds = int(SESSION_MAX_LIFETIME.total_seconds())
        if new.ttl_seconds is not None and not 1 <= new.ttl_seconds <= max_seconds:
            errors.add("ttlSeconds", f"must be from 1 to {max_seconds}")
        if (
            new.connector_ids is not None
            and not 1 <= len(new.connector_ids) <= MAX_SESSION_CONNECTORS
        ):
            errors.add("connectorIds", f"must list 1 to {MAX_SESSION_CONNECTORS} connectors")
        errors.raise_if_any()
        hub = await self._hubs.get(organisation_id, new.hub_id)
        if hub is None:
            raise NotFound("hub", field="hubId")
        connector_ids: tuple[str, ...] | None = None
        if new.connector_ids is not None:
            connector_ids = tuple(dict.fromkeys(new.connector_ids))
            for connector_id in connector_ids:
                if await self._connectors.get(hub.id, connector_id) is None:
                    raise NotFound("connector", field="connectorIds")
        now = self._clock.now()
        lifetime = (
            timedelta(seconds=new.ttl_seconds) if new.ttl_seconds else SESSION_DEFAULT_LIFETIME
        )
        token = format_session_token(new.user_id, self._random.token_bytes(SESSION_SECRET_BYTES))
        session = ConnectSession(
            token_hash=self._hasher.digest(token),
            organisation_id=organisation_id,
            hub_id=hub.id,
            user_id=new.user_id,
            connector_ids=connector_ids,
            expires_at=now + lifetime,
            created_at=now,
        )
        await self._sessions.add(sealed(self._cipher, session))
        return IssuedConnectSession(token=token, expires_at=session.expires_at)

    async def revoke(self, organisation_id: str, token: str) -> None:
        for digest in self._hasher.digests(token):
            if await self._sessions.delete(organisation_id, digest):
                return
        raise NotFound("connect session", field="token")


class AuthenticateBearer:
    """Turn ``Authorization: Bearer <token>`` into the caller it stands for.

    - an API key (``eo_...``): the organisation's backend;
    - a connect session (``eocs_...``): its end user, until it expires or is revoked;
    - a JWT: its ``kid`` names a signing key of some organisation; the signature is checked
      with that key and its one algorithm, ``aud`` must be this service's public URL, ``sub``
      is the end user and ``hub`` their hub, ``iat`` and ``exp`` are required (30 s leeway
      for clocks), and a token may live at most one hour. Every refusal is a 401.
    """

    def __init__(
        self,
        *,
        api_keys: AuthenticateApiKey,
        signing_keys: SigningKeyRepository,
        sessions: ConnectSessionRepository,
        verifier: EndUserTokenVerifier,
        hasher: TokenHasher,
        clock: Clock,
        audience: str,
        cipher: SecretCipher,
    ) -> None:
        self._api_keys = api_keys
        self._signing_keys = signing_keys
        self._sessions = sessions
        self._verifier = verifier
        self._hasher = hasher
        self._clock = clock
        self._audience = audience
        self._cipher = cipher

    async def __call__(self, token: str) -> Caller:
        if token.startswith(API_KEY_PREFIX):
            return Caller(await self._api_keys(token))
        if token.startswith(SESSION_PREFIX):
            return await self._session(token)
        if looks_like_jwt(token):
            return await self._jwt(token)
        raise Unauthenticated("The bearer token is neither an API key nor an end-user token.")

    async def _session(self, token: str) -> Caller:
        session = None
        for digest in self._hasher.digests(token):
            if (session := await self._sessions.get(digest)) is not None:
                break
        # A session whose seal fails was moved to another user, hub or organisation.
        if session is None or not intact(self._cipher, session):
            raise Unauthenticated("The connect session is not valid.")
        if self._clock.now() >= session.expires_at:
            raise Unauthenticated("The connect session has expired.")
        return Caller(
            session.organisation_id,
            EndUser(session.hub_id, session.user_id, session.connector_ids),
        )

    async def _jwt(self, token: str) -> Caller:
        kid = self._verifier.key_id(token)
        key = await self._signing_keys.find(kid) if kid else None
        # A key whose seal fails was planted, or moved from another organisation.
        if key is None or not intact(self._cipher, key):
            raise Unauthenticated("The token's kid names no signing key.")
        try:
            claims = self._verifier.verify(
                token,
                public_key=key.public_key,
                algorithm=key.algorithm.value,
                audience=self._audience,
            )
        except InvalidEndUserToken as exc:
            raise Unauthenticated(f"The token {exc}.") from None
        if claims.expires_at - claims.issued_at > JWT_MAX_LIFETIME.total_seconds():
            raise Unauthenticated("The token lives longer than one hour (exp - iat).")
        errors = FieldErrors()
        check_user_id(errors, claims.subject, "sub")
        if errors.invalid or not claims.hub_id:
            raise Unauthenticated("The token's sub or hub claim is not valid.")
        return Caller(key.organisation_id, EndUser(claims.hub_id, claims.subject))
