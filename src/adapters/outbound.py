"""The one rule for every URL this service calls on its own (token endpoints, webhooks):
in production, https only, and only hosts that resolve to public addresses, so that a
connector or webhook cannot aim the service at its own network.

The host is resolved once, every address is checked (IPv6 forms that carry an IPv4 address
are checked by the IPv4 address they carry), and the request then goes to the checked
address, with the original name in ``Host`` and in TLS (SNI and certificate check): a DNS
answer that changes between the check and the connection (rebinding) changes nothing.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: where it sits varies
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_REFUSED = (
    "points at a private or local network address, which this service does not call "
    "(see EMBED_OAUTH_ALLOW_LOCAL_PROVIDERS)"
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, 6to4, Teredo, NAT64 and
    IPv4-compatible forms."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        if not all(v4.is_global for v4 in embedded_ipv4(address)):
            return False
    return address.is_global


@dataclass(frozen=True, slots=True)
class Target:
    """Where a checked request goes: ``url`` names the checked address; ``host`` is the
    original ``Host`` header value, ``server_name`` the name TLS must verify."""

    url: str
    host: str
    server_name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.host}

    @property
    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.server_name}


class Refused(Exception):
    """The URL may not be called; the message says why, as the end of a sentence."""


async def public_target(url: str) -> Target:
    """Resolve and check ``url``'s host; the request must then be sent to the ``Target``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if parts.scheme != "https" or not host:
        raise Refused("must use https")
    port = parts.port or 443
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise Refused("has a host that does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses or not all(is_public(address) for address in addresses):
        raise Refused(_REFUSED)
    chosen = addresses[0]
    literal = f"[{chosen}]" if isinstance(chosen, ipaddress.IPv6Address) else str(chosen)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return Target(
        url=urlunsplit(parts._replace(netloc=netloc)),
        host=parts.netloc.rpartition("@")[2],
        server_name=host,
    )


async def private_address_refusal(url: str) -> str | None:
    """Why ``url`` may not be called, or ``None``."""
    try:
        await public_target(url)
    except Refused as exc:
        return str(exc)
    return None
