"""The names of the services this build runs, for code that must not import the services.

The web's admin console asks every service for its health, metrics and messaging state by name;
importing :mod:`agora.registry` for that would import every service package (and break the rule
that services never import each other). The registry imports each service by this name.
"""

from __future__ import annotations

SERVICE_NAMES: tuple[str, ...] = (
    "identity",
    "catalog",
    "inventory",
    "cart",
    "currency",
    "shipping",
    "payments",
    "orders",
    "notifications",
    "recommendations",
    "ads",
    "analytics",
    "media",
    "support",
    "web",
)
