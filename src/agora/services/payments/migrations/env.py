"""Alembic entry point for the payments version line (``alembic_version_payments``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.payments.models import metadata

run_migrations_env(metadata)
