"""Alembic entry point for the cart's version line (``alembic_version_cart``)."""

from agora.platform.db.migrations import run_migrations_env
from agora.services.cart.models import metadata

run_migrations_env(metadata)
