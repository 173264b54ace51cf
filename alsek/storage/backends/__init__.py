"""Backend base class and lazy connections (``alsek.storage.backends``)."""

from alsek.effects.backends.base import Backend
from alsek.effects.backends.lazy import LazyClient

__all__ = ["Backend", "LazyClient"]
