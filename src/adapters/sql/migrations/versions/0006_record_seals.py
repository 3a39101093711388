"""Seals over the rows that route secrets: API keys, hubs, connectors, connections, webhooks.

The rows already stored are sealed in this run, with the keys the command was given
(``adapters.sql.schema.upgrade(..., keys=...)``); without keys, a database with such rows is
not upgraded. Only this run seals rows it did not write: afterwards a row without a seal is
refused wherever it is used, so a row planted later is never sealed for whoever planted it.

The sealed fields are read here as the tables stood at this revision (what
``application.integrity.sealed_fields`` covers for rows of that time), so later columns do
not change what this migration does.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from adapters.sql.schema import MigrationRefused
from application.integrity import RecordKind, seal_fields
from application.ports.crypto import SecretCipher

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("api_keys", "hubs", "connectors", "connections", "webhooks")


def _tables() -> dict[str, sa.TableClause]:
    col = sa.column
    return {
        "api_keys": sa.table("api_keys", col("id"), col("organisation_id"), col("key_hash")),
        "hubs": sa.table(
            "hubs", col("id"), col("organisation_id"), col("allowed_origins", sa.JSON)
        ),
        "connectors": sa.table(
            "connectors", col("id"), col("hub_id"), col("token_url"), col("token_auth_method"),
            col("issuer"),
        ),
        "connections": sa.table(
            "connections", col("id"), col("organisation_id"), col("hub_id"), col("end_user_id"),
            col("connector_id"), col("credential_id"),
        ),
        "end_users": sa.table("end_users", col("id"), col("external_id")),
        "webhooks": sa.table("webhooks", col("id"), col("organisation_id"), col("url")),
    }  # fmt: skip


def _rows(conn: sa.Connection) -> list[tuple[str, RecordKind, tuple[str, ...]]]:
    """(table, kind, sealed fields) of every row stored now."""
    t = _tables()
    users = t["end_users"]
    connections = t["connections"]
    queries: list[tuple[str, RecordKind, Any, Callable[[Any], tuple[str, ...]]]] = [
        ("api_keys", RecordKind.API_KEY, sa.select(t["api_keys"]),
         lambda r: (r.id, r.organisation_id, bytes(r.key_hash).hex())),
        ("hubs", RecordKind.HUB, sa.select(t["hubs"]),
         lambda r: (r.id, r.organisation_id, *r.allowed_origins)),
        ("connectors", RecordKind.CONNECTOR, sa.select(t["connectors"]),
         lambda r: (r.id, r.hub_id, r.token_url, r.token_auth_method, r.issuer or "")),
        ("connections", RecordKind.CONNECTION,
         sa.select(connections, users.c.external_id).select_from(
             connections.join(users, users.c.id == connections.c.end_user_id)),
         lambda r: (r.id, r.organisation_id, r.hub_id, r.external_id, r.connector_id,
                    r.credential_id)),
        ("webhooks", RecordKind.WEBHOOK, sa.select(t["webhooks"]),
         lambda r: (r.id, r.organisation_id, r.url)),
    ]  # fmt: skip
    return [
        (table, kind, fields(row))
        for table, kind, query, fields in queries
        for row in conn.execute(query)
    ]


def upgrade() -> None:
    conn = op.get_bind()
    rows = _rows(conn)
    keys = context.config.attributes.get("keys")
    cipher: SecretCipher | None = keys() if keys is not None and rows else None
    # Refused before any change: SQLite does not take its DDL back with the transaction.
    if rows and cipher is None:
        raise MigrationRefused(
            "migration 0006 seals the rows already stored and needs the encryption keys: "
            "set EMBED_OAUTH_ENCRYPTION_KEYS"
        )
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seal", sa.Text(), nullable=True))
    if cipher is None:
        return
    for table, kind, fields in rows:
        sealed = sa.table(table, sa.column("id"), sa.column("seal"))
        conn.execute(
            sealed.update()
            .where(sealed.c.id == fields[0])
            .values(seal=seal_fields(cipher, kind, fields))
        )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
