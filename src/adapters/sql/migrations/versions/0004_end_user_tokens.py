"""End-user tokens: the public keys organisations sign JWTs with, and connect sessions
(stored as keyed hashes).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_signing_keys_organisation_id_organisations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signing_keys"),
    )
    op.create_index(
        "ix_signing_keys_organisation_id", "signing_keys", ["organisation_id"], unique=False
    )
    op.create_table(
        "connect_sessions",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("hub_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("connector_ids", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_connect_sessions_organisation_id_organisations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["hubs.id"], name="fk_connect_sessions_hub_id_hubs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_connect_sessions"),
    )
    op.create_index("ix_connect_sessions_hub_id", "connect_sessions", ["hub_id"], unique=False)
    op.create_index(
        "ix_connect_sessions_expires_at", "connect_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("connect_sessions")
    op.drop_table("signing_keys")
