"""The schema, as SQLAlchemy Core tables. Migrations create it; this module only describes it."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = sa.String(36)

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("key_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("seal", sa.Text(), nullable=True),  # application.integrity; NULL is refused
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("client_id", sa.String(512), nullable=False),
    sa.Column("sealed_secret", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

hubs = sa.Table(
    "hubs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("allowed_origins", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("seal", sa.Text(), nullable=True),
)

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "hub_id", ID, sa.ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_url", sa.String(2048), nullable=False),
    sa.Column("scope_separator", sa.String(1), nullable=False),
    sa.Column("pkce", sa.Boolean(), nullable=False),
    sa.Column("token_auth_method", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("issuer", sa.String(2048), nullable=True),
    sa.Column("iss_parameter_supported", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("seal", sa.Text(), nullable=True),
    sa.Column("settings", sa.JSON(), nullable=True),  # domain.model.ProviderSettings
)

end_users = sa.Table(
    "end_users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("hub_id", ID, sa.ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(256), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("hub_id", "external_id"),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("hub_id", ID, sa.ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "end_user_id",
        ID,
        sa.ForeignKey("end_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "connector_id",
        ID,
        sa.ForeignKey("connectors.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "credential_id",
        ID,
        sa.ForeignKey("credentials.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("token_type", sa.String(64), nullable=False),
    sa.Column("sealed_access_token", sa.Text(), nullable=False),
    sa.Column("sealed_refresh_token", sa.Text(), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=True, index=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("token_lifetime_seconds", sa.Integer(), nullable=True),
    sa.Column("token_version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("last_refreshed_at", UtcDateTime(), nullable=True),
    sa.Column("refresh_failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("refresh_not_before", UtcDateTime(), nullable=True),
    sa.Column("status_reason", sa.String(64), nullable=True),
    sa.Column("seal", sa.Text(), nullable=True),
    sa.Column("metadata", sa.JSON(), nullable=True),  # [[name, value], ...]
)

refresh_locks = sa.Table(
    "refresh_locks",
    metadata,
    sa.Column("connection_id", ID, primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)

used_states = sa.Table(
    "used_states",
    metadata,
    sa.Column("state_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("algorithm", sa.String(8), nullable=False),
    sa.Column("public_key", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("seal", sa.Text(), nullable=True),
)

connect_sessions = sa.Table(
    "connect_sessions",
    metadata,
    sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "hub_id", ID, sa.ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("connector_ids", sa.JSON(), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("seal", sa.Text(), nullable=True),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", sa.JSON(), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("sealed_secret", sa.Text(), nullable=False),
    sa.Column("sealed_previous_secret", sa.Text(), nullable=True),
    sa.Column("previous_secret_until", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("seal", sa.Text(), nullable=True),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "organisation_id",
        ID,
        sa.ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("connection_id", ID, nullable=False),  # no foreign key: deletions are events too
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# ``seq`` orders deliveries as they were written; the claim takes, per webhook and
# connection, only the lowest pending one, so each endpoint sees a connection's events in order.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("id", ID, nullable=False, unique=True),
    sa.Column(
        "webhook_id",
        ID,
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "event_id",
        ID,
        sa.ForeignKey("webhook_events.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("connection_id", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("lease_holder", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_webhook_id_connection_id", "webhook_id", "connection_id"),
)
