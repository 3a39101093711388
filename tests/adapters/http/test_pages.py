"""The HTML pages: the callback's headers and escaping, and the demo's availability."""

import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.settings import Settings
from tests.adapters.http.conftest import Api


async def test_callback_page_cannot_be_cached_framed_or_leak_the_code(api: Api) -> None:
    response = await api.client.get(api.callback_path, params={"state": "x", "code": "c"})
    assert response.status_code == 400
    headers = response.headers
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce
    assert f'nonce="{nonce.group(1)}"' in response.text
    assert "window.opener.postMessage(result.message, origin)" in response.text
    assert "'*'" not in response.text
    assert '"*"' not in response.text


async def test_hostile_query_values_cannot_break_out_of_the_page(api: Api) -> None:
    hostile = "</script><script>alert(1)</script>"
    response = await api.client.get(
        api.callback_path, params={"error": hostile, "error_description": hostile}
    )
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text


async def test_the_callback_without_an_organisation_is_a_clear_404_page(api: Api) -> None:
    response = await api.client.get("/oauth2/callback", params={"state": "s", "code": "c"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "names no organisation" in response.text
    assert "GET /organisation" in response.text


async def test_callback_without_state_is_a_clear_400_page(api: Api) -> None:
    response = await api.client.get(api.callback_path)
    assert response.status_code == 400
    assert "no state" in response.text


@pytest.mark.parametrize(("environment", "status"), [("development", 200), ("production", 404)])
async def test_demo_is_on_in_development_and_off_in_production(
    tmp_path: Path, environment: str, status: int
) -> None:
    keys = generate_key_spec()
    settings = Settings.from_env(
        {
            "EMBED_OAUTH_DATABASE_URL": "memory://",
            "EMBED_OAUTH_ENVIRONMENT": environment,
            "EMBED_OAUTH_ENCRYPTION_KEYS": keys,
            "EMBED_OAUTH_PUBLIC_URL": "https://connect.example.org",
        }
    )
    app = create_app(settings, keyring=Keyring.parse(keys))
    async with AsyncTestClient(app) as client:
        response = await client.get("/demo")
    assert response.status_code == status
    if status == 200:
        assert "connect-src 'self'" in response.headers["content-security-policy"]
        assert 'id="connect"' in response.text


def test_demo_can_be_switched_explicitly() -> None:
    assert Settings.from_env(
        {"EMBED_OAUTH_ENVIRONMENT": "production", "EMBED_OAUTH_DEMO": "on"}
    ).demo
    assert not Settings.from_env({"EMBED_OAUTH_DEMO": "off"}).demo


async def test_the_sdk_is_served_as_the_module_its_tests_cover(api: Api) -> None:
    response = await api.client.get("/sdk/embed-oauth.js", headers={"Origin": "https://a.example"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    source = Path(__file__).parents[3] / "sdk" / "js" / "embed-oauth.js"
    assert response.content == source.read_bytes()
    assert b"export class EmbedOAuth " in response.content


async def test_a_callback_query_that_fails_validation_gets_the_html_page(api: Api) -> None:
    response = await api.client.get(api.callback_path, params={"state": "s" * 5000, "code": "c"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "a value is too long" in response.text
