"""Worker pools (``alsek.core.worker``)."""

from alsek.effects.pool.pool import WorkerPool

__all__ = ["WorkerPool"]
