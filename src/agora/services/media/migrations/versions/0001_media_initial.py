"""The ``images``, ``product_images`` and ``products`` tables and the messaging tables.

Revision ID: 0001_media
Revises:
Create Date: 2026-11-21

The demo products' images are drawn by the service when the catalog's events arrive, not here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_media"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("small_bytes", sa.Integer(), nullable=False),
        sa.Column("large_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.UniqueConstraint("purpose", "owner_id", "sha256", name="uq_images_purpose"),
    )
    op.create_index("ix_images_sha256", "images", ["sha256"])
    op.create_index("ix_images_owner_created", "images", ["owner_id", "created_at", "id"])
    op.create_index("ix_images_purpose_created", "images", ["purpose", "created_at", "id"])
    op.create_table(
        "product_images",
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "media_id", name="pk_product_images"),
    )
    op.create_index("ix_product_images_media", "product_images", ["media_id"])
    op.create_table(
        "products",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
    )
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_table("products")
    op.drop_index("ix_product_images_media", table_name="product_images")
    op.drop_table("product_images")
    op.drop_index("ix_images_purpose_created", table_name="images")
    op.drop_index("ix_images_owner_created", table_name="images")
    op.drop_index("ix_images_sha256", table_name="images")
    op.drop_table("images")
