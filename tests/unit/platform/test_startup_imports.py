"""A service process imports the heavy libraries only it needs, and only when it needs them.

Every ``agora serve`` process used to import all fifteen services and with them NumPy,
scikit-learn, SciPy, Pillow and jinja2 (234 MiB resident each). One fresh interpreter imports
the chassis, then forks once per service; each child builds that service's app the way
``agora serve`` does (registry lookup, settings, app factory) and reports which of the heavy
libraries are loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agora.topology import SERVICE_NAMES

#: Libraries big enough to matter (resident MiB once imported, never given back).
HEAVY = (
    "numpy", "scipy", "sklearn", "PIL", "boto3", "botocore", "aioboto3", "aiobotocore", "aiohttp",
    "coredis", "beartype", "jinja2", "alembic", "redis", "limits", "argon2", "aiosmtplib",
)  # fmt: skip

#: What a service needs as soon as its app exists (anything else loads on first use, or never).
NEEDED_AT_START: dict[str, set[str]] = {
    "identity": {"argon2", "limits"},  # password hashing, the login throttle
    "notifications": {"aiosmtplib"},  # the mailer
    "media": {"limits"},  # the upload rate limit (Pillow comes with the first upload)
    "support": {"redis", "limits"},  # fan-out, the message rate limit
    "web": {"jinja2"},  # the pages
}

_CHILDREN = """
import json, os, sys
from agora.cli import _platform, _specs
from agora.platform.http.app import create_service_app
from agora.platform.settings import load_settings

heavy = json.loads(sys.argv[1])

def loaded():
    return sorted(name for name in heavy if name in sys.modules)

report = {"chassis": loaded()}
for name in json.loads(sys.argv[2]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        (spec,) = _specs([name])  # as agora serve NAME finds its service
        create_service_app(spec, _platform(), load_settings(spec.settings_cls))
        os.write(write, json.dumps(loaded()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report[name] = json.loads(pipe.read() or "null")
    os.waitpid(pid, 0)
print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:1/0"], ids=["no-redis", "redis-configured"])
def test_each_service_app_loads_only_the_heavy_libraries_it_needs(tmp_path: Path, redis_url: str | None) -> None:
    """With Redis configured too (as the distributed set, compose and the cluster run): cart and
    notifications keep data there, and import redis-py when they first talk to it, not before
    (nothing listens on that port: building an app opens no connection)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(AGORA_ENVIRONMENT="development", AGORA_DATA_DIR=str(tmp_path / "var"))
    if redis_url is not None:
        env["AGORA_REDIS_URL"] = redis_url
    done = subprocess.run(
        [sys.executable, "-c", _CHILDREN, json.dumps(HEAVY), json.dumps(SERVICE_NAMES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["chassis"] == []
    unexpected = {
        name: sorted(set(loaded) - NEEDED_AT_START.get(name, set()))
        for name, loaded in report.items()
        if name != "chassis"
    }
    assert unexpected == {name: [] for name in SERVICE_NAMES}


@pytest.mark.slow
def test_the_similarity_model_is_built_without_loading_scikit_learn_here() -> None:
    """Recommendations builds its model at start-up: in a worker process, not its own."""
    script = """
import asyncio, sys
from agora.services.recommendations.similarity import ProductText, SimilarityHolder, Watermark

products = [
    ProductText(id=f"p{n}", name=name, description="a sturdy everyday thing", tags=["home"], category="home")
    for n, name in enumerate(["oak chair", "oak table", "steel lamp"])
]

async def load():
    return products

holder = SimilarityHolder()
assert asyncio.run(holder.refresh(load, Watermark(len(products), None), top_k=2))
assert holder.model.similar("p0") and holder.model.similar("p0")[0][0] == "p1", holder.model
print(sorted(name for name in ("numpy", "scipy", "sklearn") if name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
