"""The core API: brokers, tasks, messages, locks (the guided tour's ``alsek.core``)."""

from alsek.effects.broker import Broker
from alsek.effects.lock import Lock
from alsek.effects.message import Message
from alsek.effects.task import task

__all__ = ["Broker", "Lock", "Message", "task"]
