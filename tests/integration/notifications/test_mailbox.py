"""Embedded mode (no SMTP host): each email is an .eml file under ``<data_dir>/mailbox/``."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

from agora.contracts.http import HttpIdentity
from agora.contracts.orders import order_number
from agora.platform.db import unit_of_work
from agora.platform.peers import Caller
from agora.services.notifications.mailer import Mailer
from agora.services.notifications.rendering import Facts
from agora.services.notifications.service import NotificationsService

from .conftest import Notifications
from .support import new_order_id, text_of


async def test_without_smtp_the_email_is_written_to_the_mailbox(notif: Notifications, tmp_path: Path) -> None:
    user = await notif.user()
    context = notif.context
    embedded = context.settings.model_copy(update={"smtp_host": None})
    identity = HttpIdentity(context.clients, Caller("notifications"))
    mailer = Mailer(context.sessions, embedded, identity=identity, mailbox=tmp_path / "mailbox")
    order_id = new_order_id()
    async with unit_of_work(context.sessions) as session:
        created = await NotificationsService(session).record("order_delivered", user.id, Facts(order_id), email=True)
        await session.commit()
    assert created is not None and created.email_id is not None

    assert await mailer.send(created.email_id)
    (path,) = (tmp_path / "mailbox").glob("*.eml")
    message = message_from_bytes(path.read_bytes())
    assert message["To"] == user.email and order_number(order_id) in message["Subject"] and order_id in text_of(message)
    assert not await mailer.send(created.email_id)  # recorded as sent: never twice
    assert len(list((tmp_path / "mailbox").glob("*.eml"))) == 1
