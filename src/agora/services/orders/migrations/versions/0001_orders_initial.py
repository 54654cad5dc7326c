"""Orders tables (orders, order_items), the messaging tables and the idempotency keys.

Revision ID: 0001_orders
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.idempotency import migrations as idempotency_migrations
from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_orders"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of this revision's timestamp type (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("saga_step", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", sa.Integer(), nullable=False),
        sa.Column("shipping_cost", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("failure_code", sa.String(40), nullable=True),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("failure_status", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("card_brand", sa.String(20), nullable=True),
        sa.Column("card_last4", sa.String(4), nullable=True),
        sa.Column("tracking_id", sa.String(64), nullable=True),
        sa.Column("shipping_address", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'failed')", name="ck_orders_status"
        ),
        sa.CheckConstraint("subtotal >= 0 AND shipping_cost >= 0 AND total >= 0", name="ck_orders_amounts"),
    )
    op.create_index("idx_orders_created_at", "orders", ["created_at"])
    op.create_index("idx_orders_user_id", "orders", ["user_id"])
    op.create_index("idx_orders_user_created", "orders", ["user_id", "created_at", "id"])
    op.create_index("idx_orders_user_idempotency_key", "orders", ["user_id", "idempotency_key"])
    op.create_index("idx_orders_lease_until", "orders", ["lease_until"])
    op.create_table(
        "order_items",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("line_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_items"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_items_order_id_orders", ondelete="CASCADE"),
        sa.CheckConstraint("quantity > 0", name="ck_order_items_quantity"),
    )
    op.create_index("idx_order_items_order_id", "order_items", ["order_id"])
    op.create_index("idx_order_items_product_id", "order_items", ["product_id"])

    messaging_migrations.upgrade(op)
    idempotency_migrations.upgrade(op)


def downgrade() -> None:
    idempotency_migrations.downgrade(op)
    messaging_migrations.downgrade(op)
    # indexes go with their tables (MariaDB refuses to drop an index a foreign key uses)
    op.drop_table("order_items")
    op.drop_table("orders")
