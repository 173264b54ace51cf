"""Tasks: a function plus the rules for running it (the decorator is ``decorator.task``).

A ``Task`` turns calls into messages (``generate``), and runs a message's
function with its hooks (``run``). What happens after a run is decided by
``alsek.pure.decisions`` and carried out by ``alsek.effects.interpreter``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from alsek import defaults
from alsek.effects.awaitable import AwaitableCalls
from alsek.effects.broker import Broker
from alsek.effects.coroutines import execute_async, run_blocking
from alsek.effects.deferral import Deferrable
from alsek.effects.loops import run_coroutine, settle_now
from alsek.effects.message import Message
from alsek.effects.outcomes import failed, succeeded
from alsek.effects.registry import register
from alsek.effects.result import ResultStore
from alsek.effects.signature import check_not_async_generator, is_coroutine_function, wants_message
from alsek.exceptions import TaskCancelledError, TaskTimeoutError, ValidationError
from alsek.pure.backoff import Backoff, ExponentialBackoff
from alsek.pure.callbacks import attach
from alsek.pure.durations import Duration, to_ms
from alsek.pure.keys import get_message_name
from alsek.pure.message import MECHANISMS, check_name
from alsek.pure.outcome import Outcome
from alsek.pure.policy import TaskPolicy, default_should_retry
from alsek.pure.validate import (
    check_duration,
    check_int,
    check_optional_duration,
    check_optional_int,
    check_priority,
)

#: The parameters and the return type of a task's function.
P = ParamSpec("P")
R = TypeVar("R")


class Task(Deferrable, AwaitableCalls[P, R], Generic[P, R]):
    """A function that runs on worker pools.

    ``Task[P, R]`` carries the function's parameters ``P`` and return type
    ``R``, so a type checker checks ``task(...)`` calls, ``delay(...)`` and the
    type of ``result(...)``. An ``async def`` function runs on an event loop
    (``is_async``; ``@task`` types it as an ``AsyncTask``).

    Args:
        function: what to run.
        broker: where its messages go.
        name: task name (default: the function's name).
        queue: queue name (default ``'alsek_queue'``).
        priority: lower runs first within a queue.
        timeout: milliseconds (or a ``timedelta``) before a run is stopped.
        max_retries: retries after failures (None: forever).
        backoff: wait between retries (None: retry at once).
        result_store: where results go; results are stored when set.
        mechanism: ``'process'`` or ``'thread'``; by default ``'process'`` for a
            function and ``'thread'`` for an ``async def`` one (the worker pool's
            event loop).
        store_result: override whether results are stored.
        max_redeliveries: crash-redeliveries before dead-lettering.
        result_ttl: how long (ms or a ``timedelta``) this task's results are
            kept unread, unless ``generate(result_ttl=...)`` says otherwise
            (None: the result store's ``ttl``).
    """

    def __init__(
        self,
        function: Callable[P, R],
        broker: Broker,
        name: str | None = None,
        queue: str | None = None,
        priority: int = defaults.DEFAULT_PRIORITY,
        timeout: Duration = defaults.DEFAULT_TASK_TIMEOUT,
        max_retries: int | None = defaults.DEFAULT_MAX_RETRIES,
        backoff: Backoff | None = ExponentialBackoff(),
        result_store: ResultStore | None = None,
        mechanism: str | None = None,
        store_result: bool | None = None,
        max_redeliveries: int = defaults.DEFAULT_MAX_REDELIVERIES,
        result_ttl: Duration | None = None,
    ) -> None:
        if not callable(function):
            raise ValidationError(f"a task needs a callable, got {function!r}")
        if not isinstance(broker, Broker):
            raise ValidationError(
                f"task {name or function.__name__!r} needs a Broker, got {broker!r}"
            )
        check_not_async_generator(
            function, name or str(getattr(function, "__name__", None) or function)
        )
        is_async = is_coroutine_function(function)
        if mechanism is None:
            mechanism = "thread" if is_async else defaults.DEFAULT_MECHANISM
        if mechanism not in MECHANISMS:
            raise ValidationError(
                f"task {name or function.__name__!r}: mechanism must be 'process' or 'thread', "
                f"got {mechanism!r}"
            )
        timeout = check_duration("timeout", to_ms("timeout", timeout), 1)
        check_optional_int("max_retries", max_retries, 0)
        check_priority("priority", priority)
        check_int("max_redeliveries", max_redeliveries, 0)
        result_ttl = check_optional_duration("result_ttl", to_ms("result_ttl", result_ttl), 1)
        if backoff is not None and not isinstance(backoff, Backoff):
            raise ValidationError(f"backoff must be a Backoff instance or None, got {backoff!r}")
        if result_store is not None and not isinstance(result_store, ResultStore):
            raise ValidationError(f"result_store must be a ResultStore, got {result_store!r}")
        self.function = function
        self.broker = broker
        self.name = check_name("task name", name or function.__name__)
        self.queue = check_name("queue", queue or defaults.DEFAULT_QUEUE)
        self.priority = priority
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.result_store = result_store
        self.mechanism = mechanism
        #: The function is a coroutine function: its runs are awaited on an event loop.
        self.is_async = is_async
        self.store_result = result_store is not None if store_result is None else store_result
        if self.store_result and result_store is None:
            raise ValidationError(f"task {self.name!r}: store_result=True needs a result_store")
        self.max_redeliveries = max_redeliveries
        self.result_ttl = result_ttl
        self._wants_message = wants_message(function)
        self._deferred = threading.local()
        self.__doc__ = function.__doc__
        self.__wrapped__ = function
        register(self)

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"{kind}(name={self.name!r}, queue={self.queue!r}, mechanism={self.mechanism!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function directly, here and now."""
        return self.function(*args, **kwargs)

    @property
    def policy(self) -> TaskPolicy:
        """Retry and redelivery limits, as data for the pure core."""
        return TaskPolicy(max_retries=self.max_retries, max_redeliveries=self.max_redeliveries)

    # -- producing -----------------------------------------------------------------

    def _build(
        self,
        args: Sequence[Any] | None,
        kwargs: dict[str, Any] | None,
        priority: int | None,
        metadata: Any,
        result_ttl: int | None,
        uuid: str | None,
        delay: int | None,
        previous_result: Any,
        callback: Message | Sequence[Message] | None,
        queue: str | None,
        timeout: int | None,
    ) -> Message:
        # Stamped by the broker's clock: the same clock its ready times are read against.
        fields: dict[str, Any] = {"created_at": self.broker.clock.now()}
        if uuid is not None:
            fields["uuid"] = uuid
        message = Message(
            task_name=self.name,
            queue=queue or self.queue,
            args=args,
            kwargs=kwargs,
            metadata=metadata,
            store_result=self.store_result,
            result_ttl=self.result_ttl if result_ttl is None else result_ttl,
            timeout=self.timeout if timeout is None else timeout,
            delay=0 if delay is None else delay,
            previous_result=previous_result,
            backoff_settings=None if self.backoff is None else self.backoff.settings,
            mechanism=self.mechanism,
            is_async=self.is_async,
            priority=self.priority if priority is None else priority,
            **fields,
        )
        return attach(message, callback)

    def generate(
        self,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        priority: int | None = None,
        metadata: Any = None,
        result_ttl: Duration | None = None,
        uuid: str | None = None,
        delay: Duration | None = None,
        previous_result: Any = None,
        callback: Message | Sequence[Message] | None = None,
        queue: str | None = None,
        timeout: Duration | None = None,
        submit: bool = True,
        **aliases: Any,
    ) -> Message:
        """Build a message for this task and (unless deferred) submit it.

        ``callback`` takes a message or a tuple of messages (nested into a
        chain). The returned message is the root, holding the whole chain
        in ``callback_message_data``. ``delay``, ``timeout`` and ``result_ttl``
        are milliseconds or ``timedelta``s. Raises ``SerializationError`` (and
        submits nothing) if the arguments cannot be encoded by the broker's
        backend.
        """
        if "callback_message" in aliases and callback is None:
            callback = aliases.pop("callback_message")
        if aliases:
            raise TypeError(f"generate() got unexpected keyword arguments: {', '.join(aliases)}")
        # The same checks, and errors, as at task definition, before anything is built.
        if priority is not None:
            check_priority("priority", priority)
        delay = check_optional_duration("delay", to_ms("delay", delay), 0)
        result_ttl = check_optional_duration("result_ttl", to_ms("result_ttl", result_ttl), 1)
        timeout = check_optional_duration("timeout", to_ms("timeout", timeout), 1)
        skip = self._take_deferral()
        message = self._build(
            args,
            kwargs,
            priority,
            metadata,
            result_ttl,
            uuid,
            delay,
            previous_result,
            callback,
            queue,
            timeout,
        )
        if submit and not skip:
            self._submit(message)  # encodes before writing: bad arguments fail here
        else:
            # Not submitted yet: still make bad arguments fail here, in the caller's code.
            self.broker.backend.encode(get_message_name(message), message.data)
        return message

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Message:
        """Submit a call of this task: ``add.delay(1, b=2)`` is
        ``add.generate(args=(1,), kwargs={"b": 2})``, checked against the
        function's signature by a type checker. Returns the message."""
        return self.generate(args=args, kwargs=kwargs)

    def result(self, message: Message | str, timeout: Duration = 0, keep: bool = False) -> R:
        """The result of ``message`` (or of the message with that uuid), typed as
        the function's return type: ``ResultStore.get`` on this task's store.

        Raises:
            ValidationError: this task has no ``result_store``.
            NotFoundError: no result (``timeout`` 0).
            ResultTimeoutError: none within ``timeout``.
        """
        if self.result_store is None:
            raise ValidationError(f"task {self.name!r} has no result_store to read results from")
        value: R = self.result_store.get(message, timeout=timeout, keep=keep)
        return value

    def _submit(self, message: Message) -> None:
        self.broker.submit(message)

    # -- hooks (override in a base_task) -------------------------------------------

    def pre_op(self, message: Message) -> Awaitable[None] | None:
        """Runs before the function (may be ``async def``)."""
        return None

    def post_op(self, message: Message, result: Any) -> Awaitable[None] | None:
        """Runs after the function succeeded (may be ``async def``)."""
        return None

    def do_retry(self, message: Message, exception: BaseException) -> bool:
        """Whether to retry ``message`` after ``exception`` (default: retries left)."""
        return default_should_retry(message, self.max_retries)

    def do_callback(self, message: Message, result: Any) -> bool:
        """Whether to submit the callback of ``message`` (default: yes)."""
        return True

    # -- running -------------------------------------------------------------------

    def call_kwargs(self, message: Message) -> dict[str, Any]:
        """The keyword arguments the function is called with (the message itself, if
        the function takes it)."""
        kwargs = dict(message.kwargs)
        if self._wants_message and "message" not in kwargs:
            kwargs["message"] = message
        return kwargs

    def execute(self, message: Message) -> Any:
        """``pre_op``, the function, ``post_op``; returns the function's result (an
        ``async def`` function is run to its end here, on this thread's event loop)."""
        if self.is_async:
            return run_coroutine(execute_async(self, message))
        settle_now(self.pre_op(message))
        result = self.function(*message.args, **self.call_kwargs(message))
        settle_now(self.post_op(message, result))
        return result

    def run(self, message: Message) -> Outcome:
        """Run ``message`` and report what happened, hooks' answers included (an
        ``async def`` function runs on this thread's event loop, within its timeout)."""
        if self.is_async:
            return run_blocking(self, message)
        try:
            result = self.execute(message)
        except (TaskTimeoutError, TaskCancelledError):
            raise  # raised into the thread by the pool's monitor: it reports the outcome
        except Exception as error:
            return failed(self, message, error)
        return succeeded(self, message, result)
