"""Configuration from the environment, and the embed-oauth command."""

import asyncio
import json
import os
import socket
import tomllib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from adapters import cli
from adapters.bootstrap import create_app
from adapters.composition.backends import open_backend
from adapters.composition.keys import load_keyring
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import DEFAULT_DATABASE_URL, Settings, SettingsError
from adapters.sql import schema
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from adapters.system import SecureRandom, SystemClock
from application.credentials import ManageCredentials, NewCredential
from application.organisations import AuthenticateApiKey
from tests.conftest import POSTGRES_URL, needs_postgres
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_documentation() -> None:
    settings = Settings.from_env({})
    assert (
        settings.database_url
        == DEFAULT_DATABASE_URL
        == "sqlite+aiosqlite:///./var/embed-oauth.sqlite3"
    )
    assert settings.callback_url == "http://127.0.0.1:8000/oauth2/callback"
    assert settings.state_lifetime.total_seconds() == 600
    assert settings.encryption_keys is None


def test_environment_overrides_and_trailing_slash_is_dropped() -> None:
    settings = Settings.from_env(
        {
            "EMBED_OAUTH_PUBLIC_URL": "https://connect.example.org/",
            "EMBED_OAUTH_STATE_LIFETIME_SECONDS": "120",
            "EMBED_OAUTH_DATABASE_URL": "memory://",
        }
    )
    assert settings.callback_url == "https://connect.example.org/oauth2/callback"
    assert settings.state_lifetime.total_seconds() == 120
    assert settings.database_url == "memory://"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EMBED_OAUTH_PUBLIC_URL", "connect.example.org"),
        ("EMBED_OAUTH_PUBLIC_URL", "https://x.example/?a=1"),
        ("EMBED_OAUTH_STATE_LIFETIME_SECONDS", "0"),
        ("EMBED_OAUTH_STATE_LIFETIME_SECONDS", "ten"),
        ("EMBED_OAUTH_MAX_BODY_BYTES", "-1"),
        ("EMBED_OAUTH_PUBLIC_URL", "https://user:pass@connect.example.org"),
        ("EMBED_OAUTH_WEBHOOK_RETRY_SECONDS", "5,,30"),
        ("EMBED_OAUTH_WEBHOOK_RETRY_SECONDS", "5,-1"),
        ("EMBED_OAUTH_WEBHOOK_TIMEOUT_SECONDS", "0"),
        ("EMBED_OAUTH_WEBHOOK_RETENTION_DAYS", "0"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_version_is_the_installed_packages(capsys: pytest.CaptureFixture[str]) -> None:
    """One place declares the version: pyproject.toml, read back from the package metadata
    (and so the same in the OpenAPI document)."""
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"embed-oauth {metadata.version('embed-oauth')}"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert metadata.version("embed-oauth") == declared


def test_help_documents_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "organisations", "db"):
        assert command in out
    for argv, words in (
        (["serve", "--help"], ("--host", "--port", "--workers")),
        (["organisations", "create", "--help"], ("--name",)),
        (["db", "--help"], ("upgrade",)),
    ):
        with pytest.raises(SystemExit):
            cli.main(argv)
        text = capsys.readouterr().out
        assert all(word in text for word in words)


def use_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", url)
    monkeypatch.setenv("EMBED_OAUTH_DEVELOPMENT_KEY_FILE", str(tmp_path / "keys"))
    return url


async def test_organisations_create_prints_one_json_line_and_the_key_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = use_sqlite(monkeypatch, tmp_path)
    settings = Settings.from_env({"EMBED_OAUTH_DATABASE_URL": url})
    created = await cli.new_organisation(settings, "Acme")
    assert set(created) == {"organisationId", "apiKey"}
    backend = open_backend(url)
    try:
        assert (
            await AuthenticateApiKey(
                backend.storage.api_keys, AesGcmSecretCipher(load_keyring(settings))
            )(created["apiKey"])
            == created["organisationId"]
        )
    finally:
        await backend.close()


