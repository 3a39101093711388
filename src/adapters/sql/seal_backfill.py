"""Sealing the rows stored before seals existed, in the run of migration 0006 that adds them.

Only that run seals unsealed rows: afterwards a row without a seal is refused wherever it is
used, so a row planted later by someone without the keys is never sealed for them.
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SyncConnection

from adapters.sql import tables as t
from adapters.sql.outbox import _webhook
from adapters.sql.repositories import (
    _CONNECTION_COLUMNS,
    _CONNECTIONS,
    _api_key,
    _connection,
    _connector,
    _hub,
)
from application.integrity import Sealable, seal_of
from application.ports.crypto import SecretCipher

_SEALED: list[tuple[sa.Table, sa.Select[Any], Callable[[sa.Row[Any]], Sealable]]] = [
    (t.api_keys, sa.select(t.api_keys), _api_key),
    (t.hubs, sa.select(t.hubs), _hub),
    (t.connectors, sa.select(t.connectors), _connector),
    (t.connections, sa.select(*_CONNECTION_COLUMNS).select_from(_CONNECTIONS), _connection),
    (t.webhooks, sa.select(t.webhooks), _webhook),
]


def rows_to_seal(conn: SyncConnection) -> int:
    """How many rows the tables with seals hold (asked before the seal column exists)."""
    return sum(
        conn.execute(sa.select(sa.func.count()).select_from(sa.table(table.name))).scalar_one()
        for table, _, _ in _SEALED
    )


def seal_unsealed_rows(cipher: SecretCipher, conn: SyncConnection) -> int:
    """Seal every row without a seal, as it is stored now; the number sealed."""
    count = 0
    for table, query, record_of in _SEALED:
        for row in conn.execute(query.where(table.c.seal.is_(None))).all():
            record = record_of(row)
            conn.execute(
                table.update().where(table.c.id == record.id).values(seal=seal_of(cipher, record))
            )
            count += 1
    return count
