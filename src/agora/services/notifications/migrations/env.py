"""Alembic entry point for notifications' version line (``alembic_version_notifications``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.notifications.models import metadata

run_migrations_env(metadata)
