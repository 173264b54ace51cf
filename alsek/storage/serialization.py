"""Serializers (``alsek.storage.serialization``)."""

from alsek.effects.serialization import JsonSerializer, Serializer

__all__ = ["JsonSerializer", "Serializer"]