def test_organisations_create_command_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_sqlite(monkeypatch, tmp_path)
    assert cli.main(["organisations", "create", "--name", "Acme"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert set(json.loads(lines[0])) == {"organisationId", "apiKey"}
    assert cli.main(["organisations", "create", "--name", " "]) == 1
    assert "name is required" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_sqlite(monkeypatch, tmp_path)
    assert cli.main(["db", "upgrade"]) == 0
    first = capsys.readouterr()
    lines = first.out.strip().splitlines()
    assert lines[0].startswith("Applied 0001: Organisations, API keys")
    assert lines[-1] == f"The database schema is up to date (revision {schema.head_revision()})."
    assert len(lines) == int(schema.head_revision()) + 1
    assert first.err == ""  # no migration-library chatter
    assert (tmp_path / "cli.sqlite3").exists()
    assert cli.main(["db", "upgrade"]) == 0
    again = capsys.readouterr()
    assert again.out.strip().splitlines() == [lines[-1]]  # nothing left to apply


def test_bad_configuration_is_a_clear_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMBED_OAUTH_PUBLIC_URL", "nope")
    assert cli.main(["db", "upgrade"]) == 1
    assert "EMBED_OAUTH_PUBLIC_URL" in capsys.readouterr().err


@needs_postgres
@pytest.mark.postgres
async def test_postgres_with_an_outdated_schema_refuses_to_start_naming_the_command(
    fresh_postgres_database: str,
) -> None:
    settings = Settings(database_url=fresh_postgres_database)
    with pytest.raises(cli.CommandError, match="embed-oauth db upgrade"):
        await cli.prepare_schema(settings)
    await cli.upgrade_database(settings)
    await cli.prepare_schema(settings)  # now at head: no error


async def test_sqlite_is_migrated_on_start(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'start.sqlite3'}"
    await cli.prepare_schema(Settings(database_url=url))
    engine = create_engine(url)
    try:
        assert await schema.current_revision(engine) == schema.head_revision()
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("postgresql://postgres@127.0.0.1/test", "postgresql+asyncpg://"),
        ("postgres://postgres@127.0.0.1/test", "postgresql+asyncpg://"),
        ("sqlite:///./var/x.sqlite3", "sqlite+aiosqlite:///"),
        ("mysql://root@127.0.0.1/test", "postgresql+asyncpg://"),
        ("./var/x.sqlite3", "sqlite+aiosqlite:///"),
    ],
)
def test_a_mistaken_database_url_names_the_variable_and_the_fix(url: str, fix: str) -> None:
    with pytest.raises(SettingsError, match="EMBED_OAUTH_DATABASE_URL") as refused:
        Settings.from_env({"EMBED_OAUTH_DATABASE_URL": url})
    assert fix in str(refused.value)
    assert "postgres@" not in str(refused.value)  # a URL's credentials are never echoed


@pytest.mark.parametrize("keys", ["nonsense", "k1:short", "k1:" + "A" * 43 + ",k1:" + "A" * 43])
def test_malformed_encryption_keys_stop_every_command_with_one_line(
    keys: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMBED_OAUTH_ENCRYPTION_KEYS", keys)
    assert cli.main(["db", "upgrade"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("embed-oauth: EMBED_OAUTH_ENCRYPTION_KEYS is not valid")
    assert len(error.strip().splitlines()) == 1
    assert "Traceback" not in error


def test_a_database_server_that_does_not_answer_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", nobody)
    assert cli.main(["db", "upgrade"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("embed-oauth: EMBED_OAUTH_DATABASE_URL: the database cannot be used")
    assert len(error.strip().splitlines()) == 1


@needs_postgres
@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = make_url(POSTGRES_URL).set(database="no_such_database_here")
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", missing.render_as_string(hide_password=False))
    assert cli.main(["db", "upgrade"]) == 1
    error = capsys.readouterr().err
    assert "EMBED_OAUTH_DATABASE_URL" in error
    assert "no_such_database_here" in error  # the server's own words: it does not exist
    assert len(error.strip().splitlines()) == 1


def test_serve_refuses_a_port_that_is_already_in_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 1
    error = capsys.readouterr().err
    assert f"Cannot listen on 127.0.0.1:{port}" in error
    assert not (tmp_path / "x.db").exists()  # refused before anything else happened


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "EMBED_OAUTH_ENCRYPTION_KEYS must be set in production"),
        ({"EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec()}, "must be an https URL"),
    ],
)
def test_production_refuses_to_start_without_keys_or_https(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    env: dict[str, str],
    says: str,
) -> None:
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("EMBED_OAUTH_ENVIRONMENT", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve", "--port", "1"]) == 1
    error = capsys.readouterr().err
    assert says in error
    assert len(error.strip().splitlines()) == 1
    with pytest.raises(SettingsError, match=says):
        create_app(Settings.from_env(os.environ))


async def test_serve_stops_naming_the_key_ids_that_stored_secrets_need(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    old = generate_key_spec(datetime(2025, 1, 1, tzinfo=UTC))
    engine = create_engine(url)
    await schema.upgrade(engine)
    storage = sql_storage(engine)
    cipher = AesGcmSecretCipher(Keyring.parse(old))
    created = await create_organisation(storage, cipher)("Acme")
    await ManageCredentials(storage.credentials, cipher, SystemClock(), SecureRandom()).create(
        created.organisation.id, NewCredential("c", "client", "secret")
    )
    await engine.dispose()
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", url)
    monkeypatch.setenv("EMBED_OAUTH_ENCRYPTION_KEYS", generate_key_spec())
    assert await asyncio.to_thread(cli.main, ["serve", "--port", str(free_port())]) == 1
    error = capsys.readouterr().err
    assert Keyring.parse(old).active_id in error
    assert "EMBED_OAUTH_ENCRYPTION_KEYS does not configure" in error
