"""The benchmarks run with what ``make install`` installs: none of them may need pytest."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def imported_modules(path: Path) -> set[str]:
    """Every module a script imports, at the top or inside a function (imports made on use)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_benchmark_imports_pytest() -> None:
    modules = sorted({name for path in BENCHMARKS.glob("*.py") for name in imported_modules(path)})
    assert "agora.registry" in modules  # the parse found the imports made inside functions
    # pytest made unimportable, as after a plain ``make install``
    script = "import sys, importlib; sys.modules['pytest'] = None\n" + "".join(
        f"importlib.import_module({name!r})\n" for name in modules if name.split(".")[0] in ("agora", "httpx")
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_benchmark_answers_help_at_optimization_level_2() -> None:
    """A user who runs everything with ``PYTHONOPTIMIZE=2``, as the service processes run, can
    still start the benchmarks: a script that builds its help from ``__doc__`` gets None there."""
    scripts = sorted(path for path in BENCHMARKS.glob("*.py") if "argparse" in imported_modules(path))
    assert len(scripts) >= 5, scripts
    failed = {}
    for script in scripts:
        result = subprocess.run(
            [sys.executable, "-OO", str(script), "--help"], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            failed[script.name] = result.stderr[-500:]
    assert not failed, failed
