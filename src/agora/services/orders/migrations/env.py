"""Alembic entry point for the orders' version line (``alembic_version_orders``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.orders.models import metadata

run_migrations_env(metadata)
