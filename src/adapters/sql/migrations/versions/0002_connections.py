"""Connections: end users, connections with encrypted tokens, refresh locks; connector issuer.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.String:
    return sa.String(36)


def upgrade() -> None:
    with op.batch_alter_table("connectors") as batch:
        batch.add_column(sa.Column("issuer", sa.String(2048), nullable=True))
        batch.add_column(
            sa.Column(
                "iss_parameter_supported", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
    op.create_table(
        "end_users",
        sa.Column("id", _id(), primary_key=True),
        sa.Column(
            "hub_id",
            _id(),
            sa.ForeignKey("hubs.id", ondelete="CASCADE", name="fk_end_users_hub_id_hubs"),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("hub_id", "external_id", name="uq_end_users_hub_id_external_id"),
    )
    op.create_table(
        "connections",
        sa.Column("id", _id(), primary_key=True),
        sa.Column(
            "organisation_id",
            _id(),
            sa.ForeignKey(
                "organisations.id",
                ondelete="CASCADE",
                name="fk_connections_organisation_id_organisations",
            ),
            nullable=False,
        ),
        sa.Column(
            "hub_id",
            _id(),
            sa.ForeignKey("hubs.id", ondelete="CASCADE", name="fk_connections_hub_id_hubs"),
            nullable=False,
        ),
        sa.Column(
            "end_user_id",
            _id(),
            sa.ForeignKey(
                "end_users.id", ondelete="CASCADE", name="fk_connections_end_user_id_end_users"
            ),
            nullable=False,
        ),
        sa.Column(
            "connector_id",
            _id(),
            sa.ForeignKey(
                "connectors.id", ondelete="CASCADE", name="fk_connections_connector_id_connectors"
            ),
            nullable=False,
        ),
        sa.Column(
            "credential_id",
            _id(),
            sa.ForeignKey(
                "credentials.id",
                ondelete="RESTRICT",
                name="fk_connections_credential_id_credentials",
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("token_type", sa.String(64), nullable=False),
        sa.Column("sealed_access_token", sa.Text(), nullable=False),
        sa.Column("sealed_refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("organisation_id", "end_user_id", "connector_id", "credential_id"):
        op.create_index(f"ix_connections_{column}", "connections", [column])
    op.create_table(
        "refresh_locks",
        sa.Column("connection_id", _id(), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("refresh_locks")
    op.drop_table("connections")
    op.drop_table("end_users")
    with op.batch_alter_table("connectors") as batch:
        batch.drop_column("iss_parameter_supported")
        batch.drop_column("issuer")
