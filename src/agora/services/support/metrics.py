"""Support's business numbers (Prometheus; module-level: the registry is process-global)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from agora.platform.observability.metrics import preinitialise

messages_total = Counter(
    "agora_support_messages_total",
    "Chat messages stored, by author role (customer, agent), counted after the commit.",
    ("role",),
)
open_websockets = Gauge("agora_support_websockets", "Open support chat WebSockets in this process.")
rate_limited_total = Counter("agora_support_rate_limited_total", "Messages refused by the per-user rate limit.")
sockets_refused_total = Counter(
    "agora_support_websockets_refused_total",
    "Chat WebSockets refused by a cap on open sockets: per user (user) or of the process (total).",
    ("scope",),
)

preinitialise(messages_total, "customer", "agent")
preinitialise(sockets_refused_total, "user", "total")
