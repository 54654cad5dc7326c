"""Media in distributed mode: `agora up --distributed`, PostgreSQL per service, NATS, images on S3.

moto's S3 server stands in for MinIO/AWS over real HTTP. An admin made with `agora create-admin`
uploads an image through the front proxy, attaches it to a product (the catalog process checks
the id with the media process as a service), and the image and its thumbnail are fetched the way
a browser does: a 302 from the media service to a presigned URL, then the bytes from the bucket.
(The demo pictures drawn from catalog events are checked in-process: tests/integration/media.)
"""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from agora.contracts.media import image_url
from agora.platform.testing.brokers import NATS_URL
from agora.platform.testing.processes import (
    agora_command,
    create_admin,
    free_port,
    free_port_block,
    running_process,
    serving_pids,
    wait_until_ready,
)
from agora.platform.testing.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, running_moto_server
from tests.support.shop import png

# sixteen processes start on two cores: more than the suite's per-test limit
pytestmark = [pytest.mark.backend("postgresql"), pytest.mark.backend("nats"), pytest.mark.timeout(600)]

PASSWORD = "a long enough e2e admin passphrase"


def _through_the_bucket(client: httpx.Client, url: str, moto_url: str) -> httpx.Response:
    """What a browser does with an image URL: the media service redirects, the bucket answers."""
    redirect = client.get(url)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(moto_url + "/"), location
    fetched = httpx.get(location, timeout=10)
    assert fetched.status_code == 200, fetched.text
    return fetched


def test_upload_attach_and_serve_on_s3(tmp_path: Path, databases: dict[str, str]) -> None:
    with running_moto_server(tmp_path) as moto_url:
        port, first_service_port = free_port(), free_port_block(len(databases))
        env = {f"AGORA_{name.upper()}_DATABASE_URL": url for name, url in databases.items()}
        env.update(
            AGORA_BROKER_URL=NATS_URL,
            AGORA_ENVIRONMENT="development",
            AGORA_MEDIA_S3_BUCKET=f"agora-media-{uuid.uuid4().hex[:8]}",
            AGORA_MEDIA_S3_ENDPOINT_URL=moto_url,
            AGORA_MEDIA_S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AGORA_MEDIA_S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            AGORA_ADMIN_PASSWORD=PASSWORD,
        )
        data_dir = str(tmp_path / "var")
        email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
        create_admin(email, data_dir=data_dir, env=env)
        command = agora_command(
            "up", "--distributed", "--port", str(port), "--first-service-port", str(first_service_port),
            "--data-dir", data_dir,
        )  # fmt: skip
        with running_process(command, log_path=tmp_path / "up.log", env=env) as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(f"{base}/readyz", timeout=180, process=process)
            with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
                login = client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
                assert login.status_code == 200, login.text
                admin = {"Authorization": f"Bearer {login.json()['access_token']}"}

                data = png(900, 600)
                form = {"files": {"file": ("poster.png", data)}, "data": {"purpose": "product"}}
                uploaded = client.post("/api/media/images", headers=admin, **form)
                assert uploaded.status_code == 201, uploaded.text
                image = uploaded.json()
                assert (image["width"], image["height"]) == (900, 600)

                product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
                patched = client.patch(
                    f"/api/catalog/products/{product['id']}", json={"images": [image["id"]]}, headers=admin
                )
                assert patched.status_code == 200, patched.text
                unknown = client.patch(
                    f"/api/catalog/products/{product['id']}", json={"images": [str(uuid.uuid4())]}, headers=admin
                )
                assert unknown.status_code == 422, unknown.text

                shown = client.get(f"/api/catalog/products/{product['id']}").json()
                assert shown["images"] == [image["id"]]
                original = _through_the_bucket(client, image_url(shown["images"][0]), moto_url)
                assert original.headers["content-type"] == "image/png"
                assert hashlib.sha256(original.content).hexdigest() == image["sha256"]
                thumbnail = _through_the_bucket(client, image_url(shown["images"][0], "large"), moto_url)
                assert thumbnail.headers["content-type"] == "image/webp"
                with Image.open(io.BytesIO(thumbnail.content)) as large:
                    assert large.size == (480, 320)

                ready = client.get("/readyz").json()["checks"]
                assert ready["media"] == "ok"
                direct = httpx.get(
                    f"http://127.0.0.1:{first_service_port + list(databases).index('media')}/readyz", timeout=10
                ).json()
                assert direct["checks"]["object_store"] == "ok"
        assert serving_pids(range(first_service_port, first_service_port + len(databases))) == []
