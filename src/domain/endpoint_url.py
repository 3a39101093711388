"""Rules for the provider URLs a caller gives us (authorize and token endpoints)."""

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_REG_NAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)
MAX_URL_LENGTH = 2048


class InvalidEndpointUrl(ValueError):
    """The URL breaks a rule; the message says which, in words a caller can act on."""


@dataclass(frozen=True, slots=True)
class EndpointUrl:
    """A validated absolute URL, kept exactly as given; ``query`` is its raw query, if any."""

    url: str
    host: str
    query: str


def is_loopback_host(host: str) -> bool:
    """``localhost`` (and its subdomains), 127.0.0.0/8 and ::1."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _valid_host(host: str) -> bool:
    if host.startswith("["):
        if not host.endswith("]"):
            return False
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return _REG_NAME.fullmatch(host) is not None


@lru_cache(maxsize=1024)
def parse_endpoint_url(raw: str, allow_loopback_http: bool = True) -> EndpointUrl:
    """Accept an absolute ``https`` URL with a host, no user-info and no fragment.

    ``http`` is accepted only for loopback hosts, and only while ``allow_loopback_http``
    (development and tests); a production provider is never reached in clear text.
    """
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidEndpointUrl(f"must be at most {MAX_URL_LENGTH} characters")
    if _PRINTABLE_ASCII.fullmatch(raw) is None:
        raise InvalidEndpointUrl(
            "must be printable ASCII without spaces; percent-encode other characters"
        )
    if "#" in raw:
        raise InvalidEndpointUrl("must not have a fragment")
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # e.g. an unbalanced or invalid IPv6 literal
        raise InvalidEndpointUrl("must have a valid host") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not raw[len(parts.scheme) :].startswith("://"):
        raise InvalidEndpointUrl("must be an absolute https URL")
    if "@" in parts.netloc:
        raise InvalidEndpointUrl("must not contain user-info")
    host_port = parts.netloc
    host = host_port
    if host_port.startswith("["):
        end = host_port.find("]")
        host, port_text = host_port[: end + 1], host_port[end + 1 :]
    else:
        host, _, port_text = host_port.partition(":")
        port_text = ":" + port_text if port_text or host_port.endswith(":") else ""
    if not host or not _valid_host(host):
        raise InvalidEndpointUrl("must have a valid host")
    if port_text:
        digits = port_text[1:]
        if not digits.isdigit() or not 0 < int(digits) < 65536:
            raise InvalidEndpointUrl("must have a valid port")
    if scheme == "http" and not (allow_loopback_http and is_loopback_host(host)):
        raise InvalidEndpointUrl(
            "must use https (http is allowed only for loopback hosts, in development)"
            if allow_loopback_http is False
            else "must use https (http is allowed only for loopback hosts)"
        )
    return EndpointUrl(url=raw, host=host, query=parts.query)


def same_endpoint(configured: str, requested: str) -> bool:
    """The requested authorize URL has the configured one's scheme, host, port and path
    (its query may add to the configured one's)."""
    a, b = urlsplit(configured), urlsplit(requested)
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.hostname or "") == (b.hostname or "")
        and _port(a.scheme, a.port) == _port(b.scheme, b.port)
        and (a.path or "/") == (b.path or "/")
    )


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme.lower() == "https" else 80)
