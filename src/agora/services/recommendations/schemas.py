"""Request and response models of the recommendations API (the response is the shared contract)."""

from __future__ import annotations

from agora.contracts.recommendations import Recommendation, Recommendations

__all__ = ["Recommendation", "Recommendations"]
