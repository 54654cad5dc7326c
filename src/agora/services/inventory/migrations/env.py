"""Alembic entry point for inventory's version line (``alembic_version_inventory``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.inventory.models import metadata

run_migrations_env(metadata)
