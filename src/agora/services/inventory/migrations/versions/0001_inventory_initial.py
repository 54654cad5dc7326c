"""Inventory tables (stock with its CHECK constraints, reservations, their items) and the messaging tables.

Revision ID: 0001_inventory
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_inventory"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "stock",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_stock"),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_reserved_within_on_hand"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
    )
    op.create_index("ix_reservations_status_expires", "reservations", ["status", "expires_at"])
    op.create_table(
        "reservation_items",
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("reservation_id", "sku", name="pk_reservation_items"),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name="fk_reservation_items_reservation_id_reservations",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_items_quantity_positive"),
    )

    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_table("reservation_items")
    op.drop_index("ix_reservations_status_expires", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("stock")
