"""The entities an organisation manages: credentials, hubs and connectors."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.scopes import ScopeSeparator


class TokenAuthMethod(StrEnum):
    """How the client authenticates at the token endpoint (RFC 6749 §2.3.1; ``none``: a
    public client, which proves itself with PKCE only, RFC 7591 §2)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"


class OfflineAccess(StrEnum):
    """How a refresh token is asked for: the ``offline_access`` scope (OpenID Connect Core
    §11, the seed's default), or not at all (the provider asks for it another way, e.g. an
    ``access_type=offline`` parameter)."""

    SCOPE = "scope"
    NONE = "none"


class TokenRequestFormat(StrEnum):
    """The token request's body: form-encoded (RFC 6749 §4.1.3) or JSON (a few providers)."""

    FORM = "form"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: only its hash, never the key itself."""

    id: str
    organisation_id: str
    key_hash: bytes
    created_at: datetime
    seal: str | None = None  # authenticates the fields that route secrets: application.integrity


@dataclass(frozen=True, slots=True)
class Credential:
    """An OAuth client registration. ``sealed_secret`` is the encrypted client secret."""

    id: str
    organisation_id: str
    name: str
    client_id: str
    sealed_secret: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Hub:
    id: str
    organisation_id: str
    name: str
    allowed_origins: tuple[str, ...]
    created_at: datetime
    seal: str | None = None  # authenticates the fields that route secrets: application.integrity


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How a provider departs from the textbook, as a connector (or a catalogue template)
    says; every one optional. ``authorize_url``: initialise's URL must have its scheme,
    host, port and path. ``authorize_params``: always added to the authorize URL.
    ``token_response_path``: where the token fields sit in the token response (dotted).
    ``metadata_fields``: token-response fields kept on the connection (dotted paths);
    ``callback_params``: callback query parameters kept. ``default_expires_in``: the lifetime
    assumed when the response has no ``expires_in``. ``provider``: the catalogue entry the
    connector was made from."""

    authorize_url: str | None = None
    authorize_params: tuple[tuple[str, str], ...] = ()
    offline_access: OfflineAccess = OfflineAccess.SCOPE
    default_prompt: str | None = None
    token_request_format: TokenRequestFormat = TokenRequestFormat.FORM
    token_response_path: str | None = None
    metadata_fields: tuple[str, ...] = ()
    callback_params: tuple[str, ...] = ()
    default_expires_in: int | None = None
    revocation_url: str | None = None
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class Connector:
    """``issuer`` is the provider's issuer identifier (RFC 9207); ``iss_parameter_supported``
    says whether the provider sends ``iss`` in its authorization responses."""

    id: str
    hub_id: str
    name: str
    token_url: str
    scope_separator: ScopeSeparator
    pkce: bool
    token_auth_method: TokenAuthMethod
    created_at: datetime
    issuer: str | None = None
    iss_parameter_supported: bool = True
    settings: ProviderSettings = ProviderSettings()
    seal: str | None = None  # authenticates the fields that route secrets: application.integrity

    def accepts_issuer(self, iss: str | None) -> bool:
        """RFC 9207 §2.4: with an issuer configured, a present ``iss`` must equal it, and an
        absent one is accepted only from a provider that does not send it."""
        if self.issuer is None:
            return True
        if iss is None:
            return not self.iss_parameter_supported
        return iss == self.issuer


@dataclass(frozen=True, slots=True)
class ProviderTemplate:
    """A catalogue entry: what a connector made from it starts with. ``docs_url`` is the
    provider's page the facts come from."""

    id: str
    name: str
    docs_url: str
    token_url: str
    scope_separator: ScopeSeparator = ScopeSeparator.SPACE
    pkce: bool = True
    token_auth_method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC
    issuer: str | None = None
    iss_parameter_supported: bool = True
    settings: ProviderSettings = ProviderSettings()
    notes: str = ""  # what the template sets and why, in a sentence or two


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    REAUTHORISATION_REQUIRED = "reauthorisation_required"


@dataclass(frozen=True, slots=True)
class ConnectionTokens:
    """What one token response left on a connection, written and read as one value: a
    rotated refresh token never lands without the access token issued with it. The tokens
    are encrypted; ``scopes`` are the ones granted."""

    token_type: str
    sealed_access_token: str
    sealed_refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...]
    lifetime_seconds: int | None = None  # expires_in of the response that issued them


@dataclass(frozen=True, slots=True)
class RefreshHealth:
    """How refreshing has gone. ``version`` counts the token writes: a refresh writes only
    if the version it read is still the stored one (the fencing token). ``not_before`` holds
    the next refresh back after consecutive failures."""

    version: int = 1
    last_refreshed_at: datetime | None = None
    failures: int = 0
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """One end user's authorised link to a provider. ``status_reason`` says why a
    connection is not active (``invalid_grant``, ``no_refresh_token``)."""

    id: str
    organisation_id: str
    hub_id: str
    user_id: str  # the product's own id for its end user
    connector_id: str
    credential_id: str
    name: str
    tokens: ConnectionTokens
    status: ConnectionStatus
    created_at: datetime
    health: RefreshHealth = RefreshHealth()
    status_reason: str | None = None
    # What the connector's metadataFields and callbackParams kept; never a secret.
    metadata: tuple[tuple[str, str], ...] = ()
    seal: str | None = None  # authenticates the fields that route secrets: application.integrity


class SigningAlgorithm(StrEnum):
    """The JWS algorithm of an end-user signing key, fixed by the key's type: a token must
    use exactly this one (RFC 8725 §3.1)."""

    RS256 = "RS256"
    ES256 = "ES256"
    EDDSA = "EdDSA"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A public key an organisation signs its end users' JWTs with (``kid`` = ``id``)."""

    id: str
    organisation_id: str
    name: str
    algorithm: SigningAlgorithm
    public_key: str  # PEM SubjectPublicKeyInfo
    created_at: datetime
    seal: str | None = None  # authenticates the fields that route secrets: application.integrity


@dataclass(frozen=True, slots=True)
class ConnectSession:
    """A short-lived end-user token made with the API key; stored as a keyed hash only.
    ``connector_ids``: the connectors it is limited to, or ``None`` for all."""

    token_hash: bytes
    organisation_id: str
    hub_id: str
    user_id: str
    connector_ids: tuple[str, ...] | None
    expires_at: datetime
    created_at: datetime
    seal: str | None = None  # authenticates who the session acts for: application.integrity


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint of the organisation's, told about the ``events`` it subscribed to. The
    secrets are encrypted; ``sealed_previous_secret`` keeps signing until
    ``previous_secret_until`` after a rotation."""

    id: str
    organisation_id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    sealed_secret: str
    created_at: datetime
    sealed_previous_secret: str | None = None
    previous_secret_until: datetime | None = None
    seal: str | None = None  # authenticates the fields that route secrets: application.integrity


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """Something that happened, written in the transaction of the change it announces.
    ``body`` is the JSON sent, rendered when the event happened."""

    id: str
    organisation_id: str
    type: str
    connection_id: str
    body: bytes
    created_at: datetime


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one webhook."""

    id: str
    webhook_id: str
    event_id: str
    type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
