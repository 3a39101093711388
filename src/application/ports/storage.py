"""Storage ports: one repository per kind of row, a lock, and the transaction that spans them.

Every implementation raises the errors of ``application.errors`` for the same situations:
``DuplicateKey`` when a row with the same key exists, ``StorageUnavailable`` when the storage
cannot answer right now (down, locked, unreachable). Nothing else leaks from a backend.
"""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.model import (
    ApiKey,
    Connection,
    ConnectionStatus,
    ConnectionTokens,
    Connector,
    ConnectSession,
    Credential,
    Delivery,
    DeliveryStatus,
    Hub,
    Organisation,
    SigningKey,
    Webhook,
    WebhookEvent,
)


class OrganisationRepository(Protocol):
    async def add(self, organisation: Organisation) -> None: ...

    async def get(self, organisation_id: str) -> Organisation | None: ...


class ApiKeyRepository(Protocol):
    async def add(self, api_key: ApiKey) -> None: ...

    async def find(self, key_hash: bytes) -> ApiKey | None:
        """The key with this hash, if any."""
        ...

    async def delete(self, key_hash: bytes) -> bool: ...


class CredentialRepository(Protocol):
    async def add(self, credential: Credential) -> None: ...

    async def get(self, organisation_id: str, credential_id: str) -> Credential | None: ...

    async def list(self, organisation_id: str) -> list[Credential]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, credential_id: str) -> bool:
        """Raises ``CredentialInUse`` while connections use the credential."""
        ...


class HubRepository(Protocol):
    async def add(self, hub: Hub) -> None: ...

    async def get(self, organisation_id: str, hub_id: str) -> Hub | None: ...

    async def find(self, hub_id: str) -> Hub | None:
        """By id alone: for a browser's CORS preflight, which carries no credentials."""
        ...

    async def list(self, organisation_id: str) -> list[Hub]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, hub_id: str) -> bool:
        """Deletes the hub with its connectors and their connections."""
        ...


class ConnectorRepository(Protocol):
    async def add(self, connector: Connector) -> None: ...

    async def get(self, hub_id: str, connector_id: str) -> Connector | None: ...

    async def list(self, hub_id: str) -> list[Connector]:
        """Oldest first."""
        ...

    async def delete(self, hub_id: str, connector_id: str) -> bool:
        """Deletes the connector with its connections."""
        ...


class SigningKeyRepository(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def get(self, organisation_id: str, key_id: str) -> SigningKey | None: ...

    async def find(self, key_id: str) -> SigningKey | None:
        """By id alone: a JWT's ``kid`` says which organisation's key it claims."""
        ...

    async def list(self, organisation_id: str) -> list[SigningKey]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, key_id: str) -> bool: ...


