"""Alembic entry point for identity's version line (``alembic_version_identity``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.identity.models import metadata

run_migrations_env(metadata)
