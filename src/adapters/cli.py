"""The ``embed-oauth`` command."""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

from granian import Granian
from granian.constants import Interfaces
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.composition.backends import open_backend
from adapters.composition.dev_setup import DevSetup, set_up
from adapters.composition.keys import load_keyring
from adapters.composition.services import create_organisation, manage_api_keys
from adapters.crypto.keyring import Keyring, add_development_key, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.observability import JsonFormatter, configure_logging
from adapters.settings import MEMORY_DATABASE_URL, Settings, SettingsError, production_refusal
from adapters.sql import schema
from adapters.sql.engine import create_engine, is_sqlite
from adapters.sql.errors import translated
from adapters.version import VERSION
from application.errors import StorageUnavailable
from application.key_rotation import MissingKeys, RotateEncryptionKeys
from application.ports.storage import Storage
from domain.errors import DomainError

log = logging.getLogger("embed_oauth.cli")


class CommandError(Exception):
    """Ends the command with this message and exit status 1."""


async def prepare_schema(settings: Settings) -> None:
    """SQLite is migrated on start; any other database must already be at the latest schema,
    so that several instances never race to migrate a shared database."""
    if settings.database_url == MEMORY_DATABASE_URL:
        return
    engine = create_engine(settings.database_url)
    try:
        with translated():
            await _check_schema(engine, settings)
    finally:
        await engine.dispose()


async def _check_schema(engine: AsyncEngine, settings: Settings) -> None:
    if is_sqlite(settings.database_url):
        try:
            await schema.upgrade(engine, keys=partial(migration_keys, settings))
        except schema.MigrationRefused as exc:
            raise CommandError(str(exc)) from None
        return
    current, head = await schema.current_revision(engine), schema.head_revision()
    if current != head:
        raise CommandError(
            f"The database schema is at revision {current or 'none'}, this version needs "
            f"{head}. Run `embed-oauth db upgrade` first."
        )


def migration_keys(settings: Settings) -> AesGcmSecretCipher | None:
    """The keys the service will read with, for a migration that seals stored rows: the
    configured ones, else (outside production) the development key file, as `serve` uses."""
    if settings.is_production and not settings.encryption_keys:
        return None
    return AesGcmSecretCipher(load_keyring(settings))


async def upgrade_database(settings: Settings) -> list[str]:
    if settings.database_url == MEMORY_DATABASE_URL:
        raise CommandError("The in-memory backend has no schema to upgrade.")
    engine = create_engine(settings.database_url)
    try:
        with translated():
            return await schema.upgrade(engine, keys=partial(migration_keys, settings))
    except schema.MigrationRefused as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def stored(settings: Settings) -> AsyncIterator[Storage]:
    """The database at the latest schema (SQLite is migrated, others checked), for one command."""
    await prepare_schema(settings)
    backend = open_backend(settings.database_url)
    try:
        yield backend.storage
    finally:
        await backend.close()


async def new_api_key(settings: Settings, organisation_id: str) -> dict[str, str]:
    async with stored(settings) as storage:
        key = await manage_api_keys(storage, AesGcmSecretCipher(load_keyring(settings))).issue(
            organisation_id
        )
    return {"organisationId": organisation_id, "apiKey": key}


async def revoke_api_key(settings: Settings, api_key: str) -> None:
    async with stored(settings) as storage:
        await manage_api_keys(storage, AesGcmSecretCipher(load_keyring(settings))).revoke(api_key)


async def rotate_keys(settings: Settings) -> dict[str, object]:
    """With the development key file, a new key is added to it first; with configured keys,
    the operator has put the new key first in EMBED_OAUTH_ENCRYPTION_KEYS (see
    docs/operations.md). Then every stored secret and token is re-encrypted under it."""
    if settings.database_url == MEMORY_DATABASE_URL:
        raise CommandError("The in-memory backend has nothing stored to re-encrypt.")
    await prepare_schema(settings)  # before a new key is added to the development key file
    if settings.encryption_keys:
        keyring = Keyring.parse(settings.encryption_keys)
    else:
        keyring = add_development_key(settings.development_key_file)
    async with stored(settings) as storage:
        report = await RotateEncryptionKeys(storage.sealed_values, AesGcmSecretCipher(keyring))()
    result: dict[str, object] = {
        "activeKeyId": keyring.active_id,
        "reEncrypted": report.re_encrypted,
        "remaining": report.remaining,
    }
    if report.remaining:
        raise CommandError(f"{json.dumps(result)}: some values changed meanwhile; run it again.")
    return result


