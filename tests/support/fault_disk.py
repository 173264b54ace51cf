"""Faults on a real ``DiskCacheBackend``, injected where SQLite reports them.

The backend keeps its own ``diskcache.Cache`` (opened with its own
options); only the cache's statement executor (``Cache._sql``) changes, to
one that consults a ``FaultInjector`` before each statement. What SQLite
says, and where:

* ``locked``: "database is locked" when taking the write lock (``BEGIN``)
  or for a write outside a transaction - where a held lock shows up in WAL
  mode. DiskCache's own code then runs: it retries a ``BEGIN`` where the
  backend asked it to retry, and raises ``diskcache.Timeout`` where not.
  Each refused lock first waits ``BUSY_S``, as SQLite's busy handler would.
* ``full``: "database or disk is full" for a write statement (the open
  transaction is rolled back by DiskCache).
* ``ioerr``: "disk I/O error" for a statement that reads or writes rows.

Errors are raised before the statement runs: SQLite applies nothing it
reports as failed, so no fault here is ever ``applied``. ``COMMIT`` and
``ROLLBACK`` never fail here: SQLite rolls a transaction back itself after
an I/O error or a full disk, whereas a raised ``COMMIT`` would leave it
open (DiskCache would then retry ``BEGIN`` on that connection forever).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.support.fault_plan import Command, FaultInjector, instrument

TEXTS = {
    "locked": "database is locked",
    "full": "database or disk is full",
    "ioerr": "disk I/O error",
}
#: How long a refused lock waits before failing (SQLite's busy handler, shortened).
BUSY_S = 0.01
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_ROWS = (*_WRITES, "SELECT", "WITH")


def describe(statement: str, in_transaction: bool) -> Command:
    """Classify one SQL statement."""
    head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    write = head in _WRITES
    return Command(
        name=head,
        write=write,
        grows=write,
        begin=head == "BEGIN",
        autocommit=not in_transaction and head != "BEGIN",
        rows=head in _ROWS,
    )


def cache_class(base: type[Any], injector: FaultInjector) -> type[Any]:
    """A subclass of the cache class ``base`` whose statements fail per plan."""

    real_sql = base._sql

    class FaultyCache(base):  # type: ignore[misc, valid-type]
        @property
        def _sql(self) -> Any:
            execute = real_sql.fget(self)
            connection = self._con

            def faulty(statement: str, *params: Any) -> Any:
                command = describe(statement, connection.in_transaction)
                rule = injector.choose(command)
                if rule is not None:
                    injector.record(rule, command)
                    if rule.kind == "locked":
                        time.sleep(BUSY_S)
                    raise sqlite3.OperationalError(TEXTS[rule.kind])
                return execute(statement, *params)

            return faulty

    FaultyCache.__name__ = f"Faulty{base.__name__}"
    return FaultyCache


def install(backend: Any, injector: FaultInjector) -> None:
    """Make ``backend`` (a DiskCacheBackend) fail statements as ``injector`` plans."""
    cache = backend.conn
    cache.__class__ = cache_class(type(cache), injector)
    instrument(backend, injector)
