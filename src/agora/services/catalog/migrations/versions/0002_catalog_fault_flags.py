"""The ``fault_flags`` table: the fault flags an admin switches on (agora.platform.faults).

Revision ID: 0002_catalog_fault_flags
Revises: 0001_catalog
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from agora.platform import faults

revision = "0002_catalog_fault_flags"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    faults.upgrade(op)


def downgrade() -> None:
    faults.downgrade(op)
