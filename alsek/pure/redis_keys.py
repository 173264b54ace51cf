"""Where the Redis backend keeps things: every key it reads or writes is built here
(and, inside the scripts, by the mirror functions in ``lua/prelude.lua``).

Every key of a queue carries the queue's hash tag ``{ns:queue}``, so that Redis
Cluster puts all of them in one slot and each queue script runs on one shard::

    ns:index:{ns:q}:ready:thread ...             the queue index (prelude.lua lists it)
    ns:queues:{ns:q}:tasks:t:messages:u          a message (name queues:q:tasks:t:messages:u)
    ns:dlq:queues:{ns:q}:tasks:t:messages:u      its dead letter
    ns:deadletters:{ns:q}:by_time ...            the queue's dead-letter index
    ns:index:queues                              SET: every queue used (no script reads
                                                 it together with a queue's keys on a cluster)
    ns:deadletters:indexed                       every dead letter of ns is indexed
    ns:signal:{ns:results:u}                     wake-up list of a value, in the value's slot
    ns:NAME                                      any other name (results, locks, workers...)

Namespaces have no braces (``keys.check_namespace``), so a queue's tag is the first
in each of its keys. A queue name with a brace still gets one slot for all of its keys
(Redis reads the tag up to the first ``}``); it may just share it with other queues.
"""

from __future__ import annotations

import fnmatch
import re

#: A stored name whose key carries a queue's tag: a message, or its dead letter.
_QUEUED = re.compile(r"^((?:dlq:)?queues:)([^:]+)(.*)$", re.DOTALL)
_GLOB = re.compile(r"[*?\[]")


def queue_tag(namespace: str, queue: str) -> str:
    """The hash tag of ``queue``'s keys: ``{ns:queue}``."""
    return f"{{{namespace}:{queue}}}"


def index_key(namespace: str, queue: str, part: str) -> str:
    """A key of ``queue``'s index (``entries``, ``ready:thread``, ``signal``...)."""
    return f"{namespace}:index:{queue_tag(namespace, queue)}:{part}"


def registry_key(namespace: str) -> str:
    """The set of every queue used in ``namespace``."""
    return f"{namespace}:index:queues"


def dead_letter_index_key(namespace: str, queue: str, part: str) -> str:
    """A key of ``queue``'s dead-letter index (``by_time``, ``by_expiry``, ``by_uuid``)."""
    return f"{namespace}:deadletters:{queue_tag(namespace, queue)}:{part}"


def dead_letters_indexed_key(namespace: str) -> str:
    """Present once every dead letter of ``namespace`` is in its queue's index."""
    return f"{namespace}:deadletters:indexed"


def store_key(namespace: str, name: str) -> str:
    """The key of the stored ``name``: a message's, and its dead letter's, carry the
    tag of the queue the name says."""
    match = _QUEUED.match(name)
    if match is None:
        return f"{namespace}:{name}"
    head, queue, rest = match.groups()
    return f"{namespace}:{head}{queue_tag(namespace, queue)}{rest}"


def store_name(namespace: str, key: str | bytes) -> str:
    """The name stored at ``key`` (the inverse of ``store_key``)."""
    text = key.decode() if isinstance(key, bytes) else key
    prefix = f"{namespace}:"
    if not text.startswith(prefix):
        return text
    rest = text[len(prefix) :]
    tagged = re.match(
        rf"^((?:dlq:)?queues:)\{{{re.escape(namespace)}:([^:]+)\}}((?::.*)?)$", rest, re.DOTALL
    )
    if tagged is None:
        return rest
    head, queue, tail = tagged.groups()
    return f"{head}{queue}{tail}"


def store_pattern(namespace: str, pattern: str) -> tuple[str, bool]:
    """A Redis ``SCAN MATCH`` glob for the names matching ``pattern``, and whether the
    names it finds must still be filtered with ``matches`` (when the queue part of
    ``pattern`` is itself a glob, the server's glob can only be broader)."""
    match = _QUEUED.match(pattern)
    if match is None:
        return f"{namespace}:{pattern}", False
    head, queue, rest = match.groups()
    if _GLOB.search(queue) is None:
        return f"{namespace}:{head}{queue_tag(namespace, queue)}{rest}", False
    return f"{namespace}:{head}*", True


def matches(name: str, pattern: str) -> bool:
    """Whether ``name`` matches the glob ``pattern`` (names have no glob syntax)."""
    return fnmatch.fnmatchcase(name, pattern)


def signal_key(namespace: str, name: str) -> str:
    """The wake-up list of the value at ``name``, in the same slot as its key."""
    key = store_key(namespace, name)
    if hash_tag(key) != key or "}" in key:  # already tagged (or a tag cannot hold it)
        return f"{namespace}:signal:{key}"
    return f"{namespace}:signal:{{{key}}}"


def wake_key(namespace: str, wake: str) -> str:
    """The list a consumer waiting with ``wake_key=wake`` also blocks on."""
    return f"{namespace}:wake:{wake}"


def hash_tag(key: str) -> str:
    """What Redis Cluster hashes of ``key``: the text between its first ``{`` and the
    next ``}`` when that is not empty, else the whole key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key
