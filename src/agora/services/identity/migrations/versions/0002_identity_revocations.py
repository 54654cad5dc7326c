"""The ``revocations`` table: ended sessions and disabled users while their access tokens live.

Revision ID: 0002_identity_revocations
Revises: 0001_identity
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002_identity_revocations"
down_revision = "0001_identity"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("not_before", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name="pk_revocations"),
        sa.CheckConstraint("kind IN ('session', 'user')", name="ck_revocations_kind"),
    )
    op.create_index("ix_revocations_expires", "revocations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_revocations_expires", table_name="revocations")
    op.drop_table("revocations")
