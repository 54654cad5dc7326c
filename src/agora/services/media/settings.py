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
    """Width x height, checked from the header before any pixel is decoded (decompression bombs)."""
    max_side: int = Field(default=10_000, ge=16, le=65_535)

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
