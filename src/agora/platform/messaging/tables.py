"""The messaging tables every service database carries: ``outbox``, ``inbox``, ``dead_letters``.

They live in each service's own database (never a shared one) because the outbox row must be
written in the same transaction as the state change, and the inbox row in the same transaction
as the handler's effect. Column types are chosen to work on SQLite, PostgreSQL and MariaDB:
indexed strings are bounded (``String(36)``/``String(200)``) to stay under InnoDB's index key
length with utf8mb4, and timestamps carry microseconds on MariaDB (plain ``DATETIME`` would
round to the second).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; elsewhere the id is a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: Event payloads can be large; MariaDB's TEXT stops at 64 KiB.
Payload = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
#: Timezone-aware where the database supports it, microsecond precision on MariaDB.
Timestamp = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

EVENT_ID = 36  # a uuid4 string
NAME = 200  # topics, event types, consumer names, sources, keys

messaging_metadata = MetaData()

outbox = Table(
    "outbox",
    messaging_metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(EVENT_ID), nullable=False),
    Column("source", String(NAME), nullable=False),
    Column("topic", String(NAME), nullable=False),
    Column("type", String(NAME), nullable=False),
    Column("key", String(NAME), nullable=True),
    Column("payload", Payload, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("published_at", Timestamp, nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("event_id", name="uq_outbox_event_id"),
    # The relay scans "published_at IS NULL ORDER BY id": this index serves it on all three
    # databases (MariaDB has no partial indexes, so it is a plain composite one).
    Index("ix_outbox_unpublished", "published_at", "id"),
)

inbox = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(NAME), nullable=False),
    Column("event_id", String(EVENT_ID), nullable=False),
    Column("handled_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
)

dead_letters = Table(
    "dead_letters",
    messaging_metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("consumer", String(NAME), nullable=False),
    Column("topic", String(NAME), nullable=False),
    Column("event_id", String(EVENT_ID), nullable=False),
    Column("event_type", String(NAME), nullable=False),
    Column("payload", Payload, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("replayed_at", Timestamp, nullable=True),
    Index("ix_dead_letters_consumer_created", "consumer", "created_at"),
)

__all__ = ["dead_letters", "inbox", "messaging_metadata", "outbox"]