async def new_organisation(settings: Settings, name: str) -> dict[str, str]:
    if settings.database_url == MEMORY_DATABASE_URL:
        raise CommandError("An organisation in the in-memory backend would vanish at once.")
    async with stored(settings) as storage:
        created = await create_organisation(storage, AesGcmSecretCipher(load_keyring(settings)))(
            name
        )
    return {"organisationId": created.organisation.id, "apiKey": created.api_key}


def refuse_a_taken_port(host: str, port: int) -> None:
    """granian listens with SO_REUSEPORT, so a second server on a taken port would start and
    the kernel would split connections between the two. Binding without it first tells
    (with SO_REUSEADDR, so that connections of a previous server still in TIME_WAIT, after
    a restart, do not count; a listening socket still does)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc} (is another server "
                "running there? choose another --port)"
            ) from None


async def check_keys(settings: Settings) -> None:
    """Every key id that stored secrets name must be configured, or they could never be
    decrypted: say so now rather than with a 500 at the first decryption."""
    if settings.database_url == MEMORY_DATABASE_URL:
        return
    cipher = AesGcmSecretCipher(load_keyring(settings))
    async with stored(settings) as storage:
        missing = await MissingKeys(storage.sealed_values, cipher)()
    if missing:
        raise CommandError(
            f"stored secrets are encrypted with key id(s) {', '.join(missing)}, which "
            "EMBED_OAUTH_ENCRYPTION_KEYS does not configure: add them after the active key "
            "(or restore the development key file they came from)"
        )


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    refusal = production_refusal(settings)
    if refusal is not None:
        raise CommandError(refusal)
    refuse_a_taken_port(host, port)
    asyncio.run(prepare_schema(settings))
    load_keyring(settings)  # create a development key once, before workers start
    asyncio.run(check_keys(settings))
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers write their metrics here, so that /metrics on any of them shows them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="embed-oauth-metrics-")
    log.info("serving", extra={"url": f"http://{host}:{port}", "workers": workers})
    Granian(
        "adapters.asgi:app_from_environment",
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        log_dictconfig=_granian_logging(settings.log_level),
    ).serve()


DEV_PROVIDER_PORT = 9000


async def _dev_setup(settings: Settings, token_url: str) -> DevSetup:
    if settings.database_url == MEMORY_DATABASE_URL:
        raise CommandError("The in-memory backend is not shared with `embed-oauth serve`.")
    keyring = load_keyring(settings)
    async with stored(settings) as storage:
        return await set_up(settings, storage, AesGcmSecretCipher(keyring), token_url)


def dev_provider(settings: Settings, port: int, wait: Callable[[], None]) -> None:
    """Development only: a real authorization server on loopback, set up in the service's
    database, until ``wait`` returns (Ctrl-C)."""
    if settings.environment == "production":
        raise CommandError("dev-provider is for development: EMBED_OAUTH_ENVIRONMENT=production")
    try:
        # Imported here: Flask and Authlib come with the dev extra, not with the service.
        from adapters.dev_provider import PASSWORD, USERNAME, RunningProvider  # noqa: PLC0415
    except ImportError:
        raise CommandError(
            "dev-provider needs the development extra: pip install -e '.[dev]' (make run does)"
        ) from None
    refuse_a_taken_port("127.0.0.1", port)
    running = RunningProvider(port)
    try:
        provider = running.provider
        setup = asyncio.run(_dev_setup(settings, provider.token_url))
        provider.register(
            setup.redirect_uri(settings),
            client_id=setup.client_id,
            client_secret=setup.client_secret,
        )
        print(f"Development provider: {provider.base_url} (sign in as {USERNAME} / {PASSWORD})")
        print(f"Organisation: {setup.organisation_id}")
        print(f"API key: {setup.api_key}")
        print(f"Hub: {setup.hub_id}  Connector: {setup.connector_id}")
        print(f"Credential: {setup.credential_id} (client ID {setup.client_id})")
        print(f"Open the demo: {setup.demo_link(settings, provider.authorize_url)}")
        print("(with `make run` serving it; Ctrl-C stops the provider)", flush=True)
        wait()
    finally:
        running.stop()


class Interruption:
    """SIGINT or SIGTERM, caught from the moment this is made: a signal that arrives while
    the command is still starting is not lost."""

    def __init__(self) -> None:
        self._event = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._event.set())

    def wait(self) -> None:
        while not self._event.wait(1):
            pass


def _granian_logging(level: str) -> dict[str, object]:
    """The server's own lines as JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"_granian": {"handlers": ["stderr"], "level": level, "propagate": False}},
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embed-oauth",
        description=(
            "Connect your product's end users to their third-party accounts over OAuth 2.0. "
            "Configured by EMBED_OAUTH_* environment variables (docs/configuration.md)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"embed-oauth {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("serve", help="serve the HTTP API (applies SQLite migrations first)")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    run.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")

    orgs = commands.add_parser("organisations", help="manage organisations")
    org_commands = orgs.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = org_commands.add_parser(
        "create",
        help='create an organisation; prints {"organisationId": ..., "apiKey": ...} on one line',
    )
    create.add_argument("--name", required=True, help="the organisation's name")

    keys = commands.add_parser("api-keys", help="issue and revoke API keys")
    key_commands = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = key_commands.add_parser(
        "create", help='issue another key; prints {"organisationId": ..., "apiKey": ...}'
    )
    issue.add_argument("--organisation-id", required=True, help="the organisation's id")
    revoke = key_commands.add_parser(
        "revoke", help="revoke a key; every instance refuses it within EMBED_OAUTH_CACHE_SECONDS"
    )
    revoke.add_argument("--key", required=True, help="the API key to revoke")

    key_parser = commands.add_parser("keys", help="encryption keys")
    key_actions = key_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    key_actions.add_parser("generate", help="print a new key entry for EMBED_OAUTH_ENCRYPTION_KEYS")
    key_actions.add_parser(
        "rotate",
        help="re-encrypt every stored secret and token under the first key (with the "
        "development key file, a new key is added first); safe to interrupt and run again",
    )

    dev = commands.add_parser(
        "dev-provider",
        help="development only: run a real OAuth 2.0 provider on loopback, set it up in the "
        "database, and print the API key and a demo link with everything filled in",
    )
    dev.add_argument(
        "--port", type=int, default=DEV_PROVIDER_PORT, help=f"(default {DEV_PROVIDER_PORT})"
    )

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply every pending migration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        configure_logging(settings.log_level)
        if args.command == "serve":
            if not 0 < args.port < 65536 or args.workers < 1:
                raise CommandError("--port must be 1-65535 and --workers at least 1")
            serve(settings, args.host, args.port, args.workers)
        elif args.command == "organisations":
            print(json.dumps(asyncio.run(new_organisation(settings, args.name))))
        elif args.command == "api-keys" and args.action == "create":
            print(json.dumps(asyncio.run(new_api_key(settings, args.organisation_id))))
        elif args.command == "keys" and args.action == "generate":
            print(generate_key_spec())
        elif args.command == "keys":
            print(json.dumps(asyncio.run(rotate_keys(settings))))
        elif args.command == "api-keys":
            asyncio.run(revoke_api_key(settings, args.key))
            print(json.dumps({"revoked": True}))
        elif args.command == "dev-provider":
            if not 0 < args.port < 65536:
                raise CommandError("--port must be 1-65535")
            dev_provider(settings, args.port, Interruption().wait)
        elif args.command == "db":
            for applied in asyncio.run(upgrade_database(settings)):
                print(f"Applied {applied}")
            print(f"The database schema is up to date (revision {schema.head_revision()}).")
    except (CommandError, SettingsError) as exc:
        print(f"embed-oauth: {exc}", file=sys.stderr)
        return 1
    except DomainError as exc:
        detail = "; ".join(f"{f.field} {f.message}" for f in exc.fields)
        print(f"embed-oauth: {exc.message} {detail}".strip(), file=sys.stderr)
        return 1
    except StorageUnavailable as exc:
        print(
            f"embed-oauth: EMBED_OAUTH_DATABASE_URL: the database cannot be used "
            f"({_reason(exc)}); check that its server runs and the database exists",
            file=sys.stderr,
        )
        return 1
    return 0


def _reason(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's wrapping."""
    cause = exc.__cause__ or exc
    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


if __name__ == "__main__":
    sys.exit(main())
