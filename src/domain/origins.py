"""Web origins of the pages that embed the connect flow (the targets of ``postMessage``)."""

from urllib.parse import urlsplit

from domain.endpoint_url import is_loopback_host

MAX_ORIGIN_LENGTH = 512
_DEFAULT_PORTS = {"https": 443, "http": 80}


class InvalidOrigin(ValueError):
    pass


def normalise_origin(raw: str) -> str:
    """``https://App.example.com:443`` becomes ``https://app.example.com``, as browsers spell it.

    An origin is a scheme, a host and a port: no path, query, fragment or user-info. ``http``
    is allowed only for loopback hosts.
    """
    if not raw or len(raw) > MAX_ORIGIN_LENGTH or not raw.isascii() or " " in raw:
        raise InvalidOrigin("must be an origin such as https://app.example.com")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:  # an invalid port or IPv6 literal
        raise InvalidOrigin("has an invalid host or port") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidOrigin("must be an origin such as https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "#" in raw or "?" in raw:
        raise InvalidOrigin("must be an origin only: no path, query or fragment")
    if parts.username is not None or "@" in parts.netloc:
        raise InvalidOrigin("must not contain user-info")
    host = parts.hostname.lower()
    if scheme == "http" and not is_loopback_host(host):
        raise InvalidOrigin("must use https (http is allowed only for loopback hosts)")
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
