"""The real application in process, over SQLite and PostgreSQL, driven through its HTTP API."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from tests.conftest import SQL_BACKENDS, migrated_backend


@dataclass
class Api:
    client: AsyncTestClient[Any]
    keyring: Keyring
    settings: Settings
    organisation_id: str
    api_key: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.api_key}"}

    async def post(self, path: str, body: object, key: str | None = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth(key))

    async def get(self, path: str, key: str | None = None) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(key))

    async def delete(self, path: str, key: str | None = None) -> httpx.Response:
        return await self.client.delete(path, headers=self.auth(key))

    @property
    def callback_path(self) -> str:
        """The path of this organisation's redirect URI."""
        return f"/oauth2/callback/{self.organisation_id}"

    @property
    def redirect_uri(self) -> str:
        return self.settings.public_url + self.callback_path

    async def new_organisation(self, name: str) -> tuple[str, str]:
        created = await create_organisation(self._storage, AesGcmSecretCipher(self.keyring))(name)
        return created.organisation.id, created.api_key

    _storage: Any = None


@pytest.fixture(params=SQL_BACKENDS)
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The real application on SQLite, and on PostgreSQL when it is available."""
    settings = Settings(database_url="unused://", public_url="https://connect.example.org")
    keyring = Keyring.parse(generate_key_spec())
    async with migrated_backend(request.param, tmp_path) as backend:
        created = await create_organisation(backend.storage, AesGcmSecretCipher(keyring))("Acme")
        app = create_app(settings, backend=backend, keyring=keyring)
        async with AsyncTestClient(app) as client:
            result = Api(client, keyring, settings, created.organisation.id, created.api_key)
            result._storage = backend.storage
            yield result
