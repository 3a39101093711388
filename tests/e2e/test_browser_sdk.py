"""The browser SDK in headless Chromium, from a page on another origin than the service:
the whole flow with a connect session and with a signed JWT (login and consent in the
popup at the tests' real authorization server), and the popup closed or consent denied."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.crypto.keyring import generate_key_spec
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, consent_in, needs_chromium
from tests.support.end_user_keys import claims, generate, sign
from tests.support.oauth_provider import Client, RunningProvider
from tests.support.processes import create_organisation, free_port, serving

pytestmark = [pytest.mark.slow, needs_chromium]

# The product's page: it imports the SDK from the service, and connects on a click.
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Product</title></head>
<body><button id="connect">Connect</button><pre id="result"></pre>
<script type="module">
import {{ EmbedOAuth }} from "{service}/sdk/embed-oauth.js";
const config = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const client = new EmbedOAuth({{ baseUrl: "{service}", token: config.token, hubId: config.hubId }});
document.getElementById("connect").addEventListener("click", () => {{
  client.connect(config.connect).then(
    async (connection) => {{
      const listed = await client.connections();
      document.getElementById("result").textContent = JSON.stringify({{ connection, listed }});
    }},
    (e) => {{
      document.getElementById("result").textContent = JSON.stringify(
        {{ code: e.code, name: e.name, error: e.error, errorDescription: e.errorDescription }});
    }});
}});
</script></body></html>"""


class _Page(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Product:
    """The service, the provider, an organisation with a hub that allows the product's page,
    and that page, served from another origin (``localhost`` on its own port)."""

    service: str
    page_url: str
    api: httpx.Client
    provider: RunningProvider
    oauth_client: Client
    organisation_id: str
    ids: dict[str, str]

    def connect_options(self) -> dict[str, Any]:
        return {
            "connectorId": self.ids["connector"],
            "authorizeUrl": self.provider.provider.authorize_url,
            "clientId": self.oauth_client.client_id,
            "credential": {"id": self.ids["credential"], "organisationId": self.organisation_id},
            "scopes": ["contacts.read"],
        }

    def session_token(self, user: str) -> str:
        response = self.api.post(
            "/connect-sessions", json={"hubId": self.ids["hub"], "userId": user}
        )
        response.raise_for_status()
        return str(response.json()["token"])

    def jwt(self, user: str) -> str:
        key = generate("ec")
        registered = self.api.post(
            "/signing-keys", json={"name": "product", "publicKey": key.public_pem}
        )
        registered.raise_for_status()
        return sign(key, registered.json()["id"], claims(user, self.ids["hub"], self.service))


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    provider = RunningProvider()
    port = free_port()
    service = f"http://127.0.0.1:{port}"
    page_server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    page_origin = f"http://localhost:{page_server.server_address[1]}"
    _Page.body = _PAGE.format(service=service).encode()
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sdk.sqlite3'}",
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": service,
    }
    try:
        with serving(env, port):
            org = create_organisation(env)
            oauth_client = provider.provider.register(
                f"{service}/oauth2/callback/{org['organisationId']}"
            )
            headers = {"Authorization": f"Bearer {org['apiKey']}"}
            with httpx.Client(base_url=service, headers=headers) as api:
                credential = api.post(
                    "/credentials",
                    json={
                        "name": "Test provider",
                        "clientId": oauth_client.client_id,
                        "clientSecret": oauth_client.client_secret,
                    },
                ).json()
                hub = api.post(
                    "/hubs", json={"name": "Product", "allowedOrigins": [page_origin]}
                ).json()
                connector = api.post(
                    f"/hubs/{hub['id']}/connectors",
                    json={"name": "Test provider", "tokenUrl": provider.provider.token_url},
                ).json()
                yield Product(
                    service,
                    f"{page_origin}/product",
                    api,
                    provider,
                    oauth_client,
                    org["organisationId"],
                    {
                        "credential": credential["id"],
                        "hub": hub["id"],
                        "connector": connector["id"],
                    },
                )
    finally:
        page_server.shutdown()
        provider.stop()


