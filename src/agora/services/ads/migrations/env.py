"""Alembic entry point for the ads' version line (``alembic_version_ads``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.ads.models import metadata

run_migrations_env(metadata)
