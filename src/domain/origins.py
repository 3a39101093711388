"""Web origins of the pages that embed the connect flow (the targets of ``postMessage``).

An origin is accepted only in a form a browser would serialise exactly as stored, so that
what the callback page posts to is what the hub's owner meant: a host of letters, digits and
hyphens (international names in their ASCII, IDNA form), a canonical IPv4 address or an IPv6
literal, and a port from 1 to 65535. Anything a browser would parse into something else
(``https://evil.com\\.good.com``, ``https://%65vil.com``, ``https://127.1``) is refused.
"""

import ipaddress
import re

from domain.endpoint_url import is_loopback_host

MAX_ORIGIN_LENGTH = 512
_DEFAULT_PORTS = {"https": 443, "http": 80}
_ORIGIN = re.compile(r"(?i)(https?)://([^/?#]*)/?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# A last label a browser reads as a number makes the whole host an IPv4 address to it.
_NUMERIC = re.compile(r"(?i)(?:0x[0-9a-f]*|[0-9]+)")


class InvalidOrigin(ValueError):
    pass


def normalise_origin(raw: str, allow_loopback_http: bool = True) -> str:
    """``https://App.example.com:443`` becomes ``https://app.example.com``, as browsers spell it.

    No path, query, fragment or user-info. ``http`` is allowed only for loopback hosts, and
    only with ``allow_loopback_http`` (not in production).
    """
    if not raw or len(raw) > MAX_ORIGIN_LENGTH or any(c.isspace() for c in raw):
        raise InvalidOrigin("must be an origin such as https://app.example.com")
    match = _ORIGIN.fullmatch(raw)
    if match is None:
        if "://" in raw and any(c in raw.split("://", 1)[1] for c in "/?#"):
            raise InvalidOrigin("must be an origin only: no path, query or fragment")
        raise InvalidOrigin("must be an origin such as https://app.example.com")
    scheme, authority = match.group(1).lower(), match.group(2)
    if "@" in authority:
        raise InvalidOrigin("must not contain user-info")
    host, port = _split_authority(authority)
    host = _canonical_host(host)
    if scheme == "http" and not (allow_loopback_http and is_loopback_host(host)):
        raise InvalidOrigin(
            "must use https (http is allowed only for loopback hosts, in development)"
        )
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _split_authority(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            raise InvalidOrigin("has an invalid host")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = authority.partition(":")
        port_text = port_text_or_empty if colon else None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not port_text.isascii() or not 0 < int(port_text) < 65536:
        raise InvalidOrigin("has an invalid port (1 to 65535)")
    return host, int(port_text)


def _canonical_host(host: str) -> str:
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise InvalidOrigin("has an invalid IPv6 address") from None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidOrigin("has a host that is not a valid international name") from None
    host = host.lower()
    labels = host.split(".")
    if _NUMERIC.fullmatch(labels[-1]):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise InvalidOrigin("has a host a browser would read as another address") from None
        if str(address) != host:
            raise InvalidOrigin("has a host a browser would read as another address")
        return host
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidOrigin(
            "has an invalid host: letters, digits and hyphens only (no wildcards, escapes or "
            "other characters)"
        )
    return host
