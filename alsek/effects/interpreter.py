"""The one place where Effect records become calls on the broker and result store.

Effects arrive in the order the pure core wants them carried out. A claimed
message's lease token fences every step: if the lease is gone (another
consumer took the message over), nothing more is written for this run.
Transient backend outages are retried with backoff, so a Redis restart
delays an outcome instead of losing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs

from alsek.effects.backends.base import ResultWrite
from alsek.effects.broker import Broker
from alsek.effects.clock import monotonic_ms
from alsek.effects.failures import write_failure
from alsek.effects.result import ResultStore
from alsek.exceptions import BackendUnavailableError, MessageExistsError, SerializationError
from alsek.pure.cancel import cancel_marker_name
from alsek.pure.dead_letter import record_for
from alsek.pure.decisions import (
    Ack,
    Cancel,
    DeadLetter,
    Effect,
    RecordFailure,
    Reschedule,
    StoreResult,
    SubmitCallback,
)
from alsek.pure.failure import failure_record
from alsek.pure.keys import get_message_name
from alsek.pure.message import Message

log = logging.getLogger("alsek.outcome")
T = TypeVar("T")

#: How long to keep retrying one backend step through an outage.
DEFAULT_PATIENCE_MS = 120_000


@attrs.frozen
class Report:
    """How carrying out a decision went."""

    accepted: bool
    detail: str = ""


def persist(
    step: Callable[[], T],
    what: str,
    patience_ms: int = DEFAULT_PATIENCE_MS,
    stopping: Callable[[], bool] = lambda: False,
) -> T:
    """Run ``step``, retrying through ``BackendUnavailableError`` with backoff."""
    deadline = time.monotonic() + patience_ms / 1000
    pause = 0.05
    while True:
        try:
            return step()
        except BackendUnavailableError as error:
            if time.monotonic() + pause > deadline or stopping():
                raise
            log.warning("%s: backend unavailable (%s); retrying in %.2fs", what, error, pause)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


class Interpreter:
    """Carries out decisions for messages claimed under a lease.

    Args:
        broker: the message's broker.
        lease_ms: lease length, used to re-check the lease before a result write.
    """

    def __init__(
        self, broker: Broker, lease_ms: int, patience_ms: int = DEFAULT_PATIENCE_MS
    ) -> None:
        self.broker = broker
        self.lease_ms = lease_ms
        self.patience_ms = patience_ms

    def _lease_holds(self, message: Message, expires: int | None) -> bool:
        """Whether our lease on ``message`` still holds before a write that the lease
        itself cannot fence (a result in another store). ``expires`` is when the lease
        runs out by this host's monotonic clock (ms), if known."""
        if message.lock is None:
            return True
        if expires is not None and expires - monotonic_ms() > self.lease_ms // 2:
            # Nobody can claim a message before its lease expires, and this one
            # has more than half its lease left: no need to ask the backend.
            return True
        return persist(
            lambda: self.broker.renew([message], self.lease_ms)[0],
            f"renewing {message.summary}",
            self.patience_ms,
        )

    def carry_out(
        self,
        effects: Sequence[Effect],
        token: str | None,
        result_store: ResultStore | None = None,
        lease_deadline: int | None = None,
    ) -> Report:
        """Carry out ``effects`` for a message held under ``token``.

        ``lease_deadline`` (when known: monotonic ms of this host) lets a fresh
        lease skip the re-check before a result written to another store.
        """
        settled = self._settle(effects, token, result_store, lease_deadline)
        if settled is not None:
            return settled
        for position, effect in enumerate(effects):
            if isinstance(effect, StoreResult):
                if not self._lease_holds(effect.message, lease_deadline):
                    return self._lost(effect.message)
                if result_store is None:
                    log.warning(
                        "%s wants its result stored but its task has no result_store",
                        effect.message.summary,
                    )
                    continue
                try:
                    persist(
                        lambda e=effect: result_store.set(e.message, e.result),  # type: ignore[misc]
                        f"storing the result of {effect.message.summary}",
                        self.patience_ms,
                    )
                except SerializationError as error:
                    # A result that cannot be stored will not be storable on a retry either.
                    reason = f"result could not be stored: {error}"
                    now = self.broker.clock.now()
                    return self.carry_out([DeadLetter(effect.message, reason, now)], token)
            elif isinstance(effect, SubmitCallback):
                self._submit_callback(effect.message)
            elif isinstance(effect, Ack):
                if not persist(
                    lambda e=effect: self.broker.ack(e.message),  # type: ignore[misc]
                    f"acking {effect.message.summary}",
                    self.patience_ms,
                ):
                    return self._lost(effect.message)
                log.debug("acked %s", effect.message.summary)
            elif isinstance(effect, Reschedule):
                change = "reset" if effect.kind == "retry" else "keep"
                ok = persist(
                    lambda e=effect, c=change: self.broker.release(e.message, token, c),  # type: ignore[misc]
                    f"rescheduling {effect.message.summary}",
                    self.patience_ms,
                )
                if not ok:
                    return self._lost(effect.message)
            elif isinstance(effect, DeadLetter):
                name = get_message_name(effect.message)
                failure = next((e for e in effects if isinstance(e, RecordFailure)), None)
                record = record_for(
                    name,
                    effect.message,
                    effect.reason,
                    effect.at,
                    traceback=None if failure is None else failure.error.traceback or None,
                    attempts=None if failure is None else failure.attempts,
                )
                ok = persist(
                    lambda: self.broker.dead_letter_name(effect.message.queue, name, token, record),  # noqa: B023
                    f"dead-lettering {effect.message.summary}",
                    self.patience_ms,
                )
                if not ok:
                    return self._lost(effect.message)
                log.error("dead-lettered %s: %s", effect.message.summary, effect.reason)
            elif isinstance(effect, RecordFailure):
                self._record_failure(effect, result_store)
            elif isinstance(effect, Cancel):
                if not persist(
                    lambda e=effect: self.broker.ack(e.message),  # type: ignore[misc]
                    f"removing cancelled {effect.message.summary}",
                    self.patience_ms,
                ):
                    return self._lost(effect.message)
                self._forget_cancel_request(effect.message)
            else:  # pragma: no cover - the Effect union is closed
                raise TypeError(f"unknown effect {effect!r} at position {position}")
        return Report(True)

    def _settle(
        self,
        effects: Sequence[Effect],
        token: str | None,
        result_store: ResultStore | None,
        lease_deadline: int | None = None,
    ) -> Report | None:
        """A success (result?, callback?, ack) in one atomic, fenced step (None: not a success
        of that shape). A result bound for another store is written first (fenced by a
        lease check: results are write-once, so a redelivered run cannot overwrite it)."""
        if not effects or not isinstance(effects[-1], Ack) or token is None:
            return None
        store = next((e for e in effects if isinstance(e, StoreResult)), None)
        callback = next((e for e in effects if isinstance(e, SubmitCallback)), None)
        if store is None and callback is None:
            return None
        message = effects[-1].message
        result: ResultWrite | None = None
        if store is not None and result_store is None:
            log.warning(
                "%s wants its result stored but its task has no result_store", message.summary
            )
        elif store is not None and result_store is not None:
            try:
                if result_store.backend.identity() == self.broker.backend.identity():
                    result = result_store.write_for(message, store.result)
                    result_store.backend.encode(result.name, result.value)  # fail here, first
                    persist(
                        lambda: result_store.link(message),
                        f"linking the result of {message.summary}",
                        self.patience_ms,
                    )
                else:
                    if not self._lease_holds(message, lease_deadline):
                        return self._lost(message)
                    persist(
                        lambda: result_store.set(message, store.result),
                        f"storing the result of {message.summary}",
                        self.patience_ms,
                    )
            except SerializationError as error:
                # A result that cannot be stored will not be storable on a retry either.
                reason = f"result could not be stored: {error}"
                now = self.broker.clock.now()
                return self.carry_out([DeadLetter(message, reason, now)], token)
        ok = persist(
            lambda: self.broker.settle(
                message, token, result, None if callback is None else callback.message
            ),
            f"recording the outcome of {message.summary}",
            self.patience_ms,
        )
        return Report(True) if ok else self._lost(message)

    def _record_failure(self, effect: RecordFailure, result_store: ResultStore | None) -> None:
        """Keep the run's error where ``inspect`` and the result's readers look; never
        raises (the outcome itself matters more than its description)."""
        record = failure_record(effect)
        backends = [self.broker.backend]
        if (
            effect.final
            and result_store is not None
            and effect.message.store_result
            and result_store.backend.identity() != self.broker.backend.identity()
        ):
            backends.append(result_store.backend)
        for backend in backends:
            try:
                persist(
                    lambda b=backend: write_failure(b, record),  # type: ignore[misc]
                    f"recording the error of {effect.message.summary}",
                    self.patience_ms,
                )
            except Exception as error:
                log.warning("could not record the error of %s (%s)", effect.message.summary, error)

    def _forget_cancel_request(self, message: Message) -> None:
        try:
            self.broker.backend.delete(
                cancel_marker_name(get_message_name(message)), missing_ok=True
            )
        except Exception as error:  # it expires on its own
            log.debug("could not clear the cancel request of %s: %s", message.summary, error)

    def _submit_callback(self, message: Message) -> None:
        try:
            persist(
                lambda: self.broker.submit(message),
                f"submitting callback {message.summary}",
                self.patience_ms,
            )
        except MessageExistsError:
            # A redelivered run already submitted it: callbacks are exactly-once by uuid.
            log.info("callback %s was already submitted", message.summary)

    @staticmethod
    def _lost(message: Message) -> Report:
        log.warning(
            "lease on %s no longer holds: another consumer took it over; this run's outcome "
            "is discarded",
            message.summary,
        )
        return Report(False, "lease lost")
