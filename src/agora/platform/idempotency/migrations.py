"""Alembic operations for ``idempotency_keys``; call them from a service's own revision.

Spelled out rather than derived from :mod:`.tables`: a migration is a frozen record.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from agora.platform.idempotency.tables import FINGERPRINT, KEY, SCOPE
from agora.platform.messaging.tables import Payload

# naive UTC, microseconds on MariaDB: what agora.platform.db.types.UTCDateTime maps to
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade(op: Any) -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(SCOPE), nullable=False),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("fingerprint", sa.String(FINGERPRINT), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("response_body", Payload, nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("locked_until", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade(op: Any) -> None:
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
