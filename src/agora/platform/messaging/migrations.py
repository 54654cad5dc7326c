"""Alembic operations that create and drop the messaging tables.

A service's migration calls :func:`upgrade` / :func:`downgrade` from its own revision. The
columns are spelled out here rather than derived from :mod:`.tables` on purpose: a migration is
a frozen record of what was created at that revision, and must not change when the table
definitions evolve (a later change gets its own function and revision).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from agora.platform.messaging.tables import EVENT_ID, NAME, BigId, Payload, Timestamp


def upgrade(op: Any) -> None:
    """Create ``outbox``, ``inbox`` and ``dead_letters`` (``op`` is ``alembic.op``)."""
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(EVENT_ID), nullable=False),
        sa.Column("source", sa.String(NAME), nullable=False),
        sa.Column("topic", sa.String(NAME), nullable=False),
        sa.Column("type", sa.String(NAME), nullable=False),
        sa.Column("key", sa.String(NAME), nullable=True),
        sa.Column("payload", Payload, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("published_at", Timestamp, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(NAME), nullable=False),
        sa.Column("event_id", sa.String(EVENT_ID), nullable=False),
        sa.Column("handled_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(NAME), nullable=False),
        sa.Column("topic", sa.String(NAME), nullable=False),
        sa.Column("event_id", sa.String(EVENT_ID), nullable=False),
        sa.Column("event_type", sa.String(NAME), nullable=False),
        sa.Column("payload", Payload, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("replayed_at", Timestamp, nullable=True),
    )
    op.create_index("ix_dead_letters_consumer_created", "dead_letters", ["consumer", "created_at"])


def downgrade(op: Any) -> None:
    """Drop the messaging tables (events still waiting in the outbox are lost)."""
    op.drop_index("ix_dead_letters_consumer_created", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
