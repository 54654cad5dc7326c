"""The ``image_claims`` table: images the catalog checked for a product write whose event is pending.

Revision ID: 0002_media_claims
Revises: 0001_media
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002_media_claims"
down_revision = "0001_media"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "image_claims",
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.Column("claimed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("media_id", name="pk_image_claims"),
    )


def downgrade() -> None:
    op.drop_table("image_claims")
