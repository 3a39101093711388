"""Ports: what the use cases need from the outside world, one small role each."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.model import (
    ApiKey,
    Connection,
    ConnectionStatus,
    Connector,
    Credential,
    Hub,
    Organisation,
    TokenAuthMethod,
)
from domain.state import StateClaims


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class RandomSource(Protocol):
    def token_bytes(self, size: int) -> bytes:
        """``size`` bytes from a cryptographically secure generator."""
        ...


class SecretCipher(Protocol):
    """Authenticated encryption of secrets at rest. ``context`` binds a ciphertext to the row
    it belongs to, so a ciphertext copied onto another row does not decrypt."""

    def encrypt(self, plaintext: str, *, context: str) -> str: ...

    def decrypt(self, sealed: str, *, context: str) -> str: ...

    def current_prefix(self) -> str:
        """Every ciphertext made with the active key starts with this, and no other does."""
        ...


@dataclass(frozen=True, slots=True)
class SealedState:
    """A ``state`` value and its PKCE verifier, which is secret and never leaves the server."""

    value: str
    pkce_verifier: str


@dataclass(frozen=True, slots=True)
class OpenedState:
    claims: StateClaims
    pkce_verifier: str


class StateSealer(Protocol):
    """Turns state claims into an opaque, URL-safe, authenticated ``state`` value and back."""

    def seal(self, claims: StateClaims) -> SealedState: ...

    def open(self, state: str) -> OpenedState | None:
        """The claims, or ``None`` when the value was not issued by this service."""
        ...


class OrganisationRepository(Protocol):
    async def add(self, organisation: Organisation) -> None: ...

    async def get(self, organisation_id: str) -> Organisation | None: ...


class ApiKeyRepository(Protocol):
    async def add(self, api_key: ApiKey) -> None: ...

    async def organisation_for(self, key_hash: bytes) -> str | None:
        """The organisation owning the key with this hash, if any."""
        ...

    async def delete(self, key_hash: bytes) -> bool: ...


class CredentialRepository(Protocol):
    async def add(self, credential: Credential) -> None: ...

    async def get(self, organisation_id: str, credential_id: str) -> Credential | None: ...

    async def list(self, organisation_id: str) -> list[Credential]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, credential_id: str) -> bool: ...


class HubRepository(Protocol):
    async def add(self, hub: Hub) -> None: ...

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None: ...

    async def list(self, organisation_id: str) -> list[Hub]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        """Deletes the hub and its connectors together."""
        ...


class ConnectorRepository(Protocol):
    async def add(self, connector: Connector) -> None: ...

    async def get(self, hub_id: str, connector_id: str) -> Connector | None: ...

    async def list(self, hub_id: str) -> list[Connector]:
        """Oldest first."""
        ...

    async def delete(self, hub_id: str, connector_id: str) -> bool: ...


class UsedStateRepository(Protocol):
    """Remembers which states have been used, until they expire: the single-use guarantee."""

    async def mark_used(self, state_id: bytes, expires_at: datetime) -> bool:
        """Record the use atomically; ``False`` when the state was already used."""
        ...

    async def is_used(self, state_id: bytes) -> bool: ...

    async def delete_expired(self, now: datetime) -> int:
        """Forget states past their expiry (they are refused as expired anyway)."""
        ...


class ConnectionRepository(Protocol):
    async def add(self, connection: Connection) -> None:
        """Store the connection, creating its end user (hub, user id) on first use, atomically."""
        ...

    async def get(self, organisation_id: str, connection_id: str) -> Connection | None: ...

    async def list_for_user(
        self, organisation_id: str, hub_id: str, user_id: str
    ) -> list[Connection]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, connection_id: str) -> bool:
        """Deletes the connection with its stored tokens."""
        ...

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
        """Replace the tokens in one write: a rotated refresh token never lands without the
        access token issued with it."""
        ...

    async def set_status(self, connection_id: str, status: ConnectionStatus) -> None: ...


class RefreshLock(Protocol):
    """A lock per connection, shared by every process on the database, that expires by itself
    so that a crashed holder cannot block refreshing for longer than its lease."""

    async def acquire(
        self, connection_id: str, holder: str, now: datetime, until: datetime
    ) -> bool: ...

    async def release(self, connection_id: str, holder: str) -> None: ...

    async def delete_expired(self, now: datetime) -> int:
        """Forget locks whose lease has run out; they would be taken over anyway."""
        ...


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A request to a provider's token endpoint; the adapter adds client authentication."""

    token_url: str
    auth_method: TokenAuthMethod
    client_id: str
    client_secret: str
    form: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TokenEndpointAnswer:
    status: int
    body: object  # the parsed JSON, or None when the body was not JSON


class TokenEndpoint(Protocol):
    async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
        """Raise ``ProviderTimeout`` or ``ProviderUnavailable`` when no answer was read."""
        ...


@dataclass(frozen=True, slots=True)
class SealedValue:
    """One encrypted value at rest: ``kind`` is client_secret, access_token or refresh_token."""

    kind: str
    row_id: str
    value: str


class SealedValueStore(Protocol):
    """Every encrypted value at rest, for re-encrypting them under a new key."""

    async def not_starting_with(self, prefix: str, limit: int) -> list[SealedValue]: ...

    async def replace(self, sealed: SealedValue, new_value: str) -> bool:
        """Swap in ``new_value`` only if the stored value is still ``sealed.value``."""
        ...


class HealthCheck(Protocol):
    async def ping(self) -> None:
        """Raise when the storage cannot answer."""
        ...


@dataclass(frozen=True, slots=True)
class Storage:
    """One storage backend: swapped as a whole, by configuration."""

    organisations: OrganisationRepository
    api_keys: ApiKeyRepository
    credentials: CredentialRepository
    hubs: HubRepository
    connectors: ConnectorRepository
    used_states: UsedStateRepository
    connections: ConnectionRepository
    refresh_locks: RefreshLock
    sealed_values: SealedValueStore
    health: HealthCheck
