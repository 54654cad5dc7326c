"""Image uploads cannot run away with the media process's memory (issue 12, defect 2).

A 6300x6300 PNG of one flat colour weighs about 128 KB and decodes to 160 MB of pixels. Before
the decode pool, eight of them uploaded at once to `agora serve media` took the process from
239 MB to a 2.9 GB peak and left 2.6 GB resident. Here eight users each upload it at once to a
real `agora serve media` process whose decode queue is set to 1: one decodes, one waits, the
rest are answered 503 with Retry-After at once, and the process's peak resident size (VmHWM,
reset after start-up) and its resident size afterwards are held to the budgets below.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready

pytestmark = [pytest.mark.backend("nats"), pytest.mark.slow, pytest.mark.timeout(300)]

SIDE = 6300
UPLOADS = 8
QUEUE = 1
MIB = 1024 * 1024
#: Above the resident size after start-up: the decode budget (40 MP, which a 6300x6300 picture
#: nearly fills, so one decodes at a time) is 160 MB of pixels at 4 bytes each, plus 80 MB for
#: what surrounds a decode (the PNG and WebP encoders' buffers, the reduced bitmap the thumbnails
#: come from, the decode threads' stacks and arenas, eight request bodies). Measured: +169 MB.
PEAK_BUDGET = 240 * MIB
#: Above the resident size after start-up once the uploads are answered: what malloc_trim cannot
#: hand back (Python objects of the requests, caches warmed by the first decode). Measured: +9 MB.
SETTLED_BUDGET = 48 * MIB


def flat_png() -> bytes:
    """A 6300x6300 PNG of about 128 KB: one colour with a small patch."""
    image = Image.new("RGB", (SIDE, SIDE), (20, 120, 200))
    image.paste((250, 200, 30), (100, 100, 400, 400))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) of ``pid``, in bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> None:
    """Starts VmHWM afresh from the current resident size (Linux ``clear_refs`` value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def settled_rss(pid: int, bound: int, *, timeout: float = 15.0) -> int:
    """The resident size once it is at most ``bound`` (polled), or the last one seen at the deadline."""
    deadline = time.monotonic() + timeout
    rss = memory(pid)["VmRSS"]
    while rss > bound and time.monotonic() < deadline:
        time.sleep(0.25)
        rss = memory(pid)["VmRSS"]
    return rss


def test_eight_large_pngs_at_once_stay_within_the_memory_budget(
    tmp_path: Path, jwks_file: Path, token_factory: TokenFactory, nats_url: str
) -> None:
    data = flat_png()
    assert 100_000 < len(data) < 160_000, len(data)
    port = free_port()
    env = {
        "AGORA_ENVIRONMENT": "development",
        "AGORA_JWKS_FILE": str(jwks_file),
        "AGORA_BROKER_URL": nats_url,
        "AGORA_MEDIA_DECODE_QUEUE": str(QUEUE),
        "AGORA_MEDIA_DECODE_WAIT_SECONDS": "120",  # the queued ones wait their turn on a busy machine
    }
    command = agora_command("serve", "media", "--port", str(port), "--data-dir", str(tmp_path / "var"))
    with running_process(command, log_path=tmp_path / "serve.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=60, process=process)
        started = memory(process.pid)["VmRSS"]
        reset_peak(process.pid)

        def upload(index: int) -> httpx.Response:
            # one admin each (each upload is decoded: duplicates are found per owner, after decoding);
            # the per-user rate limit and quota are not what this test is about
            token = token_factory(roles=["admin"], subject=f"memory-admin-{index}")
            return httpx.post(
                f"{base}/api/media/images",
                files={"file": (f"poster-{index}.png", data, "image/png")},
                data={"purpose": "product"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=180,
            )

        with ThreadPoolExecutor(UPLOADS) as pool:
            responses = list(pool.map(upload, range(UPLOADS)))
        peak = memory(process.pid)["VmHWM"]
        settled = settled_rss(process.pid, started + SETTLED_BUDGET)

        statuses = sorted(response.status_code for response in responses)
        assert set(statuses) <= {201, 503}, [response.text for response in responses]
        assert statuses.count(201) >= 1 + QUEUE, statuses  # the one decoding and the one queued
        for response in responses:
            if response.status_code == 503:
                assert response.headers["content-type"] == "application/problem+json"
                assert int(response.headers["retry-after"]) >= 1
        assert peak - started <= PEAK_BUDGET, f"peak {peak / MIB:.0f} MiB from {started / MIB:.0f} MiB"
        assert settled - started <= SETTLED_BUDGET, f"settled {settled / MIB:.0f} MiB from {started / MIB:.0f} MiB"

        with httpx.Client(base_url=base, timeout=30) as client:
            for response in responses:
                if response.status_code != 201:
                    continue
                image = response.json()
                assert (image["width"], image["height"]) == (SIDE, SIDE)
                large = client.get(image["thumbnails"]["large"])
                assert large.status_code == 200, large.text
                with Image.open(io.BytesIO(large.content)) as thumbnail:
                    assert (thumbnail.format, thumbnail.size) == ("WEBP", (480, 480))
