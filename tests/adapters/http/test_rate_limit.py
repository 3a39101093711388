"""Rate limiting per API key: 429 with Retry-After, per key, on the fast path too."""

from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.backends import open_backend
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.http.rate_limit import RateLimiter, TooManyRequests
from adapters.settings import Settings


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_refills_at_the_configured_rate() -> None:
    clock = Ticker()
    limiter = RateLimiter(per_minute=60, clock=clock)
    for _ in range(60):
        limiter.check(b"k")
    try:
        limiter.check(b"k")
    except TooManyRequests as exc:
        assert exc.headers == {"Retry-After": "1"}
    else:
        raise AssertionError("the 61st request within a second should be refused")
    limiter.check(b"other")  # another key has its own allowance
    clock.now = 1.0
    limiter.check(b"k")  # one request's worth came back


async def test_a_key_over_its_limit_gets_429_on_every_route_including_initialise() -> None:
    settings = Settings.from_env(
        {"EMBED_OAUTH_DATABASE_URL": "memory://", "EMBED_OAUTH_RATE_LIMIT_PER_MINUTE": "5"}
    )
    backend = open_backend("memory://")
    keyring = Keyring.parse(generate_key_spec())
    first = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("A")
    second = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("B")
    app = create_app(settings, backend=backend, keyring=keyring)
    headers = {"Authorization": f"Bearer {first.api_key}"}
    async with AsyncTestClient(app) as client:
        credential = await client.post(
            "/credentials",
            json={"name": "c", "clientId": "cid", "clientSecret": "s"},
            headers=headers,
        )
        hub = (await client.post("/hubs", json={"name": "h"}, headers=headers)).json()
        connector = (
            await client.post(
                f"/hubs/{hub['id']}/connectors",
                json={"name": "p", "tokenUrl": "https://p.example/t"},
                headers=headers,
            )
        ).json()
        body = {
            "authorizeUrl": "https://p.example/a",
            "clientId": "cid",
            "credential": {"id": credential.json()["id"], "organisationId": first.organisation.id},
        }
        path = f"/embed/{hub['id']}/connector/{connector['id']}/oauth2/initialise"
        statuses = [
            (await client.post(path, json=body, headers=headers)).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 429, 429]  # 3 allowed before: 5 in all
        limited = await client.get("/hubs", headers=headers)
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        other = await client.get("/hubs", headers={"Authorization": f"Bearer {second.api_key}"})
        assert other.status_code == 200
