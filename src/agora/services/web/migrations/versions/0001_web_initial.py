"""The messaging tables only: the web keeps no rows of its own (sessions live in cookies).

Revision ID: 0001_web
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_web"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)
