"""The cart's ``cart_items`` table and the messaging tables.

Revision ID: 0001_cart
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_cart"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of this revision's timestamp type (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "cart_items",
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("added_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("owner", "product_id", name="pk_cart_items"),
        sa.CheckConstraint("quantity > 0", name="ck_cart_items_quantity_positive"),
    )
    op.create_index("ix_cart_items_updated", "cart_items", ["updated_at"])
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_table("cart_items")
