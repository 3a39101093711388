"""The one outbound rule: embedded IPv4 addresses are checked, and a checked request goes
to the address that was checked, whatever DNS answers next."""

import asyncio
import socket
from typing import Any

import httpx
import pytest

from adapters.outbound import Refused, public_target
from adapters.token_client import HttpxTokenEndpoint
from adapters.webhook_sender import HttpxWebhookSender
from application.ports.provider import TokenRequest
from domain.model import TokenAuthMethod

PUBLIC_V4 = "93.184.216.34"


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:10.0.0.1]",
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo, client 192.0.2.45
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of the metadata address
        "[64:ff9b:1::1]",  # local-use NAT64
        "[::127.0.0.1]",  # IPv4-compatible
        "[::a00:1]",
    ],
)
async def test_ipv6_forms_carrying_a_private_ipv4_address_are_refused(host: str) -> None:
    with pytest.raises(Refused, match="private or local"):
        await public_target(f"https://{host}/token")


async def test_ipv6_forms_carrying_a_public_ipv4_address_pass() -> None:
    target = await public_target("https://[64:ff9b::5db8:d822]:8443/token?x=1")
    assert target.url == "https://[64:ff9b::5db8:d822]:8443/token?x=1"


class FlippingResolver:
    """Answers a public address first, then a private one: DNS rebinding."""

    def __init__(self) -> None:
        self.calls = 0

    async def getaddrinfo(self, host: str, port: int, **_: Any) -> list[Any]:
        self.calls += 1
        address = PUBLIC_V4 if self.calls == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.fixture
async def rebinding(monkeypatch: pytest.MonkeyPatch) -> FlippingResolver:
    resolver = FlippingResolver()
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolver.getaddrinfo)
    return resolver


async def test_a_checked_target_names_the_checked_address_and_keeps_the_name(
    rebinding: FlippingResolver,
) -> None:
    target = await public_target("https://provider.example.com/oauth/token?a=1")
    assert target.url == f"https://{PUBLIC_V4}/oauth/token?a=1"
    assert target.headers == {"Host": "provider.example.com"}
    assert target.extensions == {"sni_hostname": "provider.example.com"}


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer


async def test_the_token_client_connects_to_the_address_it_checked(
    rebinding: FlippingResolver,
) -> None:
    transport = Recorder(httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"}))
    client = HttpxTokenEndpoint(allow_private_addresses=False, transport=transport)
    try:
        await client.request(
            TokenRequest(
                "https://provider.example.com/token",
                TokenAuthMethod.CLIENT_SECRET_POST,
                "c",
                "s",
                (("grant_type", "refresh_token"),),
            )
        )
    finally:
        await client.close()
    (sent,) = transport.requests
    assert sent.url.host == PUBLIC_V4
    assert sent.headers["host"] == "provider.example.com"
    assert sent.extensions["sni_hostname"] == "provider.example.com"
    assert rebinding.calls == 1  # resolved once: the private second answer was never used


async def test_the_webhook_sender_connects_to_the_address_it_checked(
    rebinding: FlippingResolver,
) -> None:
    transport = Recorder(httpx.Response(204))
    sender = HttpxWebhookSender(timeout=5, allow_private_addresses=False, transport=transport)
    try:
        result = await sender.send("https://hooks.example.com:8443/in", {"webhook-id": "e"}, b"{}")
    finally:
        await sender.close()
    assert result.status == 204
    (sent,) = transport.requests
    assert str(sent.url) == f"https://{PUBLIC_V4}:8443/in"
    assert sent.headers["host"] == "hooks.example.com:8443"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"
    assert rebinding.calls == 1
