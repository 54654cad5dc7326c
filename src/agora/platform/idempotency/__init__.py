"""Idempotency keys (draft-ietf-httpapi-idempotency-key-header) for unsafe operations.

See :mod:`.store` for the semantics and :mod:`.http` for the endpoint helper.
"""

from agora.platform.idempotency.http import (
    REPLAYED_HEADER,
    IdempotencyKey,
    IdempotentResult,
    context_store,
    idempotent,
    purge_task,
    replay_response,
    store_for,
)
from agora.platform.idempotency.store import (
    HEADER,
    Begun,
    IdempotencyStore,
    KeyInFlight,
    KeyReused,
    Replay,
    fingerprint,
)
from agora.platform.idempotency.tables import idempotency_keys, idempotency_metadata

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "Begun",
    "IdempotencyKey",
    "IdempotencyStore",
    "IdempotentResult",
    "KeyInFlight",
    "KeyReused",
    "Replay",
    "context_store",
    "fingerprint",
    "idempotency_keys",
    "idempotency_metadata",
    "idempotent",
    "purge_task",
    "replay_response",
    "store_for",
]
