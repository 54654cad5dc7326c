"""One Redis pub/sub channel, and a readiness ping, without redis-py.

Hand-written because of memory, not for want of a library: redis-py costs every process that
imports it ~7 MiB resident and ~95 modules (its package loads the cluster and sentinel clients,
the command tables and OpenTelemetry's metrics SDK), which by itself put every service process over
its 100 MiB budget once ``AGORA_REDIS_URL`` is set (docs/performance.md, "Footprint"). Most
services use Redis for one thing only: handing revocations to their sibling replicas
(:mod:`agora.platform.auth.replicas`): a SUBSCRIBE, a PUBLISH now and then, a PING for
``/readyz``. No maintained asyncio client is lighter (coredis loads more). RESP2 for those three
commands is what this module speaks; services that keep data in Redis (carts, caches, rate
limits) use redis-py, imported by them when they need it.

Addresses: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS, the default
context: certificate and host name checked) and ``unix:///path[?password=...]``. The database
number does not matter to pub/sub (channels are server-wide) and is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

log = structlog.get_logger(__name__)

#: Seconds for connecting and for each answer, as ``first_use.redis_for`` gives redis-py.
TIMEOUT_SECONDS = 2.0
#: Seconds between attempts while the subscription's connection is down.
RECONNECT_SECONDS = 1.0

Reply = bytes | int | list["Reply"] | None


class RedisReplyError(Exception):
    """Redis answered with an error (``-ERR ...``, ``-NOAUTH ...``)."""


@dataclass(frozen=True)
class RedisAddress:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            query = parse_qs(parts.query)
            password = query.get("password", [parts.password])[0]
            return cls(path=unquote(parts.path), username=parts.username, password=password)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a Redis URL (redis://, rediss:// or unix://): {parts.scheme}://")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            tls=parts.scheme == "rediss",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection, authenticated when the address carries a password."""
        if self.path is not None:
            opening = asyncio.open_unix_connection(self.path)
        else:
            context = ssl.create_default_context() if self.tls else None
            opening = asyncio.open_connection(self.host, self.port, ssl=context)
        reader, writer = await asyncio.wait_for(opening, TIMEOUT_SECONDS)
        if self.password is not None:
            try:
                credentials = [self.username, self.password] if self.username else [self.password]
                await asyncio.wait_for(command(reader, writer, "AUTH", *credentials), TIMEOUT_SECONDS)
            except BaseException:
                writer.close()
                raise
        return reader, writer


def encode(*args: str | bytes) -> bytes:
    """A command as RESP: an array of bulk strings."""
    chunks = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        chunks.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(chunks)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """One RESP2 reply; :class:`RedisReplyError` for an error reply."""
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("Redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RedisReplyError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [await read_reply(reader) for _ in range(size)]
    raise ConnectionError(f"not a RESP reply: {line[:40]!r}")


async def command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *args: str | bytes) -> Reply:
    writer.write(encode(*args))
    await writer.drain()
    return await read_reply(reader)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def ping(url: str) -> None:
    """Connects, authenticates and PINGs: ``/readyz``'s check of Redis."""
    reader, writer = await RedisAddress.from_url(url).connect()
    try:
        await asyncio.wait_for(command(reader, writer, "PING"), TIMEOUT_SECONDS)
    finally:
        await _close(writer)


class RedisChannel:
    """Publishes to one channel and listens to it, reconnecting (and re-subscribing) after a loss.

    :meth:`start` returns once Redis confirmed the subscription; :meth:`messages` then yields each
    message's data until :meth:`close`. What is published while the subscription is down is lost
    (pub/sub keeps nothing): callers use it for speed and keep a slower way to converge.
    """

    def __init__(self, url: str, channel: str) -> None:
        self._address = RedisAddress.from_url(url)
        self.channel = channel
        self._subscriber: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._publisher: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._publishing = asyncio.Lock()
        self._closed = asyncio.Event()

    async def start(self) -> None:
        """Subscribes; raises when Redis refuses or does not answer within the timeout."""
        self._subscriber = await self._subscribe()

    async def _subscribe(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await self._address.connect()
        try:
            reply = await asyncio.wait_for(command(reader, writer, "SUBSCRIBE", self.channel), TIMEOUT_SECONDS)
            if not (isinstance(reply, list) and reply[:1] == [b"subscribe"]):
                raise ConnectionError(f"unexpected answer to SUBSCRIBE: {reply!r}")
        except BaseException:
            await _close(writer)
            raise
        return reader, writer

    async def messages(self) -> AsyncIterator[bytes]:
        """Each message published on the channel, until :meth:`close`."""
        while not self._closed.is_set():
            if self._subscriber is None:
                try:
                    subscriber = await self._subscribe()
                except (OSError, TimeoutError, RedisReplyError) as exc:
                    log.warning("redis_channel_unavailable", channel=self.channel, error=type(exc).__name__)
                    with contextlib.suppress(TimeoutError):  # wakes at once on close
                        await asyncio.wait_for(self._closed.wait(), RECONNECT_SECONDS)
                    continue
                if self._closed.is_set():  # closed while this connection was opening
                    await _close(subscriber[1])
                    return
                self._subscriber = subscriber
            reader, writer = self._subscriber
            try:
                reply = await read_reply(reader)  # waits without polling: Redis pushes
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if not self._closed.is_set():
                    log.warning("redis_channel_lost", channel=self.channel, error=type(exc).__name__)
                self._subscriber = None
                await _close(writer)
                continue
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message" and isinstance(reply[2], bytes):
                yield reply[2]

    async def publish(self, data: bytes) -> int:
        """Publishes on the channel; returns how many subscribers Redis handed it to."""
        async with self._publishing:
            if self._publisher is None:
                self._publisher = await self._address.connect()
            reader, writer = self._publisher
            try:
                reply = await asyncio.wait_for(command(reader, writer, "PUBLISH", self.channel, data), TIMEOUT_SECONDS)
            except BaseException:  # the connection's state is unknown: the next publication opens another
                self._publisher = None
                await _close(writer)
                raise
        return reply if isinstance(reply, int) else 0

    async def close(self) -> None:
        """Ends :meth:`messages` and closes both connections."""
        self._closed.set()
        for held in (self._subscriber, self._publisher):
            if held is not None:
                await _close(held[1])
        self._subscriber = self._publisher = None


__all__ = ["RedisAddress", "RedisChannel", "RedisReplyError", "ping"]
