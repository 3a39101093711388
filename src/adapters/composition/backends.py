"""Choosing the storage backend from the database URL: the only place that does."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.memory.repositories import in_memory_storage
from adapters.settings import MEMORY_DATABASE_URL
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from application.ports.storage import Storage


async def _nothing_to_close() -> None:
    return None


@dataclass
class Backend:
    """A storage backend and how to release it."""

    storage: Storage
    close: Callable[[], Awaitable[None]] = _nothing_to_close


def open_backend(database_url: str) -> Backend:
    """``memory://`` for the in-memory fakes, otherwise an SQLAlchemy async URL."""
    if database_url == MEMORY_DATABASE_URL:
        return Backend(in_memory_storage())
    engine = create_engine(database_url)
    return Backend(sql_storage(engine), engine.dispose)
