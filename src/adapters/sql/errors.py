"""Database failures, translated into the application's errors at the adapter's edge.

A use case or the HTTP layer never sees SQLAlchemy, asyncpg or sqlite3: a unique or primary
key violation becomes ``DuplicateKey``, a row still referenced by another becomes the error
the caller names, and a database that is down, locked or out of connections becomes
``StorageUnavailable``.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from application.errors import DuplicateKey, StorageUnavailable

# PostgreSQL SQLSTATE classes that mean "no usable database here", not a bad statement:
# 08 connection exception, 28 invalid authorization, 3D invalid catalog (no such database),
# 53 insufficient resources, 57 operator intervention (shutting down, cannot connect now).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "28", "3D", "53", "57")


def _unavailable(orig: BaseException | None) -> bool:
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    return isinstance(code, str) and code[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


@contextmanager
def translated(still_referenced: type[Exception] | None = None) -> Iterator[None]:
    """Run a database operation; ``still_referenced`` is raised when a foreign key refuses
    a delete (without it, that is a bug and stays one)."""
    try:
        yield
    except IntegrityError as exc:
        if "foreign key" in str(exc.orig).lower():
            if still_referenced is not None:
                raise still_referenced from exc
            raise
        raise DuplicateKey(str(exc.orig)) from exc
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        raise StorageUnavailable(type(getattr(exc, "orig", None) or exc).__name__) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated or _unavailable(exc.orig):
            raise StorageUnavailable(type(exc.orig).__name__) from exc
        raise
    except OSError as exc:  # the driver could not reach the server (refused, reset, timed out)
        raise StorageUnavailable(type(exc).__name__) from exc
