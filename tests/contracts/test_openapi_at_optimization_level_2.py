"""Every service publishes the same OpenAPI document at optimization level 2 as at level 0.

The distributed service processes and the container images run with ``PYTHONOPTIMIZE=2``
(docs/architecture.md, "Service processes at optimization level 2"), which drops docstrings; pydantic
takes a model's JSON-schema description from its docstring and FastAPI an endpoint's, so a
description written as a docstring would vanish from the document a distributed service serves
and stay in embedded mode's. Such descriptions are assigned (``__doc__ = ...``) instead: this
builds every document in a ``python -OO`` interpreter and in a plain one and wants the same bytes.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: every service's app built as the contract tests build it, its document printed as JSON
_DOCUMENTS = """
import json, sys, tempfile
from pathlib import Path
from agora.platform.http.app import create_service_app
from agora.platform.testing.apps import platform_for_tests
from agora.registry import service_spec
from agora.topology import SERVICE_NAMES

documents = {}
for name in SERVICE_NAMES:
    app = create_service_app(service_spec(name), platform_for_tests(Path(tempfile.mkdtemp(prefix="openapi-"))))
    documents[name] = app.openapi()
print(json.dumps({"optimize": sys.flags.optimize, "documents": documents}, indent=1, sort_keys=True))
"""


def documents(tmp_path: Path, *flags: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_") and k != "PYTHONOPTIMIZE"}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, *flags, "-c", _DOCUMENTS], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout)
    return printed["optimize"], json.dumps(printed["documents"], indent=1, sort_keys=True)


@pytest.mark.slow
def test_every_openapi_document_is_the_same_without_docstrings(tmp_path: Path) -> None:
    level_0, plain = documents(tmp_path)
    level_2, optimized = documents(tmp_path, "-OO")
    assert (level_0, level_2) == (0, 2)
    assert '"description"' in plain  # the comparison has descriptions to lose
    diff = "\n".join(
        difflib.unified_diff(plain.splitlines(), optimized.splitlines(), "level 0", "level 2", lineterm="")
    )
    assert not diff, (
        "a description written as a docstring is gone at -OO: assign it (`__doc__ = ...` in the "
        f"model, `description=` on the route)\n{diff[:4000]}"
    )
