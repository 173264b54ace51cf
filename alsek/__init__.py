"""Alsek: a distributed task queue for Python.

The public API lives at the paths of the guided tour: ``alsek.core``,
``alsek.core.task``, ``alsek.core.consumer``, ``alsek.core.worker``,
``alsek.storage.backends``, ``alsek.storage.result`` and friends. This module
deliberately imports nothing heavy, so ``import alsek.pure`` stays I/O-free.
"""

__version__ = "0.2.0"
