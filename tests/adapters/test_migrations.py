"""Alembic migrations: from empty to head and back down, on SQLite and PostgreSQL."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from adapters.sql import schema
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
