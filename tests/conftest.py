"""Fixtures shared by every test: real backends (databases, brokers), tokens, running services."""

pytest_plugins = [
    "agora.platform.testing.databases",
    "agora.platform.testing.auth",
    "agora.platform.testing.brokers",
]
