"""Alembic entry point for support's version line (``alembic_version_support``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.support.models import metadata

run_migrations_env(metadata)
