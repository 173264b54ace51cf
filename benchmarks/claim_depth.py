"""What one claim costs as the queue grows, on Redis and on DiskCache.

    python benchmarks/claim_depth.py [--depths 1000,10000,100000,1000000] [--rounds 2000]
                                     [--backend redis|disk|both]

For each depth, the queue is filled with that many no-op messages (in bulk), then
``--rounds`` times one message is claimed with the ack of the previous one riding
along (what a task process does per task), and the mean time of that round trip is
printed; on Redis also the server's own time per claim script (``INFO commandstats``,
usec per EVALSHA), which the client's noise does not reach. The claim cost is flat
when the deepest queue's figure is within 1.5x of the shallowest's (PASS).
It starts its own redis-server on a free loopback port.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alsek.effects.clock import new_uuid  # noqa: E402
from alsek.pure.keys import get_message_name  # noqa: E402
from alsek.pure.message import Message  # noqa: E402
from alsek.pure.queue_model import IndexEntry, LeaseRef  # noqa: E402

QUEUE = "depth"
FLAT = 1.5


def fill(backend: Any, count: int, chunk: int = 2_000) -> None:
    """Queue ``count`` no-op messages (thread mechanism) in bulk, without a Message each."""
    template = Message(task_name="noop", queue=QUEUE, uuid="u", created_at=1, mechanism="thread")
    now = int(time.time() * 1000)
    done = 0
    while done < count:
        items = []
        for _ in range(min(chunk, count - done)):
            uuid = new_uuid()
            data = dict(template.data, uuid=uuid, created_at=now, updated_at=now)
            name = get_message_name(template).rsplit(":", 1)[0] + f":{uuid}"
            items.append((IndexEntry(QUEUE, name, "thread", 0, now, now), data))
        backend.enqueue_many(items, now)
        done += len(items)


def rounds(backend: Any, count: int) -> float:
    """Mean seconds of one claim + the ack of the previous claim."""
    previous: list[LeaseRef] = []
    started = time.perf_counter()
    for i in range(count):
        now = int(time.time() * 1000)
        batch = backend.claim([QUEUE], ["thread"], now, 60_000, [f"t{i}"], previous, decode=False)
        claim = batch.claims[0]
        previous = [LeaseRef(QUEUE, claim.name, claim.token)]
    took = (time.perf_counter() - started) / count
    backend.claim([QUEUE], ["thread"], int(time.time() * 1000), 60_000, [], previous)
    return took


def evalsha_usec(client: Any) -> float:
    return float(client.info("commandstats")["cmdstat_evalsha"]["usec_per_call"])


def measure(kind: str, depths: list[int], count: int) -> list[tuple[int, float, float | None]]:
    """(depth, client seconds per round, server usec per claim script) for each depth."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="alsek-depth-") as directory:
        server = None
        if kind == "redis":
            from alsek.storage.backends.redis import RedisBackend
            from tests.support.redis_server import RedisServer

            server = RedisServer().start()
            backend: Any = RedisBackend(server.url, namespace="depth")
        else:
            from alsek.storage.backends.disk import DiskCacheBackend

            backend = DiskCacheBackend(directory, namespace="depth")
        try:
            queued = 0
            for depth in sorted(depths):
                fill(backend, depth - queued + count)
                queued = depth
                if server is not None:
                    backend.conn.config_resetstat()
                took = rounds(backend, count)
                server_usec = evalsha_usec(backend.conn) if server is not None else None
                figures.append((depth, took, server_usec))
                print(f"  {kind:5} {depth:>9,} queued: claim + ack {took * 1e6:7.0f} us"
                      + (f"   (server {server_usec:5.0f} us per claim)" if server_usec else ""),
                      flush=True)
        finally:
            if server is not None:
                server.close()
    return figures


def verdict(figures: list[tuple[int, float, float | None]]) -> str:
    shallow, deep = figures[0], figures[-1]
    ratio = deep[1] / shallow[1]
    line = f"{deep[0]:,} vs {shallow[0]:,} queued: x{ratio:.2f} (client)"
    met = ratio <= FLAT
    if shallow[2] and deep[2]:
        server_ratio = deep[2] / shallow[2]
        line += f", x{server_ratio:.2f} (server)"
        met = met or server_ratio <= FLAT
    return f"{line}  {'PASS' if met else 'MISS'} (flat: within x{FLAT})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="1000,10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    kinds = ["redis", "disk"] if args.backend == "both" else [args.backend]
    print(f"python benchmarks/claim_depth.py --depths {args.depths} --rounds {args.rounds}")
    results = {kind: measure(kind, depths, args.rounds) for kind in kinds}
    for kind, figures in results.items():
        print(f"{kind}: {verdict(figures)}")


if __name__ == "__main__":
    main()
