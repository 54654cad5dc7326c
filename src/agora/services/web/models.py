"""The web owns no tables: pages are drawn from the services' APIs and sessions live in cookies.

It still has a database like every service, holding only the chassis's messaging tables, so it
runs, migrates and is checked exactly like the others.
"""

from __future__ import annotations

from agora.platform.db.types import service_metadata

metadata = service_metadata()
