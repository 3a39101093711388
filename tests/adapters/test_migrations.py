"""Alembic migrations: from empty to head and back down, on SQLite and PostgreSQL."""

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from adapters.sql import schema
from adapters.sql.engine import create_engine
from adapters.sql.tables import metadata
from tests.conftest import SQL_BACKENDS, sql_engine


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_migrations_go_up_to_head_and_down_to_empty(backend: str, tmp_path: Path) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        assert await schema.current_revision(engine) is None
        await schema.upgrade(engine)
        assert await schema.current_revision(engine) == schema.head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
        await schema.downgrade(engine)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await schema.upgrade(engine)
        assert await schema.current_revision(engine) == schema.head_revision()


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_migrated_schema_matches_the_table_definitions(backend: str, tmp_path: Path) -> None:
    async with sql_engine(backend, tmp_path) as engine:
        await schema.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    assert diff == []


async def test_a_new_sqlite_database_and_its_wal_are_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "private" / "db.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await schema.upgrade(engine)
        async with engine.connect() as conn:  # an open connection keeps the WAL files
            await conn.execute(sa.text("SELECT 1 FROM organisations"))
            for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert name.exists(), name
                assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
    finally:
        await engine.dispose()
