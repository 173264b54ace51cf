"""How a backend's wake-up signals reach the consumers waiting for work (``Overheads.signals``).

Every message placed in a queue (submitted, retried, handed back; ready or
delayed) sends one signal. Who hears it depends on the backend:

* ``"pools"`` (the default): every waiting dispatcher hears every signal, and
  one waiting task process (of the pools in turn) does;
* ``"fifo"`` (Redis): a signal is a token in a list, popped by *one* waiter,
  the one that has waited longest, dispatcher or task process alike,
  whether or not it can run the message; a token nobody waits for stays in
  the list (up to 16) and the next wait to begin returns at once with it;
* ``"any"`` (DiskCache): a signal is a byte in a pipe, drained by whichever
  waiter the operating system runs first; bytes nobody waits for collapse
  into one, which the next wait to begin drains.

In the last two, a waiter woken for a message it cannot run claims nothing
and waits again, while the one that could run it sleeps on until another
signal, its consumer's backoff or a delayed message's ready time: the
wake-up a mixed pool misses under ``"pools"``. A dispatcher's wake-up after
a freed slot goes to its own key on Redis (``"fifo"``: to it alone) and to
the shared pipe on DiskCache (``"any"``: to whoever drains it).

``Signals`` keeps the waiters in the order their waits began: ``("d", pool)``
for a dispatcher, ``("c", pool, task process id)`` for a task process.
"""

from __future__ import annotations

import random
from typing import Any

POOLS, FIFO, ANY = "pools", "fifo", "any"
MODES = (POOLS, FIFO, ANY)
#: Signals a backend keeps for waits yet to begin.
KEPT = {FIFO: 16, ANY: 1, POOLS: 0}

Waiter = tuple[Any, ...]


class Signals:
    """The waiters of one run, for the ``"fifo"`` and ``"any"`` modes."""

    def __init__(self, mode: str, rnd: random.Random) -> None:
        self.mode = mode
        self.one = mode != POOLS
        self.rnd = rnd
        self.waiting: dict[Waiter, None] = {}
        self.kept = 0

    def begin(self, waiter: Waiter) -> bool:
        """A wait begins; True if a kept signal ends it at once (the caller claims now)."""
        if self.kept:
            self.kept -= 1
            return True
        self.waiting[waiter] = None
        return False

    def end(self, waiter: Waiter) -> None:
        """A wait ended some other way (it fell due, its pool died)."""
        self.waiting.pop(waiter, None)

    def send(self) -> Waiter | None:
        """A signal: the waiter it wakes (no longer waiting), or None (it is kept)."""
        waiting = self.waiting
        if not waiting:
            self.kept = min(self.kept + 1, KEPT[self.mode])
            return None
        waiter = next(iter(waiting)) if self.mode == FIFO else self.rnd.choice(list(waiting))
        del waiting[waiter]
        return waiter

    def drop_pool(self, index: int) -> None:
        """Pool ``index`` died: its waiters wait no more."""
        for waiter in [w for w in self.waiting if w[1] == index]:
            del self.waiting[waiter]
