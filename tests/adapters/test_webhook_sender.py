"""The webhook sender against real HTTP servers on loopback."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from adapters.webhook_sender import HttpxWebhookSender
from tests.support.webhook_receiver import Receiver, RunningReceiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = RunningReceiver()
    yield running.receiver
    running.stop()


async def test_a_delivery_is_one_post_with_its_headers_and_body(receiver: Receiver) -> None:
    sender = HttpxWebhookSender(timeout=5, allow_private_addresses=True)
    try:
        result = await sender.send(receiver.url, {"webhook-id": "evt-1"}, b'{"a": 1}')
    finally:
        await sender.close()
    assert result.status == 200
    assert result.excerpt == "thanks"
    (received,) = receiver.received
    assert received.body == b'{"a": 1}'
    assert received.headers["webhook-id"] == "evt-1"


async def test_a_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.delay = 2.0
    sender = HttpxWebhookSender(timeout=1, allow_private_addresses=True)
    try:
        result = await sender.send(receiver.url, {}, b"{}")
    finally:
        await sender.close()
    assert result.status is None
    assert result.error == "no answer within 1 s"


class _Redirecting(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.requests.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(307)
        self.send_header("Location", "/elsewhere")
        self.end_headers()
        self.wfile.write(b"x" * 5000)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_redirects_are_not_followed_and_only_an_excerpt_is_kept() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = HttpxWebhookSender(timeout=5, allow_private_addresses=True)
    try:
        result = await sender.send(f"http://127.0.0.1:{server.server_address[1]}/in", {}, b"{}")
    finally:
        await sender.close()
        server.shutdown()
    assert result.status == 307
    assert _Redirecting.requests == ["/in"]
    assert result.excerpt == "x" * 200


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/in", "https://10.0.0.1/in", "https://localhost/in", "http://a.example"],
)
async def test_in_production_local_and_private_addresses_are_refused(url: str) -> None:
    sender = HttpxWebhookSender(timeout=5, allow_private_addresses=False)
    try:
        refusal = await sender.refusal(url)
        result = await sender.send(url, {}, b"{}")
    finally:
        await sender.close()
    assert refusal is not None
    assert result.status is None
    assert result.error == f"the URL {refusal}"
