"""A real ``redis-server`` on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str | None:
    """Path of ``redis-server`` (``$ALSEK_REDIS_SERVER`` overrides), or None."""
    return os.environ.get("ALSEK_REDIS_SERVER") or shutil.which("redis-server")


@functools.cache
def server_version(binary: str) -> tuple[int, ...]:
    """``(major, minor, patch)`` of the redis-server at ``binary``."""
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", output.stdout)
    if match is None:
        raise RuntimeError(f"cannot read the version of {binary}: {output.stdout!r}")
    return tuple(int(part) for part in match.groups())


class RedisServer:
    """Start, stop, kill and restart one redis-server process.

    ``persistent=True`` runs with ``appendonly yes`` and ``appendfsync
    always`` in its own directory, so a restart keeps every acknowledged
    write (the setting Alsek's guarantees assume).
    """

    def __init__(
        self, persistent: bool = False, port: int | None = None, args: Sequence[str] = ()
    ) -> None:
        binary = redis_binary()
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.persistent = persistent
        self.args = list(args)
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="alsek-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    @property
    def password(self) -> str | None:
        """The ``--requirepass`` given in ``args``, if any."""
        if "--requirepass" in self.args:
            return self.args[self.args.index("--requirepass") + 1]
        return None

    def command(self) -> list[str]:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
            "--maxmemory-policy",
            "noeviction",
        ]
        if server_version(self.binary) >= (7, 0, 0):
            # DEBUG SLEEP, for fault injection (loopback connections only).
            args += ["--enable-debug-command", "local"]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return args + self.args

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, password=self.password)
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server did not answer on port {self.port}")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server (no chance to save anything not yet on disk)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server politely, then forcefully."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, kill: bool = True) -> None:
        (self.kill if kill else self.stop)()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
