"""The notifications service: order, payment and shipping events become notifications, emails
and live pushes.

Its spec is the only thing the registry needs. Consumers are in :mod:`.handlers`, the emails in
:mod:`.mailer` (SMTP, or ``<data_dir>/mailbox/*.eml`` when no SMTP host is configured), the
recent-notifications cache in :mod:`.cache`, the real-time hub in :mod:`.push`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agora.platform.service import ServiceContext, ServiceSpec
from agora.platform.tasks import PeriodicTask
from agora.services.notifications.endpoints import build_router
from agora.services.notifications.handlers import consumers
from agora.services.notifications.models import metadata
from agora.services.notifications.settings import NotificationsSettings
from agora.services.notifications.wiring import close_runtime, readiness_checks, runtime_of, settings_of

MAIL_TASK = "notifications.send_emails"


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    interval = settings_of(context).mail_interval_seconds
    return [PeriodicTask(MAIL_TASK, interval, lambda: runtime_of(context).mailer.sweep())]


spec = ServiceSpec(
    name="notifications",
    title="Agora notifications",
    settings_cls=NotificationsSettings,
    build_router=build_router,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    readiness_checks=readiness_checks,
    on_shutdown=close_runtime,
    depends_on=("identity",),
)

__all__ = ["NotificationsSettings", "spec"]
