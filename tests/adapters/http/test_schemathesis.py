"""schemathesis over the app's own OpenAPI schema, every operation, a bounded number of
examples: no 5xx, every status and content type documented, every body as documented (so
every error in our error shape)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.bootstrap import create_app
from adapters.composition.backends import Backend
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from adapters.sql import schema as migrations
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """The real app on SQLite, with an organisation and a hub, credential and connector, so
    that generated requests reach past the ownership checks now and then."""
    path: Path = tmp_path_factory.mktemp("schemathesis") / "st.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")

    keyring = Keyring.parse(generate_key_spec())

    async def prepare() -> str:
        await migrations.upgrade(engine)
        created = await create_organisation(sql_storage(engine), AesGcmSecretCipher(keyring))(
            "Fuzz"
        )
        return created.api_key

    key = asyncio.run(prepare())
    app = create_app(
        Settings(database_url="unused://"),
        backend=Backend(sql_storage(engine)),
        keyring=keyring,
    )
    return app, key


def test_every_operation_answers_as_documented(api: tuple[Any, str]) -> None:
    """One bounded hypothesis run per operation (schemathesis's own pytest plugin does not
    run under this pytest), with the checks above."""
    app, key = api
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    tested = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the schema has an invalid operation: {result.err()}")
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

        check()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 20, tested
