"""Alembic entry point for the recommendations version line (``alembic_version_recommendations``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.recommendations.models import metadata

run_migrations_env(metadata)
