"""The ``rates`` table and the messaging tables.

Revision ID: 0001_currency
Revises:
Create Date: 2026-11-21

The rates themselves are inserted by the service's seed (``agora up`` / ``agora seed``), not
here, so a migration never overwrites what an admin set.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_currency"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "rates",
        sa.Column("code", sa.String(3), nullable=False),
        sa.Column("rate_per_usd", sa.String(32), nullable=False),
        sa.Column("exponent", sa.Integer(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_rates"),
    )
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
    op.drop_table("rates")
