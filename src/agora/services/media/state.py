"""The one object store of a running media service, opened on first use and closed at shutdown."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from agora.services.media.settings import MediaSettings
from agora.services.media.storage import ObjectStore, create_store

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

_STORE = "media.store"


def store_of(context: ServiceContext) -> ObjectStore:
    store = context.extras.get(_STORE)
    if store is None:
        store = create_store(cast(MediaSettings, context.settings), context.platform)
        context.extras[_STORE] = store
    return cast(ObjectStore, store)


async def close_store(context: ServiceContext) -> None:
    store = context.extras.pop(_STORE, None)
    if store is not None:
        await store.close()
