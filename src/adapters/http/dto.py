"""Request and response bodies. Inputs refuse unknown fields; limits are part of the schema."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from domain.model import Connection
from domain.tokens import MAX_EXPIRES_IN

Id = Annotated[str, Meta(max_length=64)]
Name = Annotated[str, Meta(max_length=200)]
Url = Annotated[str, Meta(max_length=2048)]
ClientId = Annotated[str, Meta(max_length=512)]


class Input(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    pass


class Output(msgspec.Struct, rename="camel"):
    pass


class ErrorField(msgspec.Struct):
    field: str
    message: str


class ProviderErrorBody(msgspec.Struct, rename="camel"):
    """A provider's RFC 6749 §5.2 error, passed on."""

    error: str
    error_description: str | None = None


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error: a stable ``code``, a sentence, the offending fields when known, and the
    provider's own error when a provider refused."""

    code: str
    message: str
    fields: list[ErrorField] | None = None
    provider: ProviderErrorBody | None = None


class CredentialRef(Input):
    id: Id
    organisation_id: Id


class InitialiseOAuth2ConnectionRequest(Input):
    authorize_url: Url
    client_id: ClientId
    credential: CredentialRef
    additional_params: Annotated[str, Meta(max_length=8192)] | None = None
    disable_offline_access: bool | None = None
    prompt: Annotated[str, Meta(max_length=256)] | None = None
    scopes: Annotated[list[Annotated[str, Meta(max_length=512)]], Meta(max_length=100)] | None = (
        None
    )
    # Not in the reference API: bind the state to an end user (API-key callers), and
    # re-authorise an existing connection in place.
    user_id: Annotated[str, Meta(max_length=256)] | None = None
    connection_id: Id | None = None


class InitialiseOAuth2ConnectionResponse(Output):
    url: str


class CredentialCreate(Input):
    name: Name
    client_id: ClientId
    client_secret: Annotated[str, Meta(max_length=4096)]


class CredentialRead(Output):
    id: str
    organisation_id: str
    name: str
    client_id: str
    created_at: datetime


class CredentialList(Output):
    items: list[CredentialRead]
    next: str | None = None  # the `after` of the next page


class HubCreate(Input):
    name: Name
    allowed_origins: (
        Annotated[list[Annotated[str, Meta(max_length=512)]], Meta(max_length=50)] | None
    ) = None


class HubRead(Output):
    id: str
    organisation_id: str
    name: str
    allowed_origins: list[str]
    created_at: datetime


class HubList(Output):
    items: list[HubRead]
    next: str | None = None  # the `after` of the next page


ParamText = Annotated[str, Meta(max_length=512)]
FieldPath = Annotated[str, Meta(max_length=200)]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]


class ProviderSettingsFields(msgspec.Struct, rename="camel", kw_only=True):
    """The provider settings, as a connector and a catalogue entry show them."""

    authorize_url: str | None
    authorize_params: dict[str, str]
    offline_access: str
    default_prompt: str | None
    token_request_format: str
    token_response_path: str | None
    metadata_fields: list[str]
    callback_params: list[str]
    default_expires_in_seconds: int | None
    revocation_url: str | None


class ConnectorCreate(Input):
    """With ``provider``, the catalogue's template fills every field not given here."""

    name: Name
    token_url: Url | None = None
    provider: Id | None = None
    scope_separator: Literal[" ", ","] | None = None
    pkce: bool | None = None
    token_auth_method: AuthMethod | None = None
    issuer: Url | None = None
    iss_parameter_supported: bool | None = None
    authorize_url: Url | None = None
    authorize_params: Annotated[dict[ParamText, ParamText], Meta(max_length=20)] | None = None
    offline_access: Literal["scope", "none"] | None = None
    default_prompt: Annotated[str, Meta(max_length=256)] | None = None
    token_request_format: Literal["form", "json"] | None = None
    token_response_path: FieldPath | None = None
    metadata_fields: Annotated[list[FieldPath], Meta(max_length=20)] | None = None
    callback_params: (
        Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=20)] | None
    ) = None
    default_expires_in_seconds: Annotated[int, Meta(ge=1, le=MAX_EXPIRES_IN)] | None = None
    revocation_url: Url | None = None
    discover: bool | None = None  # fill the endpoints from the issuer's metadata


