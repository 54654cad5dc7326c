"""Alembic entry point for the catalog's version line (``alembic_version_catalog``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.catalog.models import metadata

run_migrations_env(metadata)
