"""The one rule for every URL this service calls on its own (token endpoints, webhooks):
in production, https only, and only hosts that resolve to public addresses, so that a
connector or webhook cannot aim the service at its own network."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


async def private_address_refusal(url: str) -> str | None:
    """Why ``url`` may not be called, or ``None`` when every address its host resolves to
    is public."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if parts.scheme != "https" or not host:
        return "must use https"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError:
            return "has a host that does not resolve"
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses or not all(address.is_global for address in addresses):
        return (
            "points at a private or local network address, which this service does not call "
            "(see EMBED_OAUTH_ALLOW_LOCAL_PROVIDERS)"
        )
    return None
