"""The ``idempotency_keys`` table, in the database of each service that takes ``Idempotency-Key``.

It lives beside the service's own tables so the stored answer commits in the same transaction
as the effect it describes (a charge row and the 201 that announced it, never one without the
other). Sizes keep the (scope, key) primary key under InnoDB's index limit with utf8mb4.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text

from agora.platform.db.types import UTCDateTime
from agora.platform.messaging.tables import Payload

SCOPE = 200  # the caller's subject id ("<user uuid>", "service:orders")
KEY = 255  # the draft leaves the length open; 255 is plenty for a UUID or a client's own scheme
FINGERPRINT = 64  # hex HMAC-SHA256

idempotency_metadata = MetaData()

idempotency_keys = Table(
    "idempotency_keys",
    idempotency_metadata,
    Column("scope", String(SCOPE), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("fingerprint", String(FINGERPRINT), nullable=False),
    Column("state", String(16), nullable=False),  # processing | completed
    Column("status_code", Integer, nullable=True),
    Column("content_type", String(100), nullable=True),
    Column("response_body", Payload, nullable=True),
    Column("response_headers", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

__all__ = ["FINGERPRINT", "KEY", "SCOPE", "idempotency_keys", "idempotency_metadata"]
