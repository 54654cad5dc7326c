"""Alembic entry point for the currency's version line (``alembic_version_currency``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.currency.models import metadata

run_migrations_env(metadata)
