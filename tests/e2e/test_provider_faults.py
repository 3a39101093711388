"""A token endpoint that fails in every way: a clear 502/504 within the timeout, nothing stored."""

import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from tests.conftest import migrated_backend
from tests.support.faulty_server import serve_faults


@pytest.fixture(scope="module")
def faults() -> Iterator[str]:
    with serve_faults() as base:
        yield base


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[AsyncTestClient[Any], dict[str, str], str]]:
    settings = Settings(database_url="unused://", token_timeout=timedelta(seconds=1))
    async with migrated_backend("sqlite", tmp_path) as backend:
        keyring = Keyring.parse(generate_key_spec())
        created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
        app = create_app(settings, backend=backend, keyring=keyring)
        async with AsyncTestClient(app) as test_client:
            yield (
                test_client,
                {"Authorization": f"Bearer {created.api_key}"},
                created.organisation.id,
            )


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/slow-headers", 504, "provider_timeout"),
        ("/trickle", 504, "provider_timeout"),
        ("/error500", 502, "provider_unavailable"),
        ("/html", 502, "provider_unavailable"),
        ("/bad-json", 502, "provider_unavailable"),
        ("/huge", 502, "provider_unavailable"),
        ("/redirect", 502, "provider_unavailable"),
    ],
)
async def test_each_fault_is_a_clear_error_in_time_and_stores_nothing(
    client: tuple[AsyncTestClient[Any], dict[str, str], str],
    faults: str,
    path: str,
    status: int,
    code: str,
) -> None:
    http, auth, org = client
    credential = (
        await http.post(
            "/credentials", json={"name": "c", "clientId": "cid", "clientSecret": "s"}, headers=auth
        )
    ).json()
    hub = (await http.post("/hubs", json={"name": "h"}, headers=auth)).json()
    connector = (
        await http.post(
            f"/hubs/{hub['id']}/connectors",
            json={"name": "p", "tokenUrl": f"{faults}{path}"},
            headers=auth,
        )
    ).json()
    url = (
        await http.post(
            f"/embed/{hub['id']}/connector/{connector['id']}/oauth2/initialise",
            json={
                "authorizeUrl": "https://p.example/authorize",
                "clientId": "cid",
                "credential": {"id": credential["id"], "organisationId": org},
            },
            headers=auth,
        )
    ).json()["url"]
    state = url.split("state=")[1].split("&")[0]
    started = time.monotonic()
    response = await http.post(
        f"/hubs/{hub['id']}/users/u-1/connections",
        json={"connectorId": connector["id"], "code": "any-code", "state": state},
        headers=auth,
    )
    assert time.monotonic() - started < 2.5  # the 1 s token timeout, with slack
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert set(response.json()) <= {"code", "message", "fields", "provider"}
    listed = await http.get(f"/hubs/{hub['id']}/users/u-1/connections", headers=auth)
    assert listed.json()["items"] == []
