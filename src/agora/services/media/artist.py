"""The demo products' pictures, drawn in a child process of the media service.

Each seeded product asks media for a picture (``catalog.product.created`` with ``demo``): 240 of
them right after the first start. Drawing them where the service runs would import Pillow into
it for good (~3 MiB resident) and leave the drawings' bitmaps in its malloc arenas: media stood at
121.5 MiB in the distributed set after the seed, against ~100 for a service that had drawn
nothing. :class:`DemoArtist` hands each picture to a child process instead, which draws it with
:func:`.imaging.demo_image` and sends back the encoded JPEG and thumbnails.

The child is started by the first picture asked for and draws one picture at a time, asked over
its stdin and answered on its stdout (a 4-byte length, then a pickle: two processes of ours).
It exits by itself once no picture was asked for during ``idle_seconds``, so after the seed, and
in a service that never draws, there is no such process; the next picture starts a new one. A
child that dies or answers nothing is replaced for the next picture, and the event that asked is
retried by its consumer, as after any failed handler.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import select
import struct
import sys
from typing import Any

from agora.services.media.formats import ProcessedImage

#: How long the child waits for another picture before it exits.
IDLE_SECONDS = 5.0

_LENGTH = struct.Struct(">I")
_WORKER = "import sys; from agora.services.media.artist import serve; serve(float(sys.argv[1]))"


class DemoArtistError(RuntimeError):
    """The child could not draw the picture (its error), or ended without an answer."""


class DemoArtist:
    """Draws demo pictures in a child process, started when needed (see the module docstring)."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self.started = 0
        """How many child processes were started."""
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def draw(self, *, name: str, category: str, key: str, colour: str | None = None) -> ProcessedImage:
        """:func:`.imaging.demo_image` of these, drawn by the child."""
        request = pickle.dumps({"name": name, "category": category, "key": key, "colour": colour})
        async with self._lock:
            try:
                answer = await self._exchange(request)
            except asyncio.IncompleteReadError:
                # the child exited (idle) just as this picture was sent: ask a new one, once
                await self._stop()
                answer = await self._exchange(request)
            except BaseException:
                await self._stop()  # cancelled or broken mid-answer: not reused
                raise
        status, value = answer
        if status != "ok":
            raise DemoArtistError(f"the demo picture of {name!r} was not drawn: {value}")
        assert isinstance(value, ProcessedImage)
        return value

    async def _exchange(self, request: bytes) -> Any:
        process = await self._running()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(_LENGTH.pack(len(request)) + request)
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise asyncio.IncompleteReadError(b"", None) from None
        (size,) = _LENGTH.unpack(await process.stdout.readexactly(_LENGTH.size))
        return pickle.loads(await process.stdout.readexactly(size))  # noqa: S301 - our own child's answer

    async def _running(self) -> asyncio.subprocess.Process:
        process = self._process
        if process is None or process.returncode is not None:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WORKER, str(self.idle_seconds),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            self._process = process
            self.started += 1
        return process

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                process.kill()
        await process.wait()

    async def close(self) -> None:
        """Ends the child, if one runs (the service stops)."""
        async with self._lock:
            await self._stop()


def _read_exactly(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def serve(idle_seconds: float = IDLE_SECONDS) -> None:
    """The child's side: draws what it is asked until ``idle_seconds`` pass without a request or
    its stdin closes."""
    from agora.services.media import imaging

    reading, writing = sys.stdin.fileno(), sys.stdout.fileno()
    while select.select([reading], [], [], idle_seconds)[0]:
        try:
            (size,) = _LENGTH.unpack(_read_exactly(reading, _LENGTH.size))
            request = pickle.loads(_read_exactly(reading, size))  # noqa: S301 - from the service that started it
        except EOFError:
            return
        try:
            answer: tuple[str, object] = ("ok", imaging.demo_image(**request))
        except Exception as exc:  # told to the service, which logs it with the event
            answer = ("error", f"{type(exc).__name__}: {exc}")
        _write_all(writing, pickle.dumps(answer))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


__all__ = ["IDLE_SECONDS", "DemoArtist", "DemoArtistError", "serve"]
