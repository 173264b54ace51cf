"""Task processes: the multiprocessing implementation and how processes start.

Task processes start with the ``forkserver`` method where available (a
clean, single-threaded parent to fork from, with the task modules
preloaded) and ``spawn`` elsewhere; ``ALSEK_MULTIPROCESS_BACKEND=pytorch``
uses ``torch.multiprocessing``. What a task process does is
``alsek.effects.runners.child``'s; how the pool supervises them,
``alsek.effects.pool.children``'s.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from typing import Any

from alsek.exceptions import ValidationError

log = logging.getLogger("alsek.worker")


def multiprocessing_module() -> Any:
    """The multiprocessing implementation chosen by ``ALSEK_MULTIPROCESS_BACKEND``."""
    choice = os.environ.get("ALSEK_MULTIPROCESS_BACKEND", "standard").strip().lower()
    if choice in ("", "standard", "stdlib", "multiprocessing"):
        import multiprocessing

        return multiprocessing
    if choice in ("pytorch", "torch"):
        try:
            import torch.multiprocessing as torch_mp
        except ImportError as error:
            raise ValidationError(
                "ALSEK_MULTIPROCESS_BACKEND=pytorch needs PyTorch, which is not installed "
                f"({error}); install torch or unset the variable"
            ) from error
        return torch_mp
    raise ValidationError(
        f"ALSEK_MULTIPROCESS_BACKEND must be 'standard' or 'pytorch', got {choice!r}"
    )


def start_method(mp: Any) -> str:
    """``$ALSEK_START_METHOD``, else forkserver where available, else spawn."""
    explicit = os.environ.get("ALSEK_START_METHOD")
    methods = mp.get_all_start_methods()
    if explicit:
        if explicit not in methods:
            raise ValidationError(f"ALSEK_START_METHOD={explicit!r}: available are {methods}")
        return explicit
    return "forkserver" if "forkserver" in methods else "spawn"


def describe_exit(code: int | None) -> str:
    """How a process ended, for logs."""
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def preload(mp: Any, method: str, modules: Sequence[str]) -> Any:
    """A multiprocessing context for ``method``, preloading ``modules`` in a forkserver."""
    context = mp.get_context(method)
    if method == "forkserver":
        wanted = ["alsek.effects.runners.child", *[m for m in modules if m != "__main__"]]
        if hasattr(context, "set_forkserver_preload"):
            context.set_forkserver_preload(wanted)
    return context


def task_modules(functions_modules: Sequence[str]) -> list[str]:
    """Modules a child must import to know the pool's tasks (``__main__`` is handled by
    multiprocessing itself)."""
    seen: list[str] = []
    for module in functions_modules:
        if module and module not in seen and module not in ("__main__", "__mp_main__"):
            seen.append(module)
    return seen
