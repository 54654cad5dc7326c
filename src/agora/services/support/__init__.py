"""The support service: real-time chat between customers and support agents.

A customer opens a conversation (one open at a time) and writes; agents (roles support and
admin) see every conversation in a live inbox with unread counts and answer. Messages are
stored (and published as ``support.message.posted`` through the outbox), then pushed over the
WebSocket ``/api/support/ws`` to the sockets subscribed to the conversation or the inbox, through
the chassis fan-out (Redis pub/sub across processes when ``AGORA_REDIS_URL`` is set).

Routes in :mod:`.endpoints`, the socket in :mod:`.socket`, the fan-out and rate limiter on the
runtime (:mod:`.runtime`); the design and the protocol are in ``docs/support.md``.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.first_use import redis_readiness
from agora.platform.service import ServiceSpec
from agora.services.support.endpoints import router
from agora.services.support.models import metadata
from agora.services.support.runtime import start
from agora.services.support.settings import SupportSettings

spec = ServiceSpec(
    name="support",
    title="Agora support",
    settings_cls=SupportSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    readiness_checks=redis_readiness,
    depends_on=("identity",),
)

__all__ = ["SupportSettings", "spec"]
