"""Every query of support. Conversation reads start from :meth:`SupportRepository.visible`, which
already applies who may see what: a customer their own conversations, an agent all of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.support.models import AGENT, CLOSED, OPEN, Conversation, Message


class SupportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def visible(viewer_id: str, *, agent: bool) -> Select[Conversation]:
        statement = select(Conversation)
        return statement if agent else statement.where(Conversation.customer_id == viewer_id)

    async def conversation(self, conversation_id: str, viewer_id: str, *, agent: bool) -> Conversation | None:
        statement = self.visible(viewer_id, agent=agent).where(Conversation.id == conversation_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def open_of(self, customer_id: str) -> Conversation | None:
        statement = select(Conversation).where(Conversation.open_customer_id == customer_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def page(
        self,
        viewer_id: str,
        *,
        agent: bool,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Conversation]:
        """Newest activity first (``updated_at``, then id), after the keyset position ``after``."""
        statement = self.visible(viewer_id, agent=agent)
        if status is not None:
            statement = statement.where(Conversation.status == status)
        if after is not None:
            updated_at, conversation_id = after
            statement = statement.where(
                or_(
                    Conversation.updated_at < updated_at,
                    and_(Conversation.updated_at == updated_at, Conversation.id < conversation_id),
                )
            )
        statement = statement.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
        return list((await self.session.scalars(statement)).all())

    async def messages(self, conversation_id: str, *, after_seq: int, limit: int) -> list[Message]:
        statement = (
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
            .order_by(Message.seq)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def next_seq(self, conversation_id: str, *, author_role: str, now: datetime) -> int | None:
        """Takes the next message number of an open conversation and moves the unread counters and the
        author's own read marker, in one UPDATE (which also locks the row until commit, so concurrent
        posts are numbered one after the other); None when the conversation is not open."""
        seq = Conversation.last_seq + 1
        if author_role == AGENT:
            values = {"customer_unread": Conversation.customer_unread + 1, "agent_read_seq": seq, "agent_unread": 0}
        else:
            values = {"agent_unread": Conversation.agent_unread + 1, "customer_read_seq": seq, "customer_unread": 0}
        statement = (
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status == OPEN)
            .values(last_seq=seq, updated_at=now, last_message_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        number = await self.session.scalar(select(Conversation.last_seq).where(Conversation.id == conversation_id))
        return int(number or 0)

    async def mark_read(self, conversation_id: str, *, side: str) -> None:
        """Moves ``side``'s read marker to the last message and zeroes its unread count (one UPDATE:
        a message posted concurrently is either before the marker or counted after it)."""
        if side == AGENT:
            values = {"agent_read_seq": Conversation.last_seq, "agent_unread": 0}
        else:
            values = {"customer_read_seq": Conversation.last_seq, "customer_unread": 0}
        statement = update(Conversation).where(Conversation.id == conversation_id).values(**values)
        await self.session.execute(statement.execution_options(synchronize_session=False))

    async def close(self, conversation_id: str, *, now: datetime) -> bool:
        statement = (
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status == OPEN)
            .values(status=CLOSED, open_customer_id=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