def run_in_browser(
    product: Product, token: str, in_popup: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Open the product's page, click Connect (with ``options``, by default the product's
    connector's), then in the popup: ``allow``, ``deny`` or ``close``. Returns what the page
    shows."""
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415  (needs Chromium)

    connect = options or product.connect_options()
    config = {"token": token, "hubId": product.ids["hub"], "connect": connect}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{product.page_url}#{json.dumps(config)}")
            expect(page.locator("#connect")).to_be_visible()
            page.wait_for_load_state("networkidle")
            with page.expect_popup() as popup_info:
                page.click("#connect")
            popup = popup_info.value
            if in_popup == "close":
                popup.wait_for_selector("#username")
                popup.close()
            else:
                consent_in(popup, in_popup)
            expect(page.locator("#result")).not_to_be_empty(timeout=15_000)
            return dict(json.loads(page.text_content("#result") or "{}"))
        finally:
            browser.close()


@pytest.mark.parametrize("token_kind", ["connect session", "signed JWT"])
def test_the_sdk_connects_from_another_origin(product: Product, token_kind: str) -> None:
    user = f"user-{token_kind.rsplit(maxsplit=1)[-1].lower()}"
    token = product.session_token(user) if token_kind == "connect session" else product.jwt(user)
    shown = run_in_browser(product, token, "allow")
    connection = shown["connection"]
    assert connection["userId"] == user
    assert connection["status"] == "active"
    assert connection["scopes"] == ["contacts.read", "offline_access"]
    assert [c["id"] for c in shown["listed"]] == [connection["id"]]
    stored = product.api.get(f"/connections/{connection['id']}").json()
    assert stored == connection
    token_answer = product.api.post(f"/connections/{connection['id']}/access-token")
    assert token_answer.json()["accessToken"] in product.provider.provider.tokens


def test_callback_parameters_and_the_connectors_authorize_url_through_a_real_browser(
    product: Product,
) -> None:
    """A connector that keeps the callback's realmId and has its own authorize URL: the
    page gives no authorizeUrl (the SDK reads the connector's), the provider adds realmId
    to its redirect, and the callback page and the SDK carry it to the connection."""
    provider = product.provider.provider
    connector = product.api.post(
        f"/hubs/{product.ids['hub']}/connectors",
        json={
            "name": "Books",
            "tokenUrl": provider.token_url,
            "authorizeUrl": provider.authorize_url,
            "callbackParams": ["realmId"],
        },
    )
    assert connector.status_code == 201, connector.text
    options = {**product.connect_options(), "connectorId": connector.json()["id"]}
    del options["authorizeUrl"]
    provider.callback_extra = {"realmId": "4620816365"}
    try:
        shown = run_in_browser(product, product.session_token("u-books"), "allow", options)
    finally:
        provider.callback_extra = {}
    assert shown["connection"]["metadata"] == {"realmId": "4620816365"}
    assert shown["connection"]["connectorId"] == connector.json()["id"]


def test_closing_the_popup_rejects_with_cancelled(product: Product) -> None:
    shown = run_in_browser(product, product.session_token("u-closed"), "close")
    assert shown == {"code": "cancelled", "name": "EmbedOAuthError"}
    listed = product.api.get(f"/hubs/{product.ids['hub']}/users/u-closed/connections").json()
    assert listed["items"] == []


def test_a_denial_at_the_provider_rejects_with_provider_error(product: Product) -> None:
    shown = run_in_browser(product, product.session_token("u-denied"), "deny")
    assert shown["code"] == "provider_error"
    assert shown["error"] == "access_denied"
    listed = product.api.get(f"/hubs/{product.ids['hub']}/users/u-denied/connections").json()
    assert listed["items"] == []
