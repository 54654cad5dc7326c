"""notes and the messaging tables"""

import sqlalchemy as sa
from alembic import op

from agora.platform.messaging import migrations as messaging

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("text", sa.String(100), nullable=False),
    )
    messaging.upgrade(op)


def downgrade() -> None:
    messaging.downgrade(op)
    op.drop_table("notes")
