"""The DiskCache backend (``alsek.storage.backends.disk``)."""

from alsek.effects.backends.disk import DiskCacheBackend

__all__ = ["DiskCacheBackend"]
