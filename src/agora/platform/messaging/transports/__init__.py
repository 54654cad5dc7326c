"""Broker transports behind one interface, chosen by URL scheme."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from agora.platform.messaging.transports.base import (
    Handler,
    Outgoing,
    Subscription,
    Transport,
    TransportError,
)

#: The in-process broker's journal, under the data directory of the process that owns it.
JOURNAL_FILE = "broker.db"


def create_transport(url: str, *, data_dir: Path | None = None) -> Transport:
    """``memory://``, ``kafka://h:p[,h:p]``, ``nats://h:p``, ``redis://h:p/db``; query string = options.

    ``data_dir``: the in-process broker keeps its journal there (``agora up``), surviving a crash
    like a networked broker; without it, it keeps nothing beyond the process (tests, one-off
    commands). Clients are imported lazily so a process only loads the client of the broker it uses.
    """
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    scheme = parts.scheme.lower()
    if scheme == "memory":
        from agora.platform.messaging.transports.memory import MemoryTransport

        numbers: dict[str, Any] = {k: int(v) if k == "retention" else float(v) for k, v in options.items()}
        journal = data_dir / JOURNAL_FILE if data_dir is not None else None
        return MemoryTransport(journal=journal, **numbers)
    if scheme == "kafka":
        from agora.platform.messaging.transports.kafka import KafkaTransport

        return KafkaTransport(parts.netloc, **options)
    if scheme == "nats":
        from agora.platform.messaging.transports.nats import NatsTransport

        return NatsTransport(urlunsplit(("nats", parts.netloc, "", "", "")), **options)
    if scheme in ("redis", "rediss"):
        from agora.platform.messaging.transports.redis import RedisTransport

        return RedisTransport(urlunsplit((scheme, parts.netloc, parts.path, "", "")), **options)
    raise ValueError(f"unsupported broker URL scheme {parts.scheme!r} (memory, kafka, nats, redis)")


__all__ = ["JOURNAL_FILE", "Handler", "Outgoing", "Subscription", "Transport", "TransportError", "create_transport"]
