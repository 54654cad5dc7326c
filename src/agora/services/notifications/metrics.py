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

preinitialise(emails_total, "sent", "written", "retried", "failed")
