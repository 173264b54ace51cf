"""Real Redis topologies on loopback, for tests and benchmarks: a Redis Cluster (masters
with one replica each, made by ``redis-cli --cluster create``) and a Sentinel setup (one
primary, one replica, three sentinels). Every wait is bounded; ``close`` stops every
process it started and removes its directories."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support.redis_server import RedisServer, redis_binary


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_ports(count: int) -> list[int]:
    """``count`` free loopback ports whose cluster bus ports (+10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 55_000 and port not in ports and _port_is_free(port + 10_000):
            ports.append(port)
    return ports


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it is true, or raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class RedisClusterSetup:
    """``masters`` masters with ``replicas_each`` replicas each, on loopback.

    ``node_timeout_ms`` is the cluster's failure detection time: a killed master's
    replica takes over about that long after the kill (plus an election).
    ``persistent`` runs every node with ``appendonly yes`` and ``appendfsync always``.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas_each: int = 1,
        node_timeout_ms: int = 1_000,
        persistent: bool = False,
    ) -> None:
        self.masters = masters
        self.replicas_each = replicas_each
        ports = cluster_ports(masters * (1 + replicas_each))
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(node_timeout_ms),
            # A cluster that lost a shard still serves the others (as deployed).
            "--cluster-require-full-coverage", "no",
        ]
        self.nodes = [RedisServer(persistent=persistent, port=p, args=args) for p in ports]

    @property
    def url(self) -> str:
        """The URL form Alsek reads: every node as a start-up node."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"redis+cluster://{hosts}"

    def start(self, timeout: float = 60.0) -> RedisClusterSetup:
        try:
            for node in self.nodes:
                node.start()
            if self.masters == 1 and self.replicas_each == 0:
                # (redis-cli creates clusters of 3 masters or more)
                client = self.client(self.nodes[0].port)
                try:
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
                finally:
                    client.close()
            else:
                cli = shutil.which("redis-cli") or str(
                    Path(redis_binary() or "redis-server").with_name("redis-cli")
                )
                command = [cli, "--cluster", "create"]
                command += [f"127.0.0.1:{node.port}" for node in self.nodes]
                command += ["--cluster-replicas", str(self.replicas_each), "--cluster-yes"]
                subprocess.run(command, check=True, capture_output=True, timeout=timeout)
            wait_until(self.healthy, timeout, "the cluster to be up with every replica in sync")
        except BaseException:
            self.close()
            raise
        return self

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=1)

    def healthy(self) -> bool:
        """Every live node sees the cluster as ok, and every live master's replicas
        are online and caught up."""
        masters = 0
        for node in self.live_nodes():
            client = self.client(node.port)
            try:
                if client.cluster("info")["cluster_state"] != "ok":
                    return False
                info = client.info("replication")
                if info["role"] == "master":
                    masters += 1
                    offset = int(info["master_repl_offset"])
                    online = [
                        value
                        for key, value in info.items()
                        if key.startswith("slave") and isinstance(value, dict)
                    ]
                    if len(online) < self.replicas_each:
                        return False
                    if any(v.get("state") != "online" or int(v["offset"]) < offset
                           for v in online):
                        return False
            finally:
                client.close()
        return masters == self.masters

    def live_nodes(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def master_ports(self) -> list[int]:
        """The ports of the masters serving slots now."""
        client = self.client(self.live_nodes()[0].port)
        try:
            slots = client.cluster("slots")
        finally:
            client.close()
        return sorted({int(master[1]) for _start, _end, master, *_ in slots})

    def master_of(self, key: str) -> RedisServer:
        """The live node serving ``key``'s slot now."""
        for node in self.live_nodes():
            client = self.client(node.port)
            try:
                slot = int(client.cluster("keyslot", key))
                owner = client.cluster("slots")
            finally:
                client.close()
            for start, end, master, *_ in owner:
                if int(start) <= slot <= int(end):
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no live node serves {key!r}")

    def kill(self, node: RedisServer, timeout: float = 30.0) -> None:
        """SIGKILL ``node`` and wait until a replica has taken over its slots."""
        node.kill()
        wait_until(
            lambda: self._covered_without(node), timeout, f"a replica to replace :{node.port}"
        )

    def _covered_without(self, dead: RedisServer) -> bool:
        for node in self.live_nodes():
            client = self.client(node.port)
            try:
                if client.cluster("info")["cluster_state"] != "ok":
                    return False
                slots = client.cluster("slots")
            finally:
                client.close()
            covered = sum(int(end) - int(start) + 1 for start, end, *_ in slots)
            served_by_dead = any(int(m[1]) == dead.port for _s, _e, m, *_ in slots)
            if covered != 16384 or served_by_dead:
                return False
        return True

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> RedisClusterSetup:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class SentinelSetup:
    """A primary, one replica and three sentinels watching them as ``service``."""

    def __init__(
        self, service: str = "alsek", down_after_ms: int = 1_000, persistent: bool = False
    ) -> None:
        self.service = service
        self.down_after_ms = down_after_ms
        self.primary = RedisServer(persistent=persistent)
        self.replica = RedisServer(persistent=persistent)
        self.directory = Path(tempfile.mkdtemp(prefix="alsek-sentinel-"))
        self.sentinel_ports = cluster_ports(3)
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service}"

    def start(self, timeout: float = 60.0) -> SentinelSetup:
        try:
            self.primary.start()
            self.replica.args += ["--replicaof", "127.0.0.1", str(self.primary.port)]
            self.replica.start()
            wait_until(self._replica_synced, timeout, "the replica to sync")
            binary = redis_binary() or "redis-server"
            for port in self.sentinel_ports:
                conf = self.directory / f"sentinel-{port}.conf"
                conf.write_text(
                    f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                    f"logfile {self.directory / f'sentinel-{port}.log'}\n"
                    f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} 2\n"
                    f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                    f"sentinel failover-timeout {self.service} 10000\n"
                    f"sentinel parallel-syncs {self.service} 1\n"
                )
                self.sentinels.append(
                    subprocess.Popen(
                        [binary, str(conf), "--sentinel"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            wait_until(self._sentinels_agree, timeout, "the sentinels to see the replica")
        except BaseException:
            self.close()
            raise
        return self

    def _replica_synced(self) -> bool:
        client = redis.Redis(port=self.replica.port, socket_timeout=2)
        try:
            return client.info("replication").get("master_link_status") == "up"
        finally:
            client.close()

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=2)
            try:
                master = client.sentinel_master(self.service)
                if int(master["num-slaves"]) < 1 or int(master["num-other-sentinels"]) < 2:
                    return False
            finally:
                client.close()
        return True

    def current_primary(self) -> RedisServer:
        """The server the sentinels name as the primary now."""
        client = redis.Redis(port=self.sentinel_ports[0], socket_timeout=2)
        try:
            _host, port = client.sentinel_get_master_addr_by_name(self.service)
        finally:
            client.close()
        return self.primary if int(port) == self.primary.port else self.replica

    def kill_primary(self, timeout: float = 30.0) -> RedisServer:
        """SIGKILL the primary and wait until the sentinels promoted the replica;
        returns the new primary."""
        old = self.current_primary()
        new = self.replica if old is self.primary else self.primary
        old.kill()

        def promoted() -> bool:
            client = redis.Redis(port=new.port, socket_timeout=2)
            try:
                role = client.info("replication")["role"]
            finally:
                client.close()
            return role == "master" and self.current_primary() is new

        wait_until(promoted, timeout, "the sentinels to promote the replica")
        return new

    def close(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.primary.close()
        self.replica.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SentinelSetup:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