class ConnectorRead(ProviderSettingsFields, kw_only=True):
    id: str
    hub_id: str
    name: str
    provider: str | None
    token_url: str
    scope_separator: str
    pkce: bool
    token_auth_method: str
    issuer: str | None
    iss_parameter_supported: bool
    created_at: datetime


class EmbedConnectorRead(Output):
    """A connector as its embedding page sees it: what the SDK needs, nothing more."""

    id: str
    name: str
    provider: str | None
    authorize_url: str | None  # the default for initialise's authorizeUrl


class ProviderRead(ProviderSettingsFields, kw_only=True):
    """A catalogue entry: what a connector made with ``provider`` starts with."""

    id: str
    name: str
    docs_url: str
    notes: str
    token_url: str
    scope_separator: str
    pkce: bool
    token_auth_method: str
    issuer: str | None
    iss_parameter_supported: bool


class ProviderList(Output):
    items: list[ProviderRead]


class ConnectorList(Output):
    items: list[ConnectorRead]
    next: str | None = None  # the `after` of the next page


class ConnectionCreate(Input):
    """``callbackParams``: the callback's query parameters the page received (the SDK passes
    them on); only the connector's ``callbackParams`` are kept."""

    connector_id: Id
    code: Annotated[str, Meta(max_length=4096)]
    state: Annotated[str, Meta(max_length=2048)]
    name: Name | None = None
    callback_params: (
        Annotated[
            dict[Annotated[str, Meta(max_length=64)], Annotated[str, Meta(max_length=2048)]],
            Meta(max_length=20),
        ]
        | None
    ) = None


class ConnectionRead(Output):
    id: str
    hub_id: str
    user_id: str
    connector_id: str
    credential_id: str
    name: str
    scopes: list[str]
    expires_at: datetime | None
    status: str
    created_at: datetime
    last_refreshed_at: datetime | None
    refresh_failures: int
    status_reason: str | None
    metadata: dict[str, str]  # what the connector's metadataFields and callbackParams kept


def connection_read(c: Connection) -> ConnectionRead:
    """A connection as the API and webhooks show it: never a token."""
    return ConnectionRead(
        id=c.id,
        hub_id=c.hub_id,
        user_id=c.user_id,
        connector_id=c.connector_id,
        credential_id=c.credential_id,
        name=c.name,
        scopes=list(c.tokens.scopes),
        expires_at=c.tokens.expires_at,
        status=c.status.value,
        created_at=c.created_at,
        last_refreshed_at=c.health.last_refreshed_at,
        refresh_failures=c.health.failures,
        status_reason=c.status_reason,
        metadata=dict(c.metadata),
    )


class ConnectionList(Output):
    items: list[ConnectionRead]
    next: str | None = None  # the `after` of the next page


class AccessTokenRead(Output):
    access_token: str
    token_type: str
    expires_at: datetime | None
    scopes: list[str]


class Health(msgspec.Struct):
    status: str


class OrganisationRead(Output):
    id: str
    name: str
    redirect_uri: str


class SigningKeyCreate(Input):
    name: Name
    public_key: Annotated[str, Meta(max_length=4096)]


class SigningKeyRead(Output):
    id: str
    organisation_id: str
    name: str
    algorithm: str
    created_at: datetime


class SigningKeyList(Output):
    items: list[SigningKeyRead]
    next: str | None = None  # the `after` of the next page


class ConnectSessionCreate(Input):
    hub_id: Id
    user_id: Annotated[str, Meta(max_length=256)]
    connector_ids: Annotated[list[Id], Meta(max_length=100)] | None = None
    ttl_seconds: int | None = None


class ConnectSessionRead(Output):
    token: str
    expires_at: datetime


class ConnectSessionRevoke(Input):
    token: Annotated[str, Meta(max_length=1024)]


class WebhookCreate(Input):
    url: Url
    events: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=20)] | None = None
    description: Annotated[str, Meta(max_length=500)] | None = None


class WebhookRead(Output):
    id: str
    organisation_id: str
    url: str
    events: list[str]
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str


class WebhookList(Output):
    items: list[WebhookRead]
    next: str | None = None  # the `after` of the next page


class WebhookSecret(Output):
    secret: str


class DeliveryRead(Output):
    id: str
    event_id: str
    type: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class DeliveryList(Output):
    items: list[DeliveryRead]
    next: str | None
