"""Refresh health on connections: the granted lifetime, a token version for fencing, the
last refresh, consecutive failures, the backoff deadline and the reason for a status.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("token_lifetime_seconds", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("refresh_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("refresh_not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.String(64), nullable=True))
        batch.create_index("ix_connections_expires_at", ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_index("ix_connections_expires_at")
        for column in (
            "status_reason",
            "refresh_not_before",
            "refresh_failures",
            "last_refreshed_at",
            "token_version",
            "token_lifetime_seconds",
        ):
            batch.drop_column(column)
