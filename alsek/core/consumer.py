"""Consumers (``alsek.core.consumer``)."""

from alsek.effects.consumer import Consumer

__all__ = ["Consumer"]
