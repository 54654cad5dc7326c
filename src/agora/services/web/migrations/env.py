"""Alembic entry point for the web's version line (``alembic_version_web``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.web.models import metadata

run_migrations_env(metadata)
