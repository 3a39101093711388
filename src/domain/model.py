"""The entities an organisation manages: credentials, hubs and connectors."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.scopes import ScopeSeparator


class TokenAuthMethod(StrEnum):
    """How the client authenticates at the token endpoint (RFC 6749 §2.3.1)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"


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


@dataclass(frozen=True, slots=True)
class Connector:
    id: str
    hub_id: str
    name: str
    token_url: str
    scope_separator: ScopeSeparator
    pkce: bool
    token_auth_method: TokenAuthMethod
    created_at: datetime
