"""EMBED_OAUTH_ALLOW_LOCAL_PROVIDERS: https only and no private addresses, in production."""

import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.backends import open_backend
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from adapters.token_client import HttpxTokenEndpoint
from application.errors import ProviderUnavailable
from application.ports.provider import TokenRequest
from domain.endpoint_url import InvalidEndpointUrl, parse_endpoint_url
from domain.model import TokenAuthMethod


def test_the_setting_is_on_in_development_and_off_in_production() -> None:
    assert Settings.from_env({}).allow_local_providers
    assert not Settings.from_env({"EMBED_OAUTH_ENVIRONMENT": "production"}).allow_local_providers
    assert Settings.from_env(
        {"EMBED_OAUTH_ENVIRONMENT": "production", "EMBED_OAUTH_ALLOW_LOCAL_PROVIDERS": "on"}
    ).allow_local_providers


def test_loopback_http_is_refused_when_local_providers_are_not_allowed() -> None:
    assert parse_endpoint_url("http://localhost:9000/auth", True).host == "localhost"
    with pytest.raises(InvalidEndpointUrl, match="https"):
        parse_endpoint_url("http://localhost:9000/auth", False)
    assert parse_endpoint_url("https://provider.example.com/auth", False)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://provider.example.com/token", "https"),
        ("https://127.0.0.1:9/token", "private or local"),
        ("https://[::1]:9/token", "private or local"),
        ("https://10.1.2.3/token", "private or local"),
        ("https://192.168.0.10/token", "private or local"),
        ("https://169.254.169.254/latest/meta-data", "private or local"),
        ("https://localhost:9/token", "private or local"),
    ],
)
async def test_the_token_client_refuses_local_addresses_before_connecting(
    url: str, words: str
) -> None:
    client = HttpxTokenEndpoint(allow_private_addresses=False, total_timeout=2)
    try:
        with pytest.raises(ProviderUnavailable, match=words):
            await client.request(
                TokenRequest(
                    url, TokenAuthMethod.CLIENT_SECRET_POST, "c", "s", (("grant_type", "x"),)
                )
            )
    finally:
        await client.close()


async def test_production_refuses_local_provider_urls_over_http() -> None:
    keys = generate_key_spec()
    settings = Settings.from_env(
        {
            "EMBED_OAUTH_DATABASE_URL": "memory://",
            "EMBED_OAUTH_ENVIRONMENT": "production",
            "EMBED_OAUTH_ENCRYPTION_KEYS": keys,
            "EMBED_OAUTH_PUBLIC_URL": "https://connect.example.org",
        }
    )
    backend = open_backend("memory://")
    keyring = Keyring.parse(keys)
    created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
    app = create_app(settings, backend=backend, keyring=keyring)
    headers = {"Authorization": f"Bearer {created.api_key}"}
    async with AsyncTestClient(app) as client:
        loopback = await client.post(
            "/hubs",
            json={"name": "h", "allowedOrigins": ["http://localhost:3000"]},
            headers=headers,
        )
        assert loopback.status_code == 400
        assert "in development" in loopback.text
        hub = (await client.post("/hubs", json={"name": "h"}, headers=headers)).json()
        refused = await client.post(
            f"/hubs/{hub['id']}/connectors",
            json={"name": "p", "tokenUrl": "http://127.0.0.1:9000/token"},
            headers=headers,
        )
        assert refused.status_code == 400
        assert refused.json()["fields"][0]["field"] == "tokenUrl"
        connector = await client.post(
            f"/hubs/{hub['id']}/connectors",
            json={"name": "p", "tokenUrl": "https://provider.example.com/token"},
            headers=headers,
        )
        credential = await client.post(
            "/credentials",
            json={"name": "c", "clientId": "cid", "clientSecret": "s"},
            headers=headers,
        )
        initialise = await client.post(
            f"/embed/{hub['id']}/connector/{connector.json()['id']}/oauth2/initialise",
            json={
                "authorizeUrl": "http://localhost:9000/authorize",
                "clientId": "cid",
                "credential": {
                    "id": credential.json()["id"],
                    "organisationId": created.organisation.id,
                },
            },
            headers=headers,
        )
        assert initialise.status_code == 400
        assert initialise.json()["fields"][0]["field"] == "authorizeUrl"
