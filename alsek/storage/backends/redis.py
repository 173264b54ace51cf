"""The Redis backend (``alsek.storage.backends.redis``)."""

from alsek.effects.backends.redis import RedisBackend

__all__ = ["RedisBackend"]
