"""Finding tasks for the CLI: a module, a dotted path, a file, or a directory tree."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from alsek.effects.task import Task
from alsek.exceptions import DiscoveryError


def _origin(name: str) -> str | None:
    """The file module ``name`` would be loaded from (None: unknown), without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return None if spec is None else spec.origin


def _import(name: str, where: Path | str | None = None) -> ModuleType:
    """Import ``name``; a failure names the file and the error, whatever raised."""
    try:
        return importlib.import_module(name)
    except Exception as error:
        where = where or _origin(name)
        place = f" ({where})" if where else ""
        raise DiscoveryError(
            f"cannot import {name!r}{place}: {type(error).__name__}: {error}"
        ) from error


def _walk(package: ModuleType) -> list[ModuleType]:
    modules = [package]
    path = getattr(package, "__path__", None)
    if path is None:
        return modules

    def failed(name: str) -> None:
        _import(name)  # re-raises the package's own import error, with its file

    for info in pkgutil.walk_packages(path, prefix=package.__name__ + ".", onerror=failed):
        modules.append(_import(info.name))
    return modules


def _modules_in_directory(directory: Path) -> list[ModuleType]:
    if (directory / "__init__.py").exists():
        _add_path(directory.parent)
        return _walk(_import(directory.name))
    # A plain directory: every .py file below it, named relative to it.
    _add_path(directory)
    modules = []
    for file in sorted(directory.rglob("*.py")):
        relative = file.relative_to(directory).with_suffix("")
        if any(part.startswith(".") for part in relative.parts):
            continue
        name = ".".join(p for p in relative.parts if p != "__init__") or directory.name
        modules.append(_import(name, file))
    return modules


def _add_path(path: Path) -> None:
    text = str(path.resolve())
    if text not in sys.path:
        sys.path.insert(0, text)


def import_target(target: str) -> list[ModuleType]:
    """Import ``target`` (file, directory, module or dotted path) and everything below it."""
    _add_path(Path.cwd())
    path = Path(target)
    if target.endswith(".py") and path.is_file():
        _add_path(path.parent)
        return _walk(_import(path.stem))
    if path.is_dir():
        return _modules_in_directory(path)
    if _is_missing(target):
        raise DiscoveryError(
            f"cannot import {target!r}: it is neither an importable module nor a file or "
            f"directory here ({Path.cwd()})"
        )
    return _walk(_import(target))


def _is_missing(target: str) -> bool:
    """Whether the top-level module of ``target`` cannot be found at all."""
    top = target.split(".", 1)[0]
    try:
        return bool(top) and importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return True


def collect_tasks(target: str) -> list[Task[Any, Any]]:
    """Every task defined at module level under ``target``.

    Raises ``DiscoveryError`` when nothing can be imported or no task is found.
    """
    found: dict[int, Task[Any, Any]] = {}
    for module in import_target(target):
        for value in vars(module).values():
            if isinstance(value, Task):
                found.setdefault(id(value), value)
    if not found:
        raise DiscoveryError(f"no tasks found in {target!r}")
    return sorted(found.values(), key=lambda task: task.name)
