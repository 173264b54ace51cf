"""The functional core imports nothing that does I/O, reads clocks or makes ids."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import alsek.pure

PURE_DIR = Path(alsek.pure.__file__).parent
PURE_FILES = sorted(PURE_DIR.glob("*.py"))

BANNED_MODULES = (
    "redis",
    "diskcache",
    "apscheduler",
    "click",
    "threading",
    "multiprocessing",
    "subprocess",
    "time",
    "random",
    "uuid",
    "os",
    "signal",
    "socket",
    "logging",
    "alsek.effects",
    "alsek.core",
    "alsek.storage",
    "alsek.cli",
    "alsek.sim",
    "alsek.calibration",
)
#: Loaded by importing the core: ``threading`` comes with attrs, ``time`` and
#: ``os`` with the interpreter, so only these can be checked in sys.modules.
NOT_LOADED = ("redis", "diskcache", "apscheduler", "click", "multiprocessing")


def module_of(path: Path) -> str:
    """Dotted name of a file in alsek/pure."""
    stem = path.stem
    return "alsek.pure" if stem == "__init__" else f"alsek.pure.{stem}"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = "alsek.pure"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                if node.module:
                    base.append(node.module)
                prefix = ".".join(base)
            else:
                prefix = node.module or ""
            found.add(prefix)
            # ``from alsek import effects`` imports alsek.effects.
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def is_banned(module: str, banned: str) -> bool:
    return module == banned or module.startswith(banned + ".")


def test_the_pure_package_has_files() -> None:
    assert {path.stem for path in PURE_FILES} >= {
        "message", "backoff", "timing", "keys", "transitions", "callbacks", "ordering",
        "outcome", "policy", "decisions", "queue_model", "capacity", "codec",
    }  # fmt: skip


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda path: path.name)
def test_no_banned_imports(path: Path) -> None:
    offending = sorted(
        module
        for module in imported_modules(path)
        for banned in BANNED_MODULES
        if is_banned(module, banned)
    )
    assert offending == [], f"{module_of(path)} imports {offending}"


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda path: path.name)
def test_only_codec_imports_cattrs(path: Path) -> None:
    uses_cattrs = any(is_banned(module, "cattrs") for module in imported_modules(path))
    assert uses_cattrs == (path.name == "codec.py")


def test_the_import_checker_sees_every_form(tmp_path: Path) -> None:
    """The checker itself must catch plain, dotted, aliased, from- and relative imports."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os.path\n"
        "import threading as t\n"
        "from time import monotonic\n"
        "from ..effects import clock\n"
        "from .. import sim\n"
        "from alsek import cli\n"
        "from . import keys\n"
        "def f():\n"
        "    import random\n",
        encoding="utf-8",
    )
    modules = imported_modules(probe)
    for expected in (
        "os",
        "threading",
        "time",
        "alsek.effects",
        "alsek.sim",
        "alsek.cli",
        "random",
    ):
        assert any(is_banned(module, expected) for module in modules), expected
    assert "alsek.pure.keys" in modules
    assert not any(
        is_banned(module, "alsek.effects") for module in imported_modules(PURE_DIR / "keys.py")
    )


def test_importing_the_core_loads_no_heavy_dependency() -> None:
    names = [module_of(path) for path in PURE_FILES]
    code = (
        "import importlib, json, sys\n"
        "import alsek.pure\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({\n"
        "    'pure': sorted(m for m in sys.modules if m.startswith('alsek.pure')),\n"
        f"    'heavy': [m for m in {NOT_LOADED!r} if m in sys.modules],\n"
        "}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert set(report["pure"]) >= set(names)
    assert report["heavy"] == []
