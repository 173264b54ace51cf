"""Waiting on a Redis Cluster for work in any of several queues.

One server blocks on every queue's signal list with one ``BLPOP``. A cluster cannot:
a command's keys must share a slot, and each queue has its own. So an idle consumer
of several queues blocks on each list at once, one ``BLPOP`` per list on its own
connection to the shard serving it (a thread each); the first to return wakes the
caller, and the others are ended at once with ``CLIENT UNBLOCK``. A consumer of one
queue blocks on it like on one server.

A wake-up is a hint, as on one server: the caller then claims queue by queue, in its
order, and a block never lasts longer than ``MAX_BLOCK_S``, so a hint lost to a
failover or a stolen wake-up delays work by at most that.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

#: How long to wait for the blocked pops to end after the first one returned.
JOIN_S = 0.5


class _Pop:
    """One blocking pop: its list, and the shard and client id it blocks on."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.node_client: Any = None
        self.client_id: int | None = None
        self.started = threading.Event()
        self.thread: threading.Thread | None = None


def wait_on(cluster: Any, keys: Sequence[str], timeout_s: float) -> None:
    """Block until one of ``keys`` (lists, any slots) gets an element, or ``timeout_s``."""
    if len(keys) == 1:
        cluster.blpop(list(keys), timeout=timeout_s)
        return
    woke = threading.Event()
    pops = [_Pop(key) for key in keys]
    for pop in pops:
        pop.thread = threading.Thread(
            target=_block, args=(cluster, pop, timeout_s, woke), name="alsek-wait", daemon=True
        )
        pop.thread.start()
    woke.wait(timeout_s + JOIN_S)
    for pop in pops:
        alive = pop.thread is not None and pop.thread.is_alive()
        if alive and pop.started.wait(JOIN_S) and pop.client_id is not None:
            try:
                pop.node_client.client_unblock(pop.client_id)
            except Exception as error:  # it ends at its timeout anyway
                log.debug("could not unblock the wait on %s: %s", pop.key, error)
    for pop in pops:
        if pop.thread is not None:
            pop.thread.join(JOIN_S)


def _block(cluster: Any, pop: _Pop, timeout_s: float, woke: threading.Event) -> None:
    """``BLPOP`` on a connection of the shard serving ``pop.key``, learning its client
    id in the same round trip; any error (a moved slot, a failed shard) wakes the caller,
    whose claim then meets the error or the new slot map."""
    connection = None
    pool = None
    try:
        node = cluster.get_node_from_key(pop.key)
        pop.node_client = node.redis_connection
        pool = pop.node_client.connection_pool
        connection = pool.get_connection()
        connection.send_command("CLIENT", "ID")
        connection.send_command("BLPOP", pop.key, timeout_s)
        pop.client_id = int(connection.read_response())
        pop.started.set()
        connection.read_response()
    except Exception as error:
        log.debug("the wait on %s ended with %s", pop.key, error)
        if connection is not None:
            connection.disconnect()  # its replies may be unread
    finally:
        pop.started.set()
        woke.set()
        if connection is not None and pool is not None:
            pool.release(connection)
