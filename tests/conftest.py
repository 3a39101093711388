"""Storage backends for tests: in-memory, SQLite in a temporary file, and PostgreSQL when
EMBED_OAUTH_TEST_POSTGRES_URL is set (each test then gets a schema of its own)."""

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.composition.backends import Backend
from adapters.memory.repositories import in_memory_storage
from adapters.sql import schema
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from application.ports.storage import Storage

POSTGRES_URL = os.environ.get("EMBED_OAUTH_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="EMBED_OAUTH_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped "
    "(.ci/run sets it)",
)
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=[needs_postgres, pytest.mark.postgres])]
ALL_BACKENDS = ["memory", *SQL_BACKENDS]


@asynccontextmanager
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    """An engine whose tables live in a fresh schema, dropped afterwards."""
    schema = f"test_{secrets.token_hex(6)}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    # NullPool: Litestar's test client runs the app in an event loop of its own, and an
    # asyncpg connection cannot move between loops, so none is kept for reuse.
    engine = create_async_engine(
        POSTGRES_URL,
        connect_args={"server_settings": {"search_path": schema}},
        poolclass=NullPool,
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def migrated_backend(kind: str, tmp_path: Path) -> AsyncIterator[Backend]:
    """A Backend on SQLite or PostgreSQL at the latest schema, for building the real app."""

    async with sql_engine(kind, tmp_path) as engine:
        await schema.upgrade(engine)
        yield Backend(sql_storage(engine))


@asynccontextmanager
async def sql_engine(kind: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if kind == "postgres":
        async with postgres_engine() as engine:
            yield engine
        return
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A whole database of its own: the CLI builds its engine from the URL alone."""
    name = f"cli_{secrets.token_hex(5)}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(params=ALL_BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """One storage backend per run: the in-memory fakes, SQLite, PostgreSQL."""

    if request.param == "memory":
        yield in_memory_storage()
        return
    async with sql_engine(request.param, tmp_path) as engine:
        await schema.upgrade(engine)
        yield sql_storage(engine)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per reason for skipping, with how many tests it skipped (pytest's own `-rs`
    would print a line per skipped PostgreSQL variant)."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("skipped")
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            terminalreporter.line(f"{count} skipped: {reason}")
