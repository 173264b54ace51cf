"""The core API: brokers, tasks, messages, locks (the guided tour's ``alsek.core``)."""

# ``task`` is both a submodule and a function here: importing the submodule
# first (below) makes the function the name that sticks.
from alsek.core.task import task
from alsek.effects.broker import Broker
from alsek.effects.lock import Lock
from alsek.effects.message import Message

__all__ = ["Broker", "Lock", "Message", "task"]
