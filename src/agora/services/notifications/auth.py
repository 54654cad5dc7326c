"""The route guards notifications uses: every route is the caller's own (a signed-in user).

The stream authenticates like every route: the bearer token, or the browser's access cookie
(an ``EventSource`` cannot set headers). 401 without either.
"""

from __future__ import annotations

from agora.platform.auth import CurrentSubject

__all__ = ["CurrentSubject"]
