"""``WebSettings``: the web's own knobs, from ``AGORA_WEB_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from agora.platform.settings import ServiceSettings

MIB = 1024 * 1024


class WebSettings(ServiceSettings):
    service_name: ClassVar[str] = "web"

    port: int = Field(default=8116, ge=1, le=65535)
    max_body_bytes: int | None = Field(default=10 * 1024 * 1024 + 64 * 1024, ge=1024)
    """The admin console's image upload passes through the web: media's 10 MiB plus the form."""
    page_size: int = Field(default=12, ge=1, le=100)
    """Products per category or search page."""
    backend_timeout: float = Field(default=3.0, gt=0, le=60)
    """How long a page waits for one service before drawing that part as unavailable."""
    upload_timeout: float = Field(default=10.0, gt=0, le=600)
    """How long the admin console waits for media to take an image, before its bytes are counted:
    media decodes it, checks it and makes its thumbnails."""
    upload_seconds_per_mib: float = Field(default=1.5, ge=0, le=600)
    """And this much longer per MiB of the image (sending it, then decoding more pixels): 25 s for
    media's 10 MiB, within the 30 s the distributed front proxy waits for an answer."""
    metrics_interval: float = Field(default=2.0, gt=0, le=60)
    """How often the admin console samples every service's /metrics for its charts, while it is
    being watched (see ``metrics_watch_seconds``)."""
    metrics_watch_seconds: float = Field(default=600.0, gt=0, le=86_400)
    """The sampler runs from a console page's first read of the charts until this long after the
    last one (10 minutes: the window); then it pauses, and the charts start again from the next
    view. Sampling nobody looks at was an idle ``agora up``'s largest periodic cost, and in the
    distributed set a /metrics request to every service every 2 s."""
    metrics_window: int = Field(default=300, ge=10, le=10_000)
    """How many samples the charts keep (300 x 2 s = the last 10 minutes)."""
    grafana_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    """Grafana's address as an admin's browser reaches it (``AGORA_WEB_GRAFANA_URL``): the admin
    console links each service's dashboards there; unset, it lists them without links."""
    alertmanager_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    """Alertmanager's address as the web reaches it (``AGORA_WEB_ALERTMANAGER_URL``): the admin
    console shows the alerts firing; unset or down, the page says so."""
    image_origins: str = ""
    """Extra origins images may come from (space-separated): the S3 endpoint when media presigns."""

    @field_validator("grafana_url", "alertmanager_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose passes ``${AGORA_WEB_GRAFANA_URL:-}`` through as "" when the variable is unset
        return None if value == "" else value

    def upload_timeout_for(self, size: int) -> float:
        """How long an upload of ``size`` bytes may take to be answered."""
        return self.upload_timeout + self.upload_seconds_per_mib * size / MIB
