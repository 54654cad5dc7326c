"""Alembic entry point for analytics' version line (``alembic_version_analytics``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.analytics.models import metadata

run_migrations_env(metadata)
