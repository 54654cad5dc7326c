"""``MediaSettings``: the media service's own knobs, from ``AGORA_MEDIA_*``.

The object store is a local directory (``<data dir>/media`` unless ``AGORA_MEDIA_LOCAL_DIR`` says
otherwise) until ``AGORA_MEDIA_S3_BUCKET`` is set; then every object goes to that S3-compatible
bucket (``AGORA_MEDIA_S3_ENDPOINT_URL`` for MinIO or moto, unset for AWS itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr, model_validator

from agora.platform.settings import PlatformSettings, ServiceSettings

MIB = 1024 * 1024
#: What a multipart envelope adds around the file (boundaries, part headers, the purpose field).
MULTIPART_OVERHEAD = 64 * 1024
DEFAULT_MAX_UPLOAD = 10 * MIB


class MediaSettings(ServiceSettings):
    service_name: ClassVar[str] = "media"

    port: int = Field(default=8114, ge=1, le=65535)

    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD, ge=1024, le=100 * MIB)
    """The largest image file accepted; a bigger body is a 413 while it is still being read."""
    max_pixels: int = Field(default=40_000_000, ge=1, le=200_000_000)
    """A product image's width x height, checked from the header before any pixel is decoded."""
    max_side: int = Field(default=10_000, ge=16, le=65_535)
    avatar_max_pixels: int = Field(default=4096 * 4096, ge=1, le=200_000_000)
    """An avatar's width x height (a phone's 12 MP photo fits; a 40 MP poster does not)."""
    avatar_max_side: int = Field(default=8192, ge=16, le=65_535)
    avatar_side: int = Field(default=1024, ge=160, le=8192)
    """Avatars are kept scaled down to this side; a JPEG is decoded straight at that scale."""

    decode_threads: int = Field(default=2, ge=1, le=64)
    """Decodes that run at once (CPU); the pixel budget below bounds their memory."""
    decode_budget_pixels: int = Field(default=40_000_000, ge=1_000_000, le=1_000_000_000)
    """Pixels decoded at once across all uploads (about 4 bytes each); a larger image runs alone."""
    decode_queue: int = Field(default=16, ge=0, le=10_000)
    """Uploads that may wait for the decode budget; one more is a 503 with Retry-After."""
    decode_wait_seconds: float = Field(default=30.0, gt=0, le=600)
    """How long an upload waits for the decode budget before it is answered 503."""

    upload_rate: int = Field(default=30, ge=1, le=100_000)
    """Uploads per user in ``upload_rate_window_seconds`` (a moving window); then 429."""
    upload_rate_window_seconds: int = Field(default=600, ge=1, le=86_400)
    rate_limit_storage_url: str | None = None
    """Where the counters live (``async+redis://...``); else ``AGORA_REDIS_URL``, else memory."""

    avatar_quota_images: int = Field(default=20, ge=1)
    avatar_quota_bytes: int = Field(default=32 * MIB, ge=1024)
    product_quota_images: int = Field(default=10_000, ge=1)
    product_quota_bytes: int = Field(default=4096 * MIB, ge=1024)
    """What one user may keep per purpose (originals and thumbnails); past it an upload is a 413."""

    local_dir: Path | None = None
    """The local store's directory; ``<AGORA_DATA_DIR>/media`` when unset."""

    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    """The S3 address browsers use in presigned URLs when it differs from the service's (compose)."""
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_presign: bool = True
    """Serve images on S3 with a 302 to a presigned URL (else through the service)."""
    s3_presign_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    claim_seconds: int = Field(default=600, ge=0, le=86_400)
    """After the catalog checked an image for a product write, how long it cannot be deleted while
    the product's event is on its way (a shown image is protected by the event itself)."""

    gc_grace_minutes: float = Field(default=60.0, ge=0)
    """Objects younger than this are never removed by ``agora media-gc`` (an upload may be in flight)."""

    @model_validator(mode="before")
    @classmethod
    def _body_limit_follows_upload_limit(cls, data: Any) -> Any:
        # the chassis' body limit for this service (AGORA_MEDIA_MAX_BODY_BYTES) defaults to what
        # one upload needs, so raising the upload limit alone is enough
        if isinstance(data, dict) and data.get("max_body_bytes") is None:
            upload = int(data.get("max_upload_bytes") or DEFAULT_MAX_UPLOAD)
            data = {**data, "max_body_bytes": upload + MULTIPART_OVERHEAD}
        return data

    @property
    def upload_body_limit(self) -> int:
        """The largest multipart body an upload may send: one file plus the envelope."""
        return self.max_upload_bytes + MULTIPART_OVERHEAD

    def resolved_local_dir(self, platform: PlatformSettings) -> Path:
        return (self.local_dir or platform.data_dir / "media").resolve()
