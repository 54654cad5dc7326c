"""The notifications service: order, payment and shipping events become notifications, emails
and live pushes.

Its spec is the only thing the registry needs. Consumers are in :mod:`.handlers`, the emails in
:mod:`.mailer` (SMTP, or ``<data_dir>/mailbox/*.eml`` when no SMTP host is configured), the
recent-notifications cache in :mod:`.cache`, the real-time hub in :mod:`.push`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agora.platform.first_use import redis_readiness
from agora.platform.service import ServiceContext, ServiceSpec
from agora.platform.tasks import PeriodicTask
from agora.services.notifications.endpoints import router
from agora.services.notifications.handlers import consumers
from agora.services.notifications.models import metadata
from agora.services.notifications.runtime import notifications_runtime, start
from agora.services.notifications.settings import NotificationsSettings

MAIL_TASK = "notifications.send_emails"
#: while sweeps send nothing the retry sweep backs off to this many intervals (60 s by default):
#: each new email is sent at once when its event commits (``Mailer.wake``), so the sweep only
#: retries failed sends and those of a process that died, and during an SMTP outage its retries
#: space out 5, 10, 20, 40, 60 s instead of hitting the server every 5 s
MAIL_IDLE_FACTOR = 12


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    runtime = notifications_runtime(context)
    interval = runtime.settings.mail_interval_seconds
    return [PeriodicTask(MAIL_TASK, interval, runtime.mailer.sweep, idle_factor=MAIL_IDLE_FACTOR)]


spec = ServiceSpec(
    name="notifications",
    title="Agora notifications",
    settings_cls=NotificationsSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    readiness_checks=redis_readiness,
    depends_on=("identity",),
)

__all__ = ["NotificationsSettings", "spec"]
