"""Seals over the rows that say who a caller is: signing keys (a public key verifies
end-user tokens only for the organisation that registered it) and connect sessions (a
session acts only for its organisation, hub, end user and connectors, until its expiry).

As in 0006, the rows already stored are sealed in this run, with the keys the command was
given; without keys, a database with such rows is not upgraded, and no later code seals a
row it did not write. The sealed fields are read as the tables stand at this revision.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from adapters.sql.schema import MigrationRefused
from adapters.sql.tables import UtcDateTime
from application.integrity import RecordKind, seal_fields
from application.ports.crypto import SecretCipher

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = sa.table(
    "signing_keys",
    sa.column("id"),
    sa.column("organisation_id"),
    sa.column("algorithm"),
    sa.column("public_key"),
    sa.column("seal"),
)
_SESSIONS = sa.table(
    "connect_sessions",
    sa.column("token_hash"),
    sa.column("organisation_id"),
    sa.column("hub_id"),
    sa.column("user_id"),
    sa.column("connector_ids", sa.JSON),
    sa.column("expires_at", UtcDateTime()),
    sa.column("seal"),
)


def _expiry(value: datetime) -> str:
    return str(int(value.timestamp()))


def _rows(conn: sa.Connection) -> list[tuple[RecordKind, Any, tuple[str, ...]]]:
    """(kind, the row's key, its sealed fields) of every row stored now."""
    keys: list[tuple[RecordKind, Any, tuple[str, ...]]] = [
        (RecordKind.SIGNING_KEY, row.id, (row.id, row.organisation_id, row.algorithm,
                                          row.public_key))
        for row in conn.execute(sa.select(*(c for c in _KEYS.c if c.name != "seal")))
    ]  # fmt: skip
    sessions: list[tuple[RecordKind, Any, tuple[str, ...]]] = [
        (RecordKind.CONNECT_SESSION, row.token_hash, (
            bytes(row.token_hash).hex(), row.organisation_id, row.hub_id, row.user_id,
            "*" if row.connector_ids is None else " ".join(row.connector_ids),
            _expiry(row.expires_at),
        ))
        for row in conn.execute(sa.select(*(c for c in _SESSIONS.c if c.name != "seal")))
    ]  # fmt: skip
    return keys + sessions


def upgrade() -> None:
    conn = op.get_bind()
    rows = _rows(conn)
    keys = context.config.attributes.get("keys")
    cipher: SecretCipher | None = keys() if keys is not None and rows else None
    # Refused before any change: SQLite does not take its DDL back with the transaction.
    if rows and cipher is None:
        raise MigrationRefused(
            "migration 0008 seals the signing keys and connect sessions already stored and "
            "needs the encryption keys: set EMBED_OAUTH_ENCRYPTION_KEYS"
        )
    for table in ("signing_keys", "connect_sessions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seal", sa.Text(), nullable=True))
    if cipher is None:
        return
    for kind, key, fields in rows:
        seal = seal_fields(cipher, kind, fields)
        if kind is RecordKind.SIGNING_KEY:
            conn.execute(_KEYS.update().where(_KEYS.c.id == key).values(seal=seal))
        else:
            conn.execute(_SESSIONS.update().where(_SESSIONS.c.token_hash == key).values(seal=seal))


def downgrade() -> None:
    for table in ("connect_sessions", "signing_keys"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
