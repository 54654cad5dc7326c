"""The route guards recommendations uses: per-product reads are public, ``/me`` needs a signed-in user."""

from __future__ import annotations

from agora.platform.auth import CurrentSubject

__all__ = ["CurrentSubject"]
