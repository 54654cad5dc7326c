"""the idempotency keys table"""

from alembic import op

from agora.platform.idempotency import migrations as idempotency

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    idempotency.upgrade(op)


def downgrade() -> None:
    idempotency.downgrade(op)
