"""Test mode (``alsek.testing``): run tasks in your own tests, without a server.

``MemoryBackend`` keeps everything in this process; ``run_until_idle``
runs what is queued the way a worker would; ``eager`` runs each submission
at once; ``fire`` submits one tick of a triggered task.
"""

from alsek.effects.drain import Drained, Run, eager, fire, fired_root, run_until_idle
from alsek.effects.memory import MemoryBackend

__all__ = ["Drained", "MemoryBackend", "Run", "eager", "fire", "fired_root", "run_until_idle"]
