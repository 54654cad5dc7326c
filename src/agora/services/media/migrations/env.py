"""Alembic entry point for the media service's version line (``alembic_version_media``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.media.models import metadata

run_migrations_env(metadata)
