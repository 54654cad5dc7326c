"""``python -m agora serve NAME ...`` serves without building the command line; anything else
goes to typer (agora.serving)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agora.serving import DEFAULT_HOST, ServeArguments, parse_serve


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve", "catalog"], ServeArguments("catalog")),
        (
            ["serve", "orders", "--port", "8107", "--no-migrate"],
            ServeArguments("orders", port=8107, migrate=False),
        ),
        (
            ["serve", "web", "-p", "1", "--host", "0.0.0.0", "--data-dir", "var", "--migrate"],
            ServeArguments("web", port=1, host="0.0.0.0", data_dir=Path("var")),
        ),
    ],
)
def test_plain_serve_commands_are_recognised(argv: list[str], expected: ServeArguments) -> None:
    assert parse_serve(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["up"],
        ["serve"],
        ["serve", "--help"],
        ["serve", "catalog", "--help"],
        ["serve", "nosuch"],
        ["serve", "catalog", "--port"],
        ["serve", "catalog", "--port", "0"],
        ["serve", "catalog", "--port", "65536"],
        ["serve", "catalog", "--port", "eighty"],
        ["serve", "catalog", "--reload"],
        ["serve", "catalog", "orders"],
    ],
)
def test_anything_else_is_left_to_the_command_line(argv: list[str]) -> None:
    assert parse_serve(argv) is None


def test_the_host_comes_from_agora_host_as_the_command_line_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_HOST", "0.0.0.0")
    assert parse_serve(["serve", "catalog"]) == ServeArguments("catalog", host="0.0.0.0")
    monkeypatch.delenv("AGORA_HOST")
    assert parse_serve(["serve", "catalog"]) == ServeArguments("catalog", host=DEFAULT_HOST)


def test_a_refusal_before_serving_is_one_line_and_status_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(AGORA_MODE="distributed", AGORA_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "agora", "serve", "catalog", "--no-migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: distributed mode needs a real broker")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [["serve", "--help"], ["--help"]], ids=["serve", "agora"])
def test_help_answers_at_optimization_level_2(argv: list[str]) -> None:
    """The service processes and the image run with ``PYTHONOPTIMIZE=2``: the command line's help,
    which typer builds from docstrings where a command gives no ``help=``, must not need them."""
    done = subprocess.run(
        [sys.executable, "-OO", "-m", "agora", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage:" in done.stdout and "Traceback" not in done.stderr


#: what ``agora serve NAME`` configures, in a fresh interpreter: does uvicorn load its WebSocket
#: protocol, and with it the ``websockets`` library?
_LOADS_WEBSOCKETS = """
import sys
from agora.platform.http.app import create_service_app
from agora.platform.settings import load_settings
from agora.registry import service_spec
from agora.serving import platform_settings, server_config, serves_websockets
spec = service_spec(sys.argv[1])
platform = platform_settings()
app = create_service_app(spec, platform, load_settings(spec.settings_cls))
config = server_config(app, "127.0.0.1", 1, platform, edge=False, websockets=serves_websockets(app))
config.load()
print(config.ws, config.ws_protocol_class is not None, "websockets" in sys.modules)
"""


@pytest.mark.parametrize(
    ("service", "expected"),
    [("support", "auto True True"), ("web", "none False False"), ("currency", "none False False")],
)
def test_only_a_service_with_a_websocket_route_loads_the_websocket_protocol(
    service: str, expected: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(AGORA_DATA_DIR=str(tmp_path), AGORA_LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-c", _LOADS_WEBSOCKETS, service],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == expected


#: a service app built and asked as ``agora serve`` builds it, in a fresh interpreter: is
#: ``pydantic.v1`` loaded after its routes are built and its answers encoded (a 422 included)?
#: "serve" enters through the serving fast path, whose serve_spec is replaced by the asking.
_LOADS_PYDANTIC_V1 = """
import asyncio, sys
import agora.serving as serving
from fastapi.testclient import TestClient

def ask(spec, **options):
    from agora.platform.http.app import create_service_app
    from agora.platform.runtime import migrate_service
    from agora.platform.settings import load_settings
    platform = serving.platform_settings()
    settings = load_settings(spec.settings_cls)
    asyncio.run(migrate_service(spec, platform, settings))
    with TestClient(create_service_app(spec, platform, settings)) as client:
        listed = client.get("/api/currency/currencies").status_code
        refused = client.get("/api/currency/convert", params={"from": "USD", "to": "EUR", "amount": "x"}).status_code
    print(listed, refused, sys.modules.get("pydantic.v1") is not None)

serving.serve_spec = ask
if sys.argv[1] == "serve":
    serving.serve_from_argv(["serve", "currency"])
else:
    from agora.registry import service_spec
    ask(service_spec("currency"))
"""


@pytest.mark.parametrize(("how", "expected"), [("serve", "200 422 False"), ("test", "200 422 True")])
def test_a_service_process_goes_without_pydantic_v1(how: str, expected: str, tmp_path: Path) -> None:
    """FastAPI imports pydantic.v1 to ask whether a type is one of its models; ``agora serve``
    marks it missing, and the service still builds its routes and encodes its answers (the
    "test" case shows the module would be loaded otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(AGORA_DATA_DIR=str(tmp_path), AGORA_LOG_LEVEL="ERROR")
    done = subprocess.run(
        [sys.executable, "-c", _LOADS_PYDANTIC_V1, how], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == expected
