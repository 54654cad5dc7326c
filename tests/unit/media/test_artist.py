"""The demo pictures are drawn in a child process: the same picture, and no Pillow in the service.

Media used to draw the seed's 240 pictures where it serves, which kept Pillow and the drawings'
memory in it for good (121.5 MiB in the distributed set). The child is started when a picture is
asked for and exits by itself once idle.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from agora.services.media import formats, imaging
from agora.services.media.artist import DemoArtist, DemoArtistError

SWEATER = {"name": "Halden Metro Merino Sweater", "category": "apparel", "key": "p-1", "colour": "Forest"}


async def test_the_child_draws_the_picture_the_service_would_have_drawn() -> None:
    artist = DemoArtist()
    try:
        drawn = await artist.draw(**SWEATER)
        child = artist.pid
        assert child is not None and child != os.getpid()
        again = await artist.draw(**{**SWEATER, "key": "p-2"})
        assert artist.pid == child and artist.started == 1, "one child draws a burst of pictures"
    finally:
        await artist.close()
    assert artist.pid is None
    assert drawn == imaging.demo_image(**SWEATER)
    assert (drawn.width, drawn.height, drawn.kind) == (formats.DEMO_SIDE, formats.DEMO_SIDE, "jpeg")
    assert set(drawn.thumbnails) == set(formats.THUMBNAILS) and again.original != drawn.original


async def test_an_idle_child_exits_and_the_next_picture_starts_another() -> None:
    artist = DemoArtist(idle_seconds=0.2)
    try:
        await artist.draw(**SWEATER)
        first = artist.pid
        assert first is not None and artist._process is not None
        assert await asyncio.wait_for(artist._process.wait(), timeout=30) == 0, "the idle child exits by itself"
        drawn = await artist.draw(**SWEATER)
        assert artist.started == 2 and artist.pid not in (None, first)
        assert drawn.width == formats.DEMO_SIDE
    finally:
        await artist.close()


async def test_a_failed_drawing_is_reported_and_the_child_draws_on() -> None:
    artist = DemoArtist()
    try:
        with pytest.raises(DemoArtistError, match="Sweater"):
            await artist.draw(**{**SWEATER, "colour": 7})  # type: ignore[arg-type]
        assert (await artist.draw(**SWEATER)).kind == "jpeg"
        assert artist.started == 1
    finally:
        await artist.close()


def test_drawing_a_demo_picture_does_not_load_pillow_in_the_service() -> None:
    script = """
import asyncio, sys
from agora.services.media.artist import DemoArtist

async def main():
    artist = DemoArtist()
    try:
        drawn = await artist.draw(name="Northwind Metro Two-Person Tent", category="outdoor", key="k")
    finally:
        await artist.close()
    print(drawn.kind, "PIL" in sys.modules)

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["jpeg", "False"]
