"""The outbox relay: moves committed outbox rows to the broker.

It polls and can be woken at once by :meth:`OutboxRelay.notify`, which the request session
calls after a commit that wrote events. The poll finds what no notify announced (rows another
process wrote, a batch left by a crash): every ``poll_interval`` while it finds something, the
pause doubling while it finds nothing, up to ``IDLE_POLL_FACTOR`` intervals, so an idle service
does not query its database every second (issue 16). Rows are published in id
order and marked ``published_at`` only after the broker accepted them, so a crash in between
re-publishes (consumers de-duplicate) and never loses. On PostgreSQL and MariaDB the batch is
locked ``FOR UPDATE SKIP LOCKED``: several relays (replicas of one service) share the work and
never publish the same row at the same time. SQLite has a single writer; run one relay per
SQLite database (embedded mode does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import unit_of_work
from agora.platform.faults import BROKER_PUBLISH_FAILURES, FaultFlags
from agora.platform.messaging.envelope import Envelope
from agora.platform.messaging.metrics import OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED, record_outbox
from agora.platform.messaging.tables import outbox
from agora.platform.messaging.tracing import messaging_system, sending
from agora.platform.messaging.transports.base import Outgoing, Transport

#: id, source, topic, key, payload of one unpublished outbox row
_OutboxRow = Row[Any, Any, Any, Any, Any]
log = logging.getLogger(__name__)

_LOCKING_DIALECTS = frozenset({"postgresql", "mysql"})
_ERROR_LIMIT = 2000
#: The longest pause between polls that find nothing, in poll intervals (30 s by default). A
#: commit of this process wakes the relay at once; what only the poll finds (rows written by
#: another process, such as ``agora seed`` beside a running ``agora up``, or left by a replica
#: that crashed) waits at most this long once the service has been idle for a while. Embedded
#: mode runs fifteen relays in one process: at 5 s they were a query every third of a second.
IDLE_POLL_FACTOR = 30
#: How long the pending gauges may go uncounted while the outbox stays empty (they read 0).
IDLE_GAUGE_SECONDS = 60.0


class RelayPublishError(RuntimeError):
    """The broker did not accept a batch; the rows stay in the outbox."""


class OutboxRelay:
    """Publishes one database's outbox through one transport."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        *,
        dialect: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        faults: FaultFlags | None = None,
    ) -> None:
        self._sessions = sessions
        self._transport = transport
        self._system = messaging_system(transport)
        self._lock_rows = dialect in _LOCKING_DIALECTS
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._faults = faults
        self._wake = asyncio.Event()
        self._gauge_refreshed_at = float("-inf")
        self._pending_was_zero = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a background task of the current loop until :meth:`stop`."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the batch in flight (so it is marked published), then return; cancel after ``grace`` s."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    def notify(self) -> None:
        """Publish now rather than at the next poll. Synchronous so commit hooks can call it."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- work --------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Publish one batch of unpublished rows; return how many were published.

        Raises :class:`RelayPublishError` when the broker refused the batch.
        """
        async with unit_of_work(self._sessions) as session:
            rows = await self._claim_batch(session)
            if not rows:
                return 0
            ids = [row.id for row in rows]
            try:
                with sending([self._outgoing(row) for row in rows], self._system) as messages:
                    if self._faults is not None:
                        await self._faults.fail(BROKER_PUBLISH_FAILURES, RelayPublishError)
                    await self._transport.publish_many(messages)
            except Exception as exc:
                await self._record_failure(session, ids, exc)
                raise RelayPublishError(str(exc)) from exc
            await session.execute(update(outbox).where(outbox.c.id.in_(ids)).values(published_at=datetime.now(UTC)))
            await session.commit()
        for source, count in _count_by_source(rows).items():
            OUTBOX_PUBLISHED.labels(source=source).inc(count)
        return len(rows)

    async def pending(self) -> dict[str, int]:
        """Unpublished rows per source (also exported as ``agora_outbox_pending``, and the oldest
        one's age as ``agora_outbox_oldest_unsent_age_seconds``)."""
        async with unit_of_work(self._sessions) as session:
            result = await session.execute(
                select(outbox.c.source, func.count(), func.min(outbox.c.created_at))
                .where(outbox.c.published_at.is_(None))
                .group_by(outbox.c.source)
            )
            rows = result.all()
        counts = {source: int(count) for source, count, _ in rows}
        oldest = {source: created for source, _, created in rows}
        for source in list(_known_sources | counts.keys()):
            record_outbox(source, counts.get(source, 0), oldest.get(source))
        _known_sources.update(counts)
        return counts

    async def published_before(self, moment: datetime) -> bool:
        """Whether every event written before ``moment`` has been published (readiness)."""
        async with unit_of_work(self._sessions) as session:
            waiting = await session.execute(
                select(outbox.c.id).where(outbox.c.published_at.is_(None), outbox.c.created_at <= moment).limit(1)
            )
            return waiting.first() is None

    async def _claim_batch(self, session: AsyncSession) -> Sequence[_OutboxRow]:
        statement = (
            select(outbox.c.id, outbox.c.source, outbox.c.topic, outbox.c.key, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self._batch_size)
        )
        if self._lock_rows:
            statement = statement.with_for_update(skip_locked=True)
        return (await session.execute(statement)).all()

    @staticmethod
    def _outgoing(row: _OutboxRow) -> Outgoing:
        return Outgoing(row.topic, Envelope.from_bytes(row.payload), row.key)

    async def _record_failure(self, session: AsyncSession, ids: list[int], exc: Exception) -> None:
        OUTBOX_PUBLISH_FAILURES.inc()
        await session.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(attempts=outbox.c.attempts + 1, last_error=repr(exc)[:_ERROR_LIMIT])
        )
        await session.commit()

    async def _run(self) -> None:
        failures = empty_polls = 0
        while not self._stopping:
            try:
                published = await self.run_once()
            except Exception:
                failures += 1
                delay = self._backoff(failures)
                log.warning("outbox relay: publish failed, retrying in %.2fs", delay, exc_info=True)
                # the backlog keeps growing while the broker refuses: the gauges must show it
                await self._refresh_pending_gauge()
                await self._sleep(delay, wake_on_notify=False)
                continue
            failures = 0
            if published >= self._batch_size:
                continue  # more waiting: no pause between full batches
            empty_polls = 0 if published else empty_polls + 1
            await self._refresh_pending_gauge(found_nothing=not published)
            await self._sleep(self._idle_pause(empty_polls), wake_on_notify=True)

    def _idle_pause(self, empty_polls: int) -> float:
        """One poll interval after a poll that published, doubling with each poll that found
        nothing, up to ``IDLE_POLL_FACTOR`` intervals; a notify cuts any of them short."""
        return self._poll_interval * min(IDLE_POLL_FACTOR, 1 << max(empty_polls - 1, 0))

    def _backoff(self, failures: int) -> float:
        # Exponential with full jitter: relays of many replicas do not retry in lockstep.
        ceiling = min(self._max_backoff, self._poll_interval * 2 ** min(failures, 16))
        return random.uniform(self._poll_interval / 2, max(ceiling, self._poll_interval))

    async def _sleep(self, seconds: float, *, wake_on_notify: bool) -> None:
        """Wait ``seconds``; :meth:`stop` always cuts it short, :meth:`notify` only when asked.

        A notify that arrived while a batch was running is still set here, so the loop goes
        straight to the next batch instead of missing it. During a broker back-off notifies are
        dropped: the retry publishes everything pending anyway.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping and (remaining := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return
            self._wake.clear()
            if wake_on_notify:
                return

    async def _refresh_pending_gauge(self, *, found_nothing: bool = False) -> None:
        # at most once per poll interval: under load the relay runs after every commit that
        # wrote an event, and a count per run was a second query for every batch published;
        # idle (the last count was zero and this poll found nothing) at most every
        # IDLE_GAUGE_SECONDS, so an idle service does not count its outbox at every poll
        now = asyncio.get_running_loop().time()
        pause = IDLE_GAUGE_SECONDS if found_nothing and self._pending_was_zero else self._poll_interval
        if now - self._gauge_refreshed_at < pause:
            return
        self._gauge_refreshed_at = now
        try:
            self._pending_was_zero = not any((await self.pending()).values())
        except Exception:
            self._pending_was_zero = False
            log.warning("outbox relay: could not count pending events", exc_info=True)


_known_sources: set[str] = set()


def _count_by_source(rows: Sequence[_OutboxRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.source] = counts.get(row.source, 0) + 1
    return counts
