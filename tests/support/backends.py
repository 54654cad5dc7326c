"""Servers a test owns and may stop: Redis and the TCP proxy between two services.

The machine's shared servers must keep running for everyone else; a fault test stops its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from agora.platform.testing.processes import free_port, stop


def _wait_listening(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)  # another process's port: there is no event to await
    raise TimeoutError(f"{what} did not listen on {port} within {timeout:g}s")


class PrivateRedis:
    """A ``redis-server`` on a free loopback port with its append-only file in ``directory``, so
    what it held survives a restart the way a persistent production Redis keeps it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait_listening(self.port, self._process, "redis-server")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop(process, timeout=10)


@dataclass
class TcpProxy:
    """Forwards a loopback port to ``target``; the test makes the link slow, silent or cut.

    Hand-written: the fault is the point (a blackhole that accepts and never answers, a cut that
    resets every open connection), which no proxy library offers in-process and on demand.

    * ``delay(s)``: every chunk waits ``s`` seconds before it is forwarded;
    * ``drop()``: new and open connections are accepted and read, but nothing goes through
      (a partition that times out, as a lost route does);
    * ``lose_answers()``: requests get through, answers do not (the call happened, the caller
      cannot know: the case an idempotent retry or a status query has to settle);
    * ``cut()``: open connections are reset and new ones closed at once (connection refused-like);
    * ``heal()``: back to normal.
    """

    target_port: int
    port: int = field(default_factory=free_port)
    latency: float = 0.0
    dropping: bool = False
    losing_answers: bool = False
    cutting: bool = False
    _server: asyncio.Server | None = None
    _links: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._reset_all()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def delay(self, seconds: float) -> None:
        self.latency = seconds

    def drop(self) -> None:
        self.dropping = True

    def lose_answers(self) -> None:
        self.losing_answers = True

    def cut(self) -> None:
        self.cutting = True
        self._reset_all()

    def heal(self) -> None:
        self.latency, self.dropping, self.losing_answers, self.cutting = 0.0, False, False, False

    def _reset_all(self) -> None:
        for writer in list(self._links):
            transport = writer.transport
            if transport is not None and not transport.is_closing():
                transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._link(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # the proxy closes: its connections end with it
        finally:
            self._handlers.discard(task)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cutting:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer, answers=False),
            self._pipe(upstream_reader, writer, answers=True),
            return_exceptions=True,
        )
        for side in (writer, upstream_writer):
            self._links.discard(side)
            side.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, answers: bool) -> None:
        while chunk := await reader.read(65536):
            if self.cutting:
                break
            if self.latency:
                await asyncio.sleep(self.latency)  # the injected latency itself, not a wait for an event
            if self.dropping or (answers and self.losing_answers):
                continue  # swallowed: the other side waits for an answer that never comes
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
