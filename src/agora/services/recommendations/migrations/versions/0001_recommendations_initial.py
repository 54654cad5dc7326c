"""The recommendations' tables: the consumed facts, the derived counters, the messaging tables.

Revision ID: 0001_recommendations
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_recommendations"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Id = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", Id, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("price_amount", sa.Integer(), nullable=False),
        sa.Column("price_currency", sa.String(3), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("changed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
    )
    op.create_index("ix_products_category_active", "products", ["category", "active"])
    op.create_table(
        "paid_orders",
        sa.Column("order_id", Id, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("paid_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_paid_orders"),
    )
    op.create_index("ix_paid_orders_user_id", "paid_orders", ["user_id"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", Id, nullable=False),
        sa.Column("product_id", Id, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_order_lines_quantity_positive"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["paid_orders.order_id"],
            name="fk_order_lines_order_id_paid_orders",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "product_id", name="pk_order_lines"),
    )
    op.create_table(
        "co_purchases",
        sa.Column("product_a", Id, nullable=False),
        sa.Column("product_b", Id, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("product_a < product_b", name="ck_co_purchases_pair_ordered"),
        sa.PrimaryKeyConstraint("product_a", "product_b", name="pk_co_purchases"),
    )
    op.create_index("ix_co_purchases_product_b", "co_purchases", ["product_b"])
    op.create_table(
        "user_purchases",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("product_id", Id, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "product_id", name="pk_user_purchases"),
    )
    op.create_table(
        "popularity",
        sa.Column("product_id", Id, nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name="pk_popularity"),
    )
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_table("popularity")
    op.drop_table("user_purchases")
    op.drop_index("ix_co_purchases_product_b", table_name="co_purchases")
    op.drop_table("co_purchases")
    op.drop_table("order_lines")
    op.drop_index("ix_paid_orders_user_id", table_name="paid_orders")
    op.drop_table("paid_orders")
    op.drop_index("ix_products_category_active", table_name="products")
    op.drop_table("products")
