"""Organisations, API keys, credentials, hubs, connectors and used states.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.String:
    return sa.String(36)


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _id(), primary_key=True),
        sa.Column(
            "organisation_id",
            _id(),
            sa.ForeignKey(
                "organisations.id",
                ondelete="CASCADE",
                name="fk_api_keys_organisation_id_organisations",
            ),
            nullable=False,
        ),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_organisation_id", "api_keys", ["organisation_id"])
    op.create_table(
        "credentials",
        sa.Column("id", _id(), primary_key=True),
        sa.Column(
            "organisation_id",
            _id(),
            sa.ForeignKey(
                "organisations.id",
                ondelete="CASCADE",
                name="fk_credentials_organisation_id_organisations",
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(512), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_credentials_organisation_id", "credentials", ["organisation_id"])
    op.create_table(
        "hubs",
        sa.Column("id", _id(), primary_key=True),
        sa.Column(
            "organisation_id",
            _id(),
            sa.ForeignKey(
                "organisations.id", ondelete="CASCADE", name="fk_hubs_organisation_id_organisations"
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hubs_organisation_id", "hubs", ["organisation_id"])
    op.create_table(
        "connectors",
        sa.Column("id", _id(), primary_key=True),
        sa.Column(
            "hub_id",
            _id(),
            sa.ForeignKey("hubs.id", ondelete="CASCADE", name="fk_connectors_hub_id_hubs"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_url", sa.String(2048), nullable=False),
        sa.Column("scope_separator", sa.String(1), nullable=False),
        sa.Column("pkce", sa.Boolean(), nullable=False),
        sa.Column("token_auth_method", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_connectors_hub_id", "connectors", ["hub_id"])
    op.create_table(
        "used_states",
        sa.Column("state_id", sa.LargeBinary(16), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_used_states_expires_at", "used_states", ["expires_at"])


def downgrade() -> None:
    op.drop_table("used_states")
    op.drop_table("connectors")
    op.drop_table("hubs")
    op.drop_table("credentials")
    op.drop_table("api_keys")
    op.drop_table("organisations")
