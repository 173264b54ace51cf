"""The simulator imports only the pure core, the error tree, defaults and the stdlib."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import alsek.sim

SIM_DIR = Path(alsek.sim.__file__).parent
SIM_FILES = sorted(SIM_DIR.glob("*.py"))
ALLOWED_ALSEK = ("alsek.pure", "alsek.exceptions", "alsek.defaults", "alsek.sim")
#: ``attrs`` is the record library ``alsek.pure`` is built on (and what the
#: workload records are); ``tomli`` replaces ``tomllib`` on Python 3.10.
ALLOWED_THIRD_PARTY = ("attrs", "tomli")
#: Standard-library modules that would bring real time, threads or I/O in.
BANNED_STDLIB = (
    "time",
    "threading",
    "multiprocessing",
    "subprocess",
    "socket",
    "signal",
    "asyncio",
    "uuid",
    "os",
    "concurrent",
)
NOT_LOADED = (
    "redis",
    "diskcache",
    "apscheduler",
    "click",
    "multiprocessing",
    "matplotlib",
    "alsek.effects",
    "alsek.core",
    "alsek.storage",
    "alsek.cli",
)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            if node.module == "alsek":  # ``from alsek import defaults`` imports alsek.defaults
                found += [(f"alsek.{alias.name}", id(node) in top) for alias in node.names]
            else:
                found.append((node.module or "", id(node) in top))
    return found


def allowed(module: str) -> bool:
    root = module.split(".")[0]
    if root == "alsek":
        return any(module == a or module.startswith(a + ".") for a in ALLOWED_ALSEK)
    if root in BANNED_STDLIB:
        return False
    return root == "__future__" or root in sys.stdlib_module_names or root in ALLOWED_THIRD_PARTY


@pytest.mark.parametrize("path", SIM_FILES, ids=lambda path: path.name)
def test_only_allowed_imports(path: Path) -> None:
    offending = []
    for module, top_level in imports(path):
        lazy_plot = path.name == "plot.py" and module.startswith("matplotlib") and not top_level
        if not (allowed(module) or lazy_plot):
            offending.append(module)
    assert offending == [], f"alsek.sim.{path.stem} imports {offending}"


def test_the_checker_catches_the_forbidden() -> None:
    for module in ("time", "threading", "alsek.effects.pool", "alsek.core", "redis", "click"):
        assert not allowed(module), module
    for module in ("heapq", "random", "alsek.pure.decisions", "attrs", "tomllib"):
        assert allowed(module), module


def test_importing_the_simulator_loads_no_shell() -> None:
    code = (
        f"import sys, alsek.sim\nprint(','.join(m for m in {NOT_LOADED!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
