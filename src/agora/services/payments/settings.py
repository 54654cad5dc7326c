"""``PaymentsSettings``: the payments service's own knobs, from ``AGORA_PAYMENTS_*``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agora.platform.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: ClassVar[str] = "payments"

    port: int = Field(default=8107, ge=1, le=65535)

    provider: Literal["simulated"] = "simulated"
    """Which card network answers; only the simulated one exists (see ``provider.py``)."""
