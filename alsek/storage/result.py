"""Result storage (``alsek.storage.result``)."""

from alsek.effects.result import ResultStore

__all__ = ["ResultStore"]
