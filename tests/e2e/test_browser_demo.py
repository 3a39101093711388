"""The demo page in headless Chromium: popup, login at a real provider, the message back, and
the connection created, against `embed-oauth serve` as a real process."""

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from adapters.crypto.keyring import generate_key_spec
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, consent_in, needs_chromium
from tests.support.oauth_provider import RunningProvider
from tests.support.processes import create_organisation, free_port, serving

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = RunningProvider()
    yield running
    running.stop()


def test_demo_page_walks_through_the_whole_flow(tmp_path: Path, provider: RunningProvider) -> None:
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415  (needs Chromium)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}",
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": base,
    }
    with serving(env, port):
        org = create_organisation(env)
        oauth_client = provider.provider.register(f"{base}/oauth2/callback/{org['organisationId']}")
        headers = {"Authorization": f"Bearer {org['apiKey']}"}
        with httpx.Client(base_url=base, headers=headers) as api:
            api.post(
                "/credentials",
                json={
                    "name": "Test provider",
                    "clientId": oauth_client.client_id,
                    "clientSecret": oauth_client.client_secret,
                },
            ).raise_for_status()
            hub = api.post("/hubs", json={"name": "Demo", "allowedOrigins": [base]}).json()
            api.post(
                f"/hubs/{hub['id']}/connectors",
                json={"name": "Test provider", "tokenUrl": provider.provider.token_url},
            ).raise_for_status()

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = browser.new_page()
                    page.goto(f"{base}/demo")
                    page.fill("#api-key", org["apiKey"])
                    page.click("#load")
                    # Locator waits: the page's CSP rightly forbids evaluating strings.
                    expect(page.locator("#status")).to_have_text(re.compile("^Loaded"))
                    assert page.is_hidden("#origin-warning")
                    page.fill("#authorize-url", "ftp://provider.example/authorize")
                    page.click("#connect")
                    expect(page.locator("#fields")).to_contain_text("authorizeUrl")
                    expect(page.locator("#status")).to_contain_text("invalid_input")
                    page.fill("#authorize-url", provider.provider.authorize_url)
                    page.fill("#scopes", "contacts.read")
                    page.fill("#user-id", "browser-user")
                    with page.expect_popup() as popup_info:
                        page.click("#connect")
                    consent_in(popup_info.value)
                    expect(page.locator("#status")).to_have_text("Connected.", timeout=15_000)
                    shown = json.loads(page.text_content("#result") or "{}")
                    page.click("#access-token")
                    expect(page.locator("#status")).to_have_text("Fresh access token.")
                    token = json.loads(page.text_content("#result") or "{}")
                finally:
                    browser.close()

            assert shown["status"] == "active"
            assert shown["userId"] == "browser-user"
            assert shown["scopes"] == ["contacts.read", "offline_access"]
            stored = api.get(f"/connections/{shown['id']}").json()
            assert stored == shown
            assert token["accessToken"] in provider.provider.tokens


def test_the_dev_providers_link_opens_a_demo_ready_to_connect(tmp_path: Path) -> None:
    """The README's first steps: `make run`, then `embed-oauth dev-provider`, then the link."""
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415  (needs Chromium)

    port, provider_port = free_port(), free_port()
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dev.sqlite3'}",
        "EMBED_OAUTH_DEVELOPMENT_KEY_FILE": str(tmp_path / "keys"),
        "EMBED_OAUTH_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with serving(env, port) as base, dev_provider(env, provider_port) as printed:
        link = printed["Open the demo"]
        assert link.startswith(f"{base}/demo#")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                page.goto(link)
                expect(page.locator("#status")).to_have_text(re.compile("^Loaded"))
                assert page.url == f"{base}/demo"  # the key left the address bar
                with page.expect_popup() as popup_info:
                    page.click("#connect")
                consent_in(popup_info.value)
                expect(page.locator("#status")).to_have_text("Connected.", timeout=15_000)
                shown = json.loads(page.text_content("#result") or "{}")
            finally:
                browser.close()
        assert shown["userId"] == "demo-user"
        assert shown["status"] == "active"
        headers = {"Authorization": f"Bearer {printed['API key']}"}
        token = httpx.post(f"{base}/connections/{shown['id']}/access-token", headers=headers)
        assert token.status_code == 200, token.text
    with dev_provider(env, provider_port) as again:  # a second run reuses what the first made
        assert again["API key"] == printed["API key"]
        assert again["Open the demo"] == link
    assert (tmp_path / "dev-provider.json").stat().st_mode & 0o777 == 0o600


@contextmanager
def dev_provider(env: dict[str, str], port: int) -> Iterator[dict[str, str]]:
    """`embed-oauth dev-provider` as a process; yields what it printed, by label."""
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "dev-provider", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    printed: dict[str, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.strip().partition(": ")
            printed[label] = value
            if label == "Open the demo":
                break
        assert "Open the demo" in printed, printed
        yield printed
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
