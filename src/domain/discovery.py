"""Authorization server metadata (RFC 8414; OpenID Connect Discovery 1.0): where to read it
for an issuer, and what a connector takes from it."""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from domain.model import TokenAuthMethod

OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
# Preferred first: RFC 6749 §2.3.1 requires servers to support Basic for secrets.
_AUTH_PREFERENCE = (
    TokenAuthMethod.CLIENT_SECRET_BASIC,
    TokenAuthMethod.CLIENT_SECRET_POST,
    TokenAuthMethod.NONE,
)


class InvalidMetadata(ValueError):
    """The document cannot configure a connector; the message says why."""


@dataclass(frozen=True, slots=True)
class Discovered:
    authorize_url: str
    token_url: str
    revocation_url: str | None
    token_auth_method: TokenAuthMethod
    pkce: bool
    iss_parameter_supported: bool


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 first: the well-known path inserted between the host and the issuer's
    path; then OpenID Connect Discovery §4: the well-known path appended to the issuer."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oauth = urlunsplit((parts.scheme, parts.netloc, OAUTH_WELL_KNOWN + path, "", ""))
    oidc = urlunsplit((parts.scheme, parts.netloc, path + OIDC_WELL_KNOWN, "", ""))
    return [oauth, oidc]


def _string(document: Mapping[str, object], name: str, required: bool) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidMetadata(f"its {name} is {'missing' if value is None else 'not a string'}")
    return value


def _strings(document: Mapping[str, object], name: str) -> list[str] | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidMetadata(f"its {name} is not a list of strings")
    return list(value)


def read_metadata(document: object, issuer: str) -> Discovered:
    """The document's ``issuer`` must equal ``issuer`` exactly (RFC 8414 §3.3), else it may
    be another server's. Absent ``token_endpoint_auth_methods_supported`` means
    ``client_secret_basic`` (RFC 8414 §2)."""
    if not isinstance(document, Mapping):
        raise InvalidMetadata("it is not a JSON object")
    found = _string(document, "issuer", True)
    if found != issuer:
        raise InvalidMetadata(f"its issuer is {found!r}, not {issuer!r} (RFC 8414 §3.3)")
    methods = _strings(document, "token_endpoint_auth_methods_supported") or [
        TokenAuthMethod.CLIENT_SECRET_BASIC.value
    ]
    auth = next((m for m in _AUTH_PREFERENCE if m.value in methods), None)
    if auth is None:
        raise InvalidMetadata("it supports none of client_secret_basic, client_secret_post or none")
    challenges = _strings(document, "code_challenge_methods_supported") or []
    iss_supported = document.get("authorization_response_iss_parameter_supported", False)
    return Discovered(
        authorize_url=str(_string(document, "authorization_endpoint", True)),
        token_url=str(_string(document, "token_endpoint", True)),
        revocation_url=_string(document, "revocation_endpoint", False),
        token_auth_method=auth,
        pkce="S256" in challenges,
        iss_parameter_supported=iss_supported is True,
    )
