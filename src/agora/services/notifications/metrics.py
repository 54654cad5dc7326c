"""Notifications' business numbers (Prometheus), counted after the change committed."""

from __future__ import annotations

from prometheus_client import Counter

from agora.platform.observability.metrics import preinitialise

notifications_total = Counter(
    "agora_notifications_total",
    "Notifications stored, by kind (a fact reported twice counts once).",
    ("kind",),
)
emails_total = Counter(
    "agora_emails_total",
    "Emails by outcome: sent (SMTP), written (embedded mailbox), retried, failed (gave up).",
    ("outcome",),
)

streams_refused_total = Counter(
    "agora_notification_streams_refused_total",
    "Notification streams refused by a cap on open streams: per user (user) or of the process (total).",
    ("scope",),
)

preinitialise(streams_refused_total, "user", "total")
preinitialise(emails_total, "sent", "written", "retried", "failed")
