"""Test support: pytest fixtures for real backends, tokens and running services.

Register in ``tests/conftest.py``::

    pytest_plugins = ["agora.platform.testing.databases", "agora.platform.testing.auth",
                      "agora.platform.testing.brokers"]
"""
