"""The token-endpoint client against a real HTTP server on loopback that misbehaves on purpose."""

import base64
import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote_plus

import pytest

from adapters.token_client import HttpxTokenEndpoint, basic_authorization
from application.errors import ProviderRejected, ProviderTimeout, ProviderUnavailable
from application.ports import TokenRequest
from application.token_grants import obtain_tokens
from domain.model import TokenAuthMethod
from domain.scopes import ScopeSeparator
from tests.fakes import FixedClock
from tests.support.processes import free_port


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return None

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        path = self.path
        if path == "/ok":
            echo = {
                "access_token": "token-1",
                "token_type": "Bearer",
                "expires_in": 3600,
                "seen_authorization": self.headers.get("Authorization"),
                "seen_accept": self.headers.get("Accept"),
                "seen_content_type": self.headers.get("Content-Type"),
                "seen_form": form,
            }
            self._send(200, json.dumps(echo).encode())
        elif path == "/slow-headers":
            time.sleep(3)
            self._send(200, b"{}")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        elif path == "/error500":
            self._send(500, b"<html><body>Internal error</body></html>", "text/html")
        elif path == "/html":
            self._send(200, b"<html><body>Sign in</body></html>", "text/html")
        elif path == "/huge":
            self._send(200, b'{"access_token": "' + b"a" * 600_000 + b'"}')
        elif path == "/bad-json":
            self._send(200, b'{"access_token": ')
        elif path == "/redirect":
            self._send(302, b"", Location="/ok")
        elif path == "/gzip":
            body = gzip.compress(json.dumps({"access_token": "zipped"}).encode())
            self._send(200, body, Content_Encoding="gzip")
        elif path == "/invalid-grant":
            self._send(400, b'{"error": "invalid_grant", "error_description": "Code expired"}')
        elif path == "/error-with-200":
            self._send(200, b'{"error": "bad_verification_code"}')
        else:
            self._send(404, b"{}")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up on the slow answers is what those tests expect."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def request(
    url: str, method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC
) -> TokenRequest:
    return TokenRequest(
        token_url=url,
        auth_method=method,
        client_id="client:id with space",
        client_secret="sécret/+&",
        form=(("grant_type", "authorization_code"), ("code", "abc")),
    )


async def fetch(url: str, method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC) -> object:
    client = HttpxTokenEndpoint(total_timeout=1.0, connect_timeout=1.0)
    try:
        tokens = await obtain_tokens(
            client,
            request(url, method),
            requested_scopes=("a",),
            separator=ScopeSeparator.SPACE,
            now=FixedClock().now(),
        )
    finally:
        await client.close()
    return tokens


async def test_basic_authentication_form_encodes_id_and_secret(server: str) -> None:
    client = HttpxTokenEndpoint()
    try:
        answer = await client.request(request(f"{server}/ok"))
    finally:
        await client.close()
    assert answer.status == 200
    assert isinstance(answer.body, dict)
    header = answer.body["seen_authorization"]
    user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    assert (unquote_plus(user), unquote_plus(password)) == ("client:id with space", "sécret/+&")
    assert ":" not in user  # the colon inside the id is encoded, so the pair splits correctly
    assert answer.body["seen_accept"] == "application/json"
    assert answer.body["seen_content_type"] == "application/x-www-form-urlencoded"
    assert answer.body["seen_form"] == {"grant_type": "authorization_code", "code": "abc"}


async def test_post_authentication_sends_credentials_in_the_form(server: str) -> None:
    client = HttpxTokenEndpoint()
    try:
        answer = await client.request(request(f"{server}/ok", TokenAuthMethod.CLIENT_SECRET_POST))
    finally:
        await client.close()
    assert isinstance(answer.body, dict)
    assert answer.body["seen_authorization"] is None
    assert answer.body["seen_form"]["client_id"] == "client:id with space"
    assert answer.body["seen_form"]["client_secret"] == "sécret/+&"


def test_basic_authorization_matches_rfc_6749_encoding() -> None:
    assert basic_authorization("a b", "c:d") == "Basic " + base64.b64encode(b"a+b:c%3Ad").decode()


@pytest.mark.parametrize("path", ["/slow-headers", "/trickle"])
async def test_slow_answers_time_out_within_the_total_timeout(server: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        await fetch(f"{server}{path}")
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/error500", "HTTP 500"),
        ("/html", "not a JSON object"),
        ("/bad-json", "not a JSON object"),
        ("/huge", "larger than"),
        ("/redirect", "HTTP 302"),
    ],
)
async def test_failures_are_provider_unavailable_with_a_reason(
    server: str, path: str, words: str
) -> None:
    with pytest.raises(ProviderUnavailable, match=words):
        await fetch(f"{server}{path}")


async def test_unreachable_endpoint_is_provider_unavailable() -> None:
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        await fetch(f"http://127.0.0.1:{free_port()}/token")


async def test_compressed_answers_are_read(server: str) -> None:
    tokens = await fetch(f"{server}/gzip")
    assert getattr(tokens, "access_token", None) == "zipped"


@pytest.mark.parametrize("path", ["/invalid-grant", "/error-with-200"])
async def test_rfc_6749_errors_are_rejections_carrying_the_providers_words(
    server: str, path: str
) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await fetch(f"{server}{path}")
    assert caught.value.provider_error in ("invalid_grant", "bad_verification_code")
