"""The media service's business metrics (module-level: the Prometheus registry is process-global)."""

from __future__ import annotations

from prometheus_client import Counter

from agora.platform.observability.metrics import preinitialise

uploads_total = Counter(
    "agora_media_uploads_total",
    "Image uploads by outcome (stored, duplicate, too_large, type, dimensions, damaged, bad_request, forbidden, "
    "rate_limited, quota, busy).",
    ("outcome",),
)
bytes_stored_total = Counter(
    "agora_media_bytes_stored_total",
    "Bytes written to the object store (originals and thumbnails; a duplicate writes nothing).",
)
objects_collected_total = Counter(
    "agora_media_objects_collected_total",
    "Orphaned objects removed by media-gc.",
)

preinitialise(
    uploads_total,
    *"stored duplicate too_large type dimensions damaged bad_request forbidden rate_limited quota busy".split(),
)
