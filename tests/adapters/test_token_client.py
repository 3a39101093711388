"""The token-endpoint client against a real HTTP server on loopback that misbehaves on purpose."""

import base64
import time
from collections.abc import Iterator
from urllib.parse import unquote_plus

import pytest

from adapters.token_client import HttpxTokenEndpoint, basic_authorization
from application.errors import ProviderRejected, ProviderTimeout, ProviderUnavailable
from application.ports.provider import TokenRequest
from application.token_grants import obtain_tokens
from domain.model import Connector, TokenAuthMethod
from domain.scopes import ScopeSeparator
from tests.fakes import FixedClock
from tests.support.faulty_server import serve_faults
from tests.support.processes import free_port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_faults() as base:
        yield base


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
        tokens, _ = await obtain_tokens(
            client,
            request(url, method),
            requested_scopes=("a",),
            connector=Connector(
                "c", "h", "c", url, ScopeSeparator.SPACE, True, method, FixedClock().now()
            ),
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
