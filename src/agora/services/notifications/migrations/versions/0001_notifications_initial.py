"""Notifications and emails, and the messaging tables.

Revision ID: 0001_notifications
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_notifications"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("read_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("order_id", "kind", name="uq_notifications_order_id"),
    )
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])
    op.create_table(
        "emails",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("claimed_at", Timestamp, nullable=True),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_emails"),
        sa.UniqueConstraint("order_id", "kind", name="uq_emails_order_id"),
    )
    op.create_index("ix_emails_status_created", "emails", ["status", "created_at"])

    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_index("ix_emails_status_created", table_name="emails")
    op.drop_table("emails")
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_table("notifications")
