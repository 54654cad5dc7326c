"""Alembic entry point for shipping's version line (``alembic_version_shipping``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.shipping.models import metadata

run_migrations_env(metadata)
