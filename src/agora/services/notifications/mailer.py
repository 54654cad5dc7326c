"""Sending the emails: after the event's transaction committed, once each.

An email row is written (``pending``) in the inbox transaction of the event that caused it; the
consumer wakes the mailer once that transaction committed, and a periodic sweep retries what is
still pending (a failed send, a process that died). A sender first claims the row (a conditional
UPDATE to ``sending``, committed), so two replicas never send the same email; ``sent`` is
recorded after the SMTP server accepted it, so a redelivered event never resends. The window
between the server's acceptance and that commit is the one place a crash can send twice.

The recipient's address comes from identity at send time, through its port (as this service:
identity's internal route over HTTP, identity's own lookup when embedded).
With ``smtp_host`` unset (embedded mode) each message is written to ``<data_dir>/mailbox/`` as
an ``.eml`` file any mail client opens, and its path is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import aiosmtplib
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.contracts.ports import IdentityPort
from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.errors import NotFoundError
from agora.services.notifications import metrics
from agora.services.notifications.models import FAILED, PENDING, SENT, Email
from agora.services.notifications.rendering import email_message
from agora.services.notifications.repository import NotificationsRepository
from agora.services.notifications.settings import NotificationsSettings

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

_ERROR_LIMIT = 2000


class RecipientGoneError(Exception):
    """Identity has no such user (deleted): the email can never be sent."""


class Mailer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        *,
        identity: IdentityPort,
        mailbox: Path,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._identity = identity
        self.mailbox = mailbox
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self, email_id: str) -> None:
        """Sends ``email_id`` soon (call after its transaction committed)."""
        task = asyncio.create_task(self._send_quietly(email_id), name=f"notifications:email:{email_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_quietly(self, email_id: str) -> None:
        try:
            await self.send(email_id)
        except Exception:
            log.exception("email_send_crashed", email_id=email_id)

    async def sweep(self) -> int:
        """Sends every due email (pending, or claimed by a sender that died); returns how many left."""
        now = utcnow()
        stale = now - timedelta(seconds=self._settings.mail_claim_seconds)
        async with unit_of_work(self._sessions) as session:
            due = await NotificationsRepository(session).due_emails(
                stale_before=stale, limit=self._settings.mail_batch_size
            )
        sent = 0
        for email_id in due:
            sent += int(await self.send(email_id))
        return sent

    async def send(self, email_id: str) -> bool:
        now = utcnow()
        stale = now - timedelta(seconds=self._settings.mail_claim_seconds)
        async with unit_of_work(self._sessions) as session:
            repository = NotificationsRepository(session)
            if not await repository.claim_email(email_id, now=now, stale_before=stale):
                return False  # sent already, or another sender has it
            await session.commit()
            email = await repository.email(email_id)
            assert email is not None
            user_id, subject, body, attempts = email.user_id, email.subject, email.body, email.attempts
        try:
            recipient, display_name = await self._recipient(user_id)
            text = body.replace("Hello,", f"Hello {display_name},", 1) if display_name else body
            message = email_message(
                sender=self._settings.smtp_from,
                recipient=recipient,
                subject=subject,
                text=text,
                message_id_domain="agora.local",
            )
            outcome = await self._deliver(email_id, message)
        except Exception as exc:
            gone = isinstance(exc, RecipientGoneError) or attempts >= self._settings.mail_max_attempts
            await self._finish(email_id, status=FAILED if gone else PENDING, error=repr(exc)[:_ERROR_LIMIT])
            metrics.emails_total.labels("failed" if gone else "retried").inc()
            log.warning("email_not_sent", email_id=email_id, attempts=attempts, final=gone, error=repr(exc))
            return False
        await self._finish(email_id, status=SENT, recipient=recipient)
        metrics.emails_total.labels(outcome).inc()
        return True

    async def _recipient(self, user_id: str) -> tuple[str, str]:
        try:
            user = await self._identity.user_contact(user_id)
        except NotFoundError:
            raise RecipientGoneError(user_id) from None
        return user.email, user.display_name or ""

    async def _deliver(self, email_id: str, message: object) -> str:
        from email.message import EmailMessage

        assert isinstance(message, EmailMessage)
        settings = self._settings
        if settings.smtp_host:
            # a client span, child of the event's processing: the last hop of a checkout's trace
            with tracer.start_as_current_span(
                "smtp send",
                kind=SpanKind.CLIENT,
                attributes={
                    "network.protocol.name": "smtp",
                    "server.address": settings.smtp_host,
                    "server.port": settings.smtp_port,
                },
            ):
                await aiosmtplib.send(
                    message,
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                    start_tls=settings.smtp_starttls,
                    timeout=settings.smtp_timeout_seconds,
                )
            log.info("email_sent", email_id=email_id, to=message["To"], subject=message["Subject"])
            return "sent"
        self.mailbox.mkdir(parents=True, exist_ok=True)
        path = self.mailbox / f"{utcnow():%Y%m%dT%H%M%S}-{email_id}.eml"
        await asyncio.to_thread(path.write_bytes, message.as_bytes())
        log.info("email_written", email_id=email_id, path=str(path), to=message["To"], subject=message["Subject"])
        return "written"

    async def _finish(
        self, email_id: str, *, status: str, recipient: str | None = None, error: str | None = None
    ) -> None:
        values: dict[str, object] = {"status": status, "error": error}
        if status == SENT:
            values.update(sent_at=utcnow(), recipient=recipient)
        async with unit_of_work(self._sessions) as session:
            await session.execute(update(Email).where(Email.id == email_id).values(**values))
            await session.commit()

    async def close(self) -> None:
        tasks, self._tasks = set(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["FAILED", "PENDING", "SENT", "Mailer"]
