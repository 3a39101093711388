"""Applying and checking migrations: Alembic is the only way the schema is made or changed."""

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from application.ports.crypto import SecretCipher

_MIGRATIONS = Path(__file__).with_name("migrations")


Keys = Callable[[], SecretCipher | None]


class MigrationRefused(Exception):
    """A migration cannot run as configured; the message says what it needs. Nothing was
    changed."""


def _config(connection: Connection, keys: Keys | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["keys"] = keys  # for migrations that seal or encrypt stored rows
    return config


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, keys: Keys | None = None
) -> list[str]:
    """Apply the pending migrations; returns each one applied, oldest first, as
    ``"<revision>: <its title>"``. ``keys`` gives the service's keys, asked for only by a
    migration that seals rows already stored (a database without such rows needs none)."""
    before = await current_revision(engine)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync, keys), revision))
    applied = list(_scripts().iterate_revisions(revision, before))
    return [f"{r.revision}: {_title(r.doc)}" for r in reversed(applied)]


def _title(doc: str | None) -> str:
    """A migration's first paragraph, on one line."""
    return " ".join((doc or "").split("\n\n")[0].split()).rstrip(".")


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
