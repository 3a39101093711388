"""Seals over the rows that route secrets: API keys, hubs, connectors, connections, webhooks.

The rows already stored are sealed in this run, with the keys the command was given
(``adapters.sql.schema.upgrade(..., keys=...)``); without keys, a database with such rows is
not upgraded.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from adapters.sql.schema import MigrationRefused
from adapters.sql.seal_backfill import rows_to_seal, seal_unsealed_rows

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("api_keys", "hubs", "connectors", "connections", "webhooks")


def upgrade() -> None:
    keys = context.config.attributes.get("keys")
    cipher = keys() if keys is not None and rows_to_seal(op.get_bind()) else None
    # Refused before any change: SQLite does not take its DDL back with the transaction.
    if cipher is None and rows_to_seal(op.get_bind()):
        raise MigrationRefused(
            "migration 0006 seals the rows already stored and needs the encryption keys: "
            "set EMBED_OAUTH_ENCRYPTION_KEYS"
        )
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seal", sa.Text(), nullable=True))
    if cipher is not None:
        seal_unsealed_rows(cipher, op.get_bind())


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
