"""The Broker (``alsek.core.broker``)."""

from alsek.effects.broker import Broker

__all__ = ["Broker"]
