"""Seals over signing keys: a public key verifies end-user tokens only for the organisation
that registered it.

As in 0006, the signing keys already stored are sealed in this run, with the keys the
command was given; without keys, a database with signing keys is not upgraded, and no later
code seals a row it did not write. The sealed fields are read as the table stands at this
revision.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from adapters.sql.schema import MigrationRefused
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


def upgrade() -> None:
    conn = op.get_bind()
    rows = [
        (row.id, row.organisation_id, row.algorithm, row.public_key)
        for row in conn.execute(
            sa.select(_KEYS.c.id, _KEYS.c.organisation_id, _KEYS.c.algorithm, _KEYS.c.public_key)
        )
    ]
    keys = context.config.attributes.get("keys")
    cipher: SecretCipher | None = keys() if keys is not None and rows else None
    # Refused before any change: SQLite does not take its DDL back with the transaction.
    if rows and cipher is None:
        raise MigrationRefused(
            "migration 0008 seals the signing keys already stored and needs the encryption "
            "keys: set EMBED_OAUTH_ENCRYPTION_KEYS"
        )
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("seal", sa.Text(), nullable=True))
    if cipher is None:
        return
    for fields in rows:
        conn.execute(
            _KEYS.update()
            .where(_KEYS.c.id == fields[0])
            .values(seal=seal_fields(cipher, RecordKind.SIGNING_KEY, fields))
        )


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("seal")
