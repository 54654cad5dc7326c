"""A product's images that are media ids must name product images the media service holds.

Checked on create and update, only for requests whose ``images`` carry media ids (URLs and site
paths pass as before), with one call to media's ``POST /api/media/lookup`` as this service. An
id media does not know, or an avatar, is a 422 naming the entry; media unreachable is a 503, and
nothing is written either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import structlog

from agora.contracts.media import is_media_id
from agora.platform.auth.service_tokens import ServiceTokenError
from agora.platform.errors import ServiceUnavailableError, UnprocessableError
from agora.platform.http.clients import ServiceClient, ServiceNotConfiguredError
from agora.platform.http.resilience import CircuitOpenError

log = structlog.get_logger(__name__)

LOOKUP_PATH = "/api/media/lookup"


async def check_media_refs(client: ServiceClient, images: Sequence[str]) -> None:
    ids = list(dict.fromkeys(ref for ref in images if is_media_id(ref)))
    if not ids:
        return
    unavailable = ServiceUnavailableError(
        "The media service cannot be reached to check the product's images; try again shortly.",
        field="body.images",
    )
    try:
        # claim: media keeps them from being deleted until this product's event reaches it
        response = await client.post(LOOKUP_PATH, json={"ids": ids, "claim": True}, as_service=True)
    except (httpx.HTTPError, CircuitOpenError, ServiceTokenError, ServiceNotConfiguredError) as exc:
        log.warning("media_unavailable", error=type(exc).__name__)
        raise unavailable from None
    if response.status_code != 200:
        log.warning("media_unavailable", status=response.status_code)
        raise unavailable
    purposes = {item["id"]: item["purpose"] for item in response.json()["items"]}
    for index, ref in enumerate(images):
        if not is_media_id(ref):
            continue
        purpose = purposes.get(ref)
        if purpose != "product":
            detail = "is not a product image" if purpose else "is not an image the media service holds"
            raise UnprocessableError(f"images[{index}] {detail}: upload it first.", field=f"body.images.{index}")