class ConnectSessionRepository(Protocol):
    async def add(self, session: ConnectSession) -> None: ...

    async def get(self, token_hash: bytes) -> ConnectSession | None:
        """The session with this keyed hash, expired or not."""
        ...

    async def delete(self, organisation_id: str, token_hash: bytes) -> bool: ...

    async def delete_expired(self, now: datetime) -> int: ...


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> None: ...

    async def get(self, organisation_id: str, webhook_id: str) -> Webhook | None: ...

    async def subscribed(self, organisation_id: str, event_type: str) -> list[Webhook]:
        """The organisation's webhooks that subscribed to this event type."""
        ...

    async def list(self, organisation_id: str) -> list[Webhook]:
        """Oldest first."""
        ...

    async def delete(self, organisation_id: str, webhook_id: str) -> bool:
        """Deletes the webhook with its deliveries."""
        ...

    async def rotate_secret(
        self,
        organisation_id: str,
        webhook_id: str,
        *,
        sealed_secret: str,
        sealed_previous_secret: str,
        previous_secret_until: datetime,
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to one worker, with what sending it needs."""

    delivery_id: str
    attempts: int  # made before this one
    webhook_id: str
    organisation_id: str
    url: str
    seal: str | None  # the webhook's (application.integrity)
    sealed_secret: str
    sealed_previous_secret: str | None
    previous_secret_until: datetime | None
    event_id: str
    body: bytes
    event_created_at: datetime


class Outbox(Protocol):
    """Events and their deliveries: written with the change they announce (inside its unit
    of work), then claimed by the delivery workers of every instance."""

    async def add(
        self, event: WebhookEvent, deliveries: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        """The event, and a pending delivery ``(delivery id, webhook id)`` for each webhook
        it goes to, due ``now``."""
        ...

    async def claim(
        self, now: datetime, lease_until: datetime, holder: str, limit: int
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` pending deliveries that are due, not leased by anyone else,
        and each the oldest still pending of its webhook and connection (so a connection's
        events reach each endpoint in order), oldest first. Workers claiming at the same
        time never get the same delivery while its lease lasts."""
        ...

    async def record_attempt(
        self,
        delivery_id: str,
        holder: str,
        *,
        status: DeliveryStatus,
        attempted_at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Count an attempt and release the lease; only while ``holder`` holds it."""
        ...

    async def deliveries(
        self, webhook_id: str, limit: int, after: str | None = None
    ) -> tuple[list[Delivery], bool]:
        """Newest first, up to ``limit``, older than the delivery ``after``; and whether
        there are more."""
        ...

    async def retry_now(self, webhook_id: str, delivery_id: str, now: datetime) -> bool:
        """A failed delivery becomes pending and due ``now``; ``False`` if it is not a
        failed delivery of this webhook."""
        ...

    async def oldest_pending(self) -> datetime | None:
        """When the oldest pending delivery's event happened: the queue's age."""
        ...

    async def forget_finished(self, before: datetime) -> int:
        """Delete succeeded and failed deliveries last tried before ``before``, then the
        events none is left for; pending ones are kept, however old. The count deleted."""
        ...


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

    async def hub_of(self, connection_id: str) -> str | None:
        """The hub of a connection, by id alone: for a browser's CORS preflight."""
        ...

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
        tokens: ConnectionTokens,
        *,
        expected_version: int,
        refreshed_at: datetime,
    ) -> bool:
        """Replace the tokens in one write, only if the stored token version is still
        ``expected_version`` (the fencing check): the version goes up by one, the refresh
        time is recorded and the failure count reset. ``False`` when the check failed and
        nothing was written."""
        ...

    async def reauthorise(
        self,
        connection_id: str,
        credential_id: str,
        tokens: ConnectionTokens,
        seal: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        """The end user connected again: replace the credential, its seal, the tokens and the
        metadata in one write, make
        the connection active with no reason, reset the failure count, and raise the token
        version by one (a refresh still in flight then writes nothing). ``False`` when the
        connection no longer exists."""
        ...

    async def record_refresh_failure(
        self, connection_id: str, *, failures: int, not_before: datetime
    ) -> None:
        """Count a failed refresh; refreshing is held back until ``not_before``."""
        ...

    async def set_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        """Set the status and its reason; with ``expected_version``, only if the token
        version is still that one. ``False`` when nothing was written."""
        ...

    async def due_for_refresh(
        self, expiring_before: datetime, now: datetime, limit: int
    ) -> list[Connection]:
        """Active connections with a refresh token whose access token expires before
        ``expiring_before`` and that are not held back past ``now``; soonest first."""
        ...


class RefreshLock(Protocol):
    """A lock per connection, shared by every process on the database, that expires by itself
    so that a crashed holder cannot block refreshing for longer than its lease."""

    async def acquire(
        self, connection_id: str, holder: str, now: datetime, until: datetime
    ) -> bool:
        """Take the lock, or take it over when its lease ran out; ``False`` while another
        holder's lease lasts."""
        ...

    async def release(self, connection_id: str, holder: str) -> None:
        """Release the lock if ``holder`` still holds it."""
        ...

    async def delete_expired(self, now: datetime) -> int:
        """Forget locks whose lease has run out; they would be taken over anyway."""
        ...


class SealedKind(StrEnum):
    """The kinds of encrypted value at rest."""

    CLIENT_SECRET = "client_secret"
    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"
    WEBHOOK_SECRET = "webhook_secret"
    WEBHOOK_PREVIOUS_SECRET = "webhook_previous_secret"
    # The seals of application.integrity: encrypted, so they rotate with the rest.
    API_KEY_SEAL = "api_key_seal"
    HUB_SEAL = "hub_seal"
    CONNECTOR_SEAL = "connector_seal"
    CONNECTION_SEAL = "connection_seal"
    WEBHOOK_SEAL = "webhook_seal"
    SIGNING_KEY_SEAL = "signing_key_seal"


@dataclass(frozen=True, slots=True)
class SealedValue:
    """One encrypted value at rest, and the row it belongs to."""

    kind: SealedKind
    row_id: str
    value: str


class SealedValueStore(Protocol):
    """Every encrypted value at rest, for re-encrypting them under a new key."""

    async def not_starting_with(self, prefixes: Sequence[str], limit: int) -> Sequence[SealedValue]:
        """Up to ``limit`` values that start with none of ``prefixes``."""
        ...

    async def replace(self, sealed: SealedValue, new_value: str) -> bool:
        """Swap in ``new_value`` only if the stored value is still ``sealed.value``."""
        ...


class HealthCheck(Protocol):
    async def ping(self) -> None:
        """Raise ``StorageUnavailable`` when the storage cannot answer."""
        ...


class UnitOfWork(Protocol):
    def begin(self) -> AbstractAsyncContextManager["Storage"]:
        """One transaction: the repositories it yields write inside it; it commits when the
        block ends normally and rolls back, leaving nothing behind, when the block raises."""
        ...


@dataclass(frozen=True, slots=True)
class Storage:
    """One storage backend: swapped as a whole, by configuration."""

    organisations: OrganisationRepository
    api_keys: ApiKeyRepository
    credentials: CredentialRepository
    hubs: HubRepository
    connectors: ConnectorRepository
    signing_keys: SigningKeyRepository
    connect_sessions: ConnectSessionRepository
    webhooks: WebhookRepository
    outbox: Outbox
    used_states: UsedStateRepository
    connections: ConnectionRepository
    refresh_locks: RefreshLock
    sealed_values: SealedValueStore
    health: HealthCheck
    unit_of_work: UnitOfWork
