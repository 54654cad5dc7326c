"""Over the network identity believes X-Forwarded-For from ``AGORA_TRUSTED_PROXIES`` only.

A real ``agora serve identity`` process on loopback, allowing 3 failed logins per address. When
127.0.0.1 (this test) is a trusted proxy, the forwarded address is the one counted; when it is
not, a forged header changes nothing and the requests are counted by their real address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready

pytestmark = [pytest.mark.backend("sqlite"), pytest.mark.timeout(180)]

PER_ADDRESS = 3


@pytest.fixture
def identity_behind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    """identity serving on a free port, trusting the proxies ``request.param`` names."""
    port = free_port()
    env = {
        "AGORA_ENVIRONMENT": "development",
        "AGORA_LOG_LEVEL": "WARNING",
        "AGORA_DATA_DIR": str(tmp_path / "var"),
        "AGORA_TRUSTED_PROXIES": request.param,
        "AGORA_IDENTITY_THROTTLE_ADDRESS_FAILURES": str(PER_ADDRESS),
    }
    command = agora_command("serve", "identity", "--port", str(port))
    with running_process(command, log_path=tmp_path / "identity.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=120, process=process)
        with httpx.Client(base_url=base, timeout=30) as client:
            yield client


def wrong_login(client: httpx.Client, forwarded_for: str) -> int:
    body = {"email": f"nobody-{uuid.uuid4().hex[:10]}@example.org", "password": "not a password at all"}
    response = client.post("/api/identity/login", json=body, headers={"x-forwarded-for": forwarded_for})
    return response.status_code


@pytest.mark.parametrize("identity_behind", ["192.0.2.1"], indirect=True)
def test_a_forged_forwarded_address_from_an_untrusted_peer_is_ignored(identity_behind: httpx.Client) -> None:
    answers = [wrong_login(identity_behind, f"198.51.100.{number}") for number in range(1, PER_ADDRESS + 2)]
    assert answers == [401] * PER_ADDRESS + [429]  # every one counted as 127.0.0.1's


@pytest.mark.parametrize("identity_behind", ["192.0.2.1, 127.0.0.1"], indirect=True)
def test_a_trusted_proxy_s_forwarded_address_is_the_one_counted(identity_behind: httpx.Client) -> None:
    answers = [wrong_login(identity_behind, "198.51.100.1") for _ in range(PER_ADDRESS + 1)]
    assert answers == [401] * PER_ADDRESS + [429]
    assert wrong_login(identity_behind, "198.51.100.2") == 401  # another visitor behind the same proxy
