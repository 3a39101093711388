"""Where SQL statements run, and the base of the repositories."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.errors import translated


class SqlDatabase:
    """Where statements run: the engine (a transaction per call), or the connection of one
    open unit of work (every call inside it, committed together)."""

    def __init__(self, engine: AsyncEngine, connection: AsyncConnection | None = None) -> None:
        self.engine = engine
        self._connection = connection
        self.destroyed = False  # secrets deleted in this unit of work: checkpoint after it

    async def secrets_destroyed(self) -> None:
        """Rows holding secrets or tokens were deleted. SQLite's ``secure_delete`` overwrites
        them in the database file, but the WAL file still holds their pages until a
        checkpoint: move it into the file and truncate it now (after the unit of work's
        commit, inside one)."""
        if self._connection is not None:
            self.destroyed = True
        else:
            await checkpoint(self.engine)

    @property
    def in_transaction(self) -> bool:
        return self._connection is not None

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a transaction committed when the block ends."""
        return self._use(self.engine.begin)

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._use(self.engine.connect)

    @asynccontextmanager
    async def _use(
        self, opened: Callable[[], AbstractAsyncContextManager[AsyncConnection]]
    ) -> AsyncIterator[AsyncConnection]:
        with translated():
            if self._connection is not None:
                yield self._connection
                return
            async with opened() as conn:
                yield conn


async def checkpoint(engine: AsyncEngine) -> None:
    """SQLite: copy the WAL into the database file and truncate it (waits, within the busy
    timeout, for readers still on older pages)."""
    if engine.dialect.name != "sqlite":
        return
    with translated():
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class SqlRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def _insert(self, table: sa.Table, values: dict[str, Any]) -> None:
        async with self._db.write() as conn:
            await conn.execute(table.insert().values(**values))

    async def _one(self, query: sa.Select[Any]) -> sa.Row[Any] | None:
        async with self._db.read() as conn:
            row: sa.Row[Any] | None = (await conn.execute(query)).first()
            return row

    async def _all(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        async with self._db.read() as conn:
            return list(await conn.execute(query))

    async def _change(self, statement: sa.Delete | sa.Update) -> int:
        async with self._db.write() as conn:
            return (await conn.execute(statement)).rowcount

    async def _delete(self, statement: sa.Delete) -> bool:
        return await self._change(statement) > 0
