"""Worker pools (``alsek.core.worker``)."""

from alsek.effects.worker import WorkerPool

__all__ = ["WorkerPool"]
