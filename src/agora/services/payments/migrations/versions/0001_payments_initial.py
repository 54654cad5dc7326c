"""Payments tables (charges, refunds), the messaging tables and the idempotency-key table.

Revision ID: 0001_payments
Revises:
Create Date: 2026-11-22

There is no column for a card number or a CVC, on purpose: see ``models.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.idempotency import migrations as idempotency_migrations
from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_payments"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "charges",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("card_brand", sa.String(16), nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=False),
        sa.Column("card_exp_month", sa.Integer(), nullable=False),
        sa.Column("card_exp_year", sa.Integer(), nullable=False),
        sa.Column("provider_reference", sa.String(64), nullable=True),
        sa.Column("failure_code", sa.String(40), nullable=True),
        sa.Column("failure_message", sa.String(200), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("captured_order_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_charges"),
        sa.UniqueConstraint("captured_order_id", name="uq_charges_captured_order_id"),
    )
    op.create_index("ix_charges_order_id", "charges", ["order_id", "created_at"])
    op.create_index("ix_charges_created", "charges", ["created_at", "id"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("charge_id", sa.String(36), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.UniqueConstraint("charge_id", name="uq_refunds_charge_id"),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name="fk_refunds_charge_id_charges", ondelete="RESTRICT"
        ),
    )

    messaging_migrations.upgrade(op)
    idempotency_migrations.upgrade(op)


def downgrade() -> None:
    idempotency_migrations.downgrade(op)
    messaging_migrations.downgrade(op)

    op.drop_table("refunds")
    op.drop_index("ix_charges_created", table_name="charges")
    op.drop_index("ix_charges_order_id", table_name="charges")
    op.drop_table("charges")
