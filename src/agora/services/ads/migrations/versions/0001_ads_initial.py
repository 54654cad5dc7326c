"""The ``ads`` table and the messaging tables.

Revision ID: 0001_ads
Revises:
Create Date: 2026-11-21

The demo ads are inserted by the service's seed (``agora up`` / ``agora seed``), not here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_ads"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "ads",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("image", sa.String(500), nullable=True),
        sa.Column("categories_text", sa.String(1300), nullable=False),
        sa.Column("keywords_text", sa.String(820), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("starts_at", Timestamp, nullable=True),
        sa.Column("ends_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ads"),
    )
    op.create_index("ix_ads_active", "ads", ["active"])
    op.create_index("ix_ads_created", "ads", ["created_at", "id"])
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_index("ix_ads_created", table_name="ads")
    op.drop_index("ix_ads_active", table_name="ads")
    op.drop_table("ads")
