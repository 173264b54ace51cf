"""Cross-process wake-ups for a backend without a server: a named pipe per signal.

``ring()`` writes one byte (never blocking, never failing: a full pipe or no
listener means someone is already awake or nobody waits). ``wait()`` blocks
in ``select`` until a byte arrives or the timeout passes, then drains the
pipe. Every process that waits wakes; spurious wake-ups only cost a look.
Where named pipes are unavailable it degrades to an in-process condition.
"""

from __future__ import annotations

import errno
import os
import select
import threading


class Doorbell:
    """A wake-up signal shared by every process using the same ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid: int | None = None
        self._reader: int | None = None
        self._keeper: int | None = None
        self._lock = threading.Lock()
        self._condition = threading.Condition()
        self._fifo = hasattr(os, "mkfifo")

    def _open(self) -> int | None:
        with self._lock:
            if self._pid == os.getpid() and self._reader is not None:
                return self._reader
            try:
                try:
                    os.mkfifo(self.path, 0o600)
                except FileExistsError:
                    pass
                # Our own idle writer keeps the pipe from reporting EOF forever.
                self._reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                self._keeper = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                self._pid = os.getpid()
            except OSError:
                self._fifo = False
                return None
            return self._reader

    def ring(self) -> None:
        """Wake every waiter (in this and other processes)."""
        with self._condition:
            self._condition.notify_all()
        if not self._fifo:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no pipe yet (nobody ever waited) or no reader
            return
        try:
            os.write(fd, b"\x01")
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EPIPE):
                raise
        finally:
            os.close(fd)

    def wait(self, timeout_s: float) -> None:
        """Block up to ``timeout_s`` or until rung."""
        reader = self._open() if self._fifo else None
        if reader is None:
            with self._condition:
                self._condition.wait(timeout_s)
            return
        ready, _, _ = select.select([reader], [], [], max(timeout_s, 0))
        if ready:
            try:
                while os.read(reader, 4096):
                    pass
            except BlockingIOError:
                pass
