"""The media service: image upload (sniffed, limited, cleaned), thumbnails, object storage, serving.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
It consumes the catalog's product events (:mod:`.handlers`) to know which images products show
and to draw the demo products' pictures; it calls no other service and publishes nothing.
The object store (:mod:`.storage`) is a local directory or an S3 bucket, opened on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from agora.platform.service import ServiceContext, ServiceSpec
from agora.services.media.endpoints import router
from agora.services.media.handlers import consumers
from agora.services.media.models import metadata
from agora.services.media.port import DirectMedia
from agora.services.media.runtime import start, store_of
from agora.services.media.settings import MediaSettings


def readiness_checks(context: ServiceContext) -> Mapping[str, Callable[[], Awaitable[object]]]:
    return {"object_store": lambda: store_of(context).ping()}


spec = ServiceSpec(
    name="media",
    title="Agora media",
    settings_cls=MediaSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    readiness_checks=readiness_checks,
    port=DirectMedia,
)

__all__ = ["MediaSettings", "spec"]
