"""Analytics' fact tables (``order_facts``, ``order_fact_lines``, ``activity``) and the messaging tables.

Revision ID: 0001_analytics
Revises:
Create Date: 2026-11-21

The demo history is inserted by the service's seed, not here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_analytics"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "order_facts",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("subtotal", sa.BigInteger(), nullable=True),
        sa.Column("shipping", sa.BigInteger(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("checkout_at", Timestamp, nullable=False),
        sa.Column("paid_at", Timestamp, nullable=True),
        sa.Column("cancelled_at", Timestamp, nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_order_facts"),
    )
    op.create_index("ix_order_facts_paid_at", "order_facts", ["paid_at"])
    op.create_index("ix_order_facts_checkout_at", "order_facts", ["checkout_at"])
    op.create_index("ix_order_facts_user_checkout", "order_facts", ["user_id", "checkout_at"])
    op.create_table(
        "order_fact_lines",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "position", name="pk_order_fact_lines"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["order_facts.order_id"],
            name="fk_order_fact_lines_order_id_order_facts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_order_fact_lines_product", "order_fact_lines", ["product_id"])
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activity"),
    )
    op.create_index("ix_activity_kind_time", "activity", ["kind", "occurred_at"])
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_index("ix_activity_kind_time", table_name="activity")
    op.drop_table("activity")
    op.drop_index("ix_order_fact_lines_product", table_name="order_fact_lines")
    op.drop_table("order_fact_lines")
    op.drop_index("ix_order_facts_user_checkout", table_name="order_facts")
    op.drop_index("ix_order_facts_checkout_at", table_name="order_facts")
    op.drop_index("ix_order_facts_paid_at", table_name="order_facts")
    op.drop_table("order_facts")
