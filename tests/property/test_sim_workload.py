"""Loading workloads: defaults, TOML and JSON agree, and every bad field is named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.backoff import DEFAULT_TASK_BACKOFF
from alsek.sim import Fixed, LogNormal, Poisson, Workload, load_workload, workload_from_dict

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload.toml"


def toml_text(data: dict[str, Any]) -> str:
    """A tiny TOML writer for the shapes used here (tables, arrays of tables, scalars)."""

    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, (dict, list))]
    lines += [
        f"{k} = {value(v)}"
        for k, v in data.items()
        if isinstance(v, list) and not (v and isinstance(v[0], dict))
    ]
    for key, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {value(x)}" for k, x in v.items()]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {value(x)}" for k, x in item.items()]
    return "\n".join(lines) + "\n"


BASE: dict[str, Any] = {
    "name": "w",
    "pool": {"max_threads": 2, "max_processes": 2},
    "tasks": [
        {"name": "a", "queue": "q", "duration": {"kind": "lognormal", "median_ms": 20}},
        {"name": "b", "queue": "q", "mechanism": "thread", "priority": 1},
    ],
    "arrivals": [{"task": "a", "kind": "poisson", "rate": 10, "count": 5}],
}


def test_defaults_fill_everything_not_given() -> None:
    workload = workload_from_dict({"tasks": [{"name": "a"}]})
    [kind] = workload.tasks
    assert kind.queue == defaults.DEFAULT_QUEUE and kind.priority == 0
    assert kind.mechanism == "process" and kind.timeout_ms == defaults.DEFAULT_TASK_TIMEOUT
    assert kind.backoff == DEFAULT_TASK_BACKOFF.settings and kind.duration == Fixed(100)
    assert kind.policy.max_retries == defaults.DEFAULT_MAX_RETRIES
    assert workload.lease_ms == defaults.DEFAULT_LEASE_MS
    assert workload.overheads.dispatch_ms == {"thread": 0, "process": 1, "async": 0}
    assert workload.overheads.timer_ms == 0  # waits that run out end on time
    assert workload.queue_order == (defaults.DEFAULT_QUEUE,)


def test_toml_and_json_files_give_the_same_workload(tmp_path: Path) -> None:
    (tmp_path / "w.toml").write_text(toml_text(BASE), encoding="utf-8")
    (tmp_path / "w.json").write_text(json.dumps(BASE), encoding="utf-8")
    from_toml, from_json = load_workload(tmp_path / "w.toml"), load_workload(tmp_path / "w.json")
    assert from_toml == from_json == workload_from_dict(BASE)
    assert from_toml.tasks[0].duration == LogNormal(median_ms=20)
    assert from_toml.arrivals[0].pattern == Poisson(rate=10, count=5)


def test_the_example_workload_loads() -> None:
    workload = load_workload(EXAMPLE)
    assert isinstance(workload, Workload) and workload.queue_order == ("interactive", "batch")
    assert workload.kinds["thumbnail"].callback == "notify"
    assert workload.kinds["reindex"].backoff is None


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with the value at ``path`` (dotted, list indexes as numbers) replaced."""
    data = json.loads(json.dumps(BASE))
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    if value is DELETE:
        del target[int(last) if last.isdigit() else last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


DELETE = object()
BAD = [
    (
        "tasks.1.duration",
        {"kind": "gaussian", "mean_ms": 3},
        "tasks[1].duration.kind: unknown distribution 'gaussian' (expected one of 'empirical', "
        "'exponential', 'fixed', 'lognormal', 'uniform')",
    ),
    ("tasks.0.duration", {"median_ms": 3}, "tasks[0].duration.kind: missing"),
    (
        "tasks.0.duration",
        {"kind": "exponential", "mean_ms": -3},
        "tasks[0].duration.mean_ms: must be a number > 0, got -3",
    ),
    (
        "tasks.0.duration",
        {"kind": "uniform", "low_ms": 9, "high_ms": 3},
        "tasks[0].duration.high_ms: must be >= low_ms",
    ),
    (
        "tasks.0.duration",
        {"kind": "empirical", "samples_ms": [1, 2, "x"]},
        "tasks[0].duration.samples_ms[2]: must be a number >= 0, got 'x'",
    ),
    (
        "tasks.0.duration",
        {"kind": "fixed", "ms": 3, "jitter": 1},
        "tasks[0].duration.jitter: unknown field",
    ),
    ("tasks.0.p_fail", 1.5, "tasks[0].p_fail: must be a probability in [0, 1], got 1.5"),
    ("tasks.0.timeout_ms", "fast", "tasks[0].timeout_ms: must be an int >= 1, got 'fast'"),
    ("tasks.0.priority", 1.5, "tasks[0].priority: must be an int in"),
    ("tasks.0.prio", 1, "tasks[0].prio: unknown field (expected one of"),
    ("tasks.0.mechanism", "greenlet", "tasks[0].mechanism: unknown mechanism 'greenlet'"),
    ("tasks.0.name", "a:b", "tasks[0].name: 'a:b' must not contain ':'"),
    ("tasks.1.name", "a", "tasks[1].name: duplicate task name 'a' (also tasks[0])"),
    (
        "tasks.0.backoff",
        {"algorithm": "Fibonacci"},
        "tasks[0].backoff: backoff_settings names an unknown algorithm 'Fibonacci'",
    ),
    ("tasks.0.callback", "zzz", "tasks[0].callback: unknown task 'zzz' (known: a, b)"),
    ("tasks.1.callback", "b", "tasks[1].callback: callback chain loops: b -> b"),
    ("tasks.0", "a", "tasks[0]: expected a table, got str"),
    ("tasks", DELETE, "tasks: missing"),
    ("tasks", {"name": "a"}, "tasks: expected a list, got dict"),
    ("queues", ["other"], "tasks[0].queue: queue 'q' is not in queues ['other']"),
    ("arrivals.0.task", "nobody", "arrivals[0].task: unknown task 'nobody' (known: a, b)"),
    ("arrivals.0", {"kind": "poisson", "rate": 3, "count": 1}, "arrivals[0].task: missing"),
    ("arrivals.0.kind", "weekly", "arrivals[0].kind: unknown arrival kind 'weekly'"),
    (
        "arrivals.0.count",
        DELETE,
        "arrivals[0]: a 'poisson' arrival needs count, until_ms or horizon_ms",
    ),
    ("arrivals.0.rate", 0, "arrivals[0].rate: must be a number > 0, got 0"),
    (
        "arrivals.0",
        {
            "task": "a",
            "kind": "bursts",
            "bursts": [{"at_ms": 0, "count": 1}, {"at_ms": 5, "count": -1}],
        },
        "arrivals[0].bursts[1].count: must be an int >= 0, got -1",
    ),
    (
        "arrivals.0",
        {"task": "a", "kind": "times", "times_ms": []},
        "arrivals[0].times_ms: must be a non-empty list",
    ),
    ("pool.max_threads", -1, "pool.max_threads: must be an int >= 0, got -1"),
    (
        "pool.max_threads",
        0,
        "tasks[1].mechanism: 'thread' tasks could never run: pool.max_threads is 0",
    ),
    ("pool.size", 3, "pool.size: unknown field"),
    ("overheads.dispatch_ms", {"greenlet": 1}, "overheads.dispatch_ms.greenlet: unknown slot kind"),
    ("overheads.claim_rtt_ms", -0.5, "overheads.claim_rtt_ms: must be a number >= 0, got -0.5"),
    ("overheads.timer_ms", -100, "overheads.timer_ms: must be an int >= 0, got -100"),
    ("kills", [{"pool": 3, "at_ms": 10}], "kills[0].pool: no pool 3 (pool.pools = 1"),
    (
        "consumer_backoff",
        {"algorithm": "LinearBackoff", "parameters": {"slope": 1}},
        "consumer_backoff: backoff_settings for LinearBackoff",
    ),
    ("lease_ms", 0, "lease_ms: must be an int >= 3, got 0"),
    ("colour", "blue", "colour: unknown field"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[case[0] for case in BAD])
def test_a_bad_field_is_named_with_what_is_wrong(path: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        workload_from_dict(with_change(path, value))
    assert message in str(caught.value)


def test_a_bad_field_in_a_toml_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml_text(with_change("tasks.1.duration", {"kind": "gaussian"})), "utf-8")
    with pytest.raises(ValidationError, match=r"^tasks\[1\]\.duration\.kind: unknown distri"):
        load_workload(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("w.toml", "[[tasks]\nname = 'a'", "w.toml: not valid TOML"),
        ("w.json", '{"tasks": [', "w.json: not valid JSON"),
        ("w.yaml", "tasks: []", "w.yaml: a workload file must end in .toml or .json"),
        ("w.json", "[1, 2]", "workload: expected a table, got list"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_workload(path)


def test_a_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read the workload file"):
        load_workload(tmp_path / "absent.toml")


def test_backoffs_can_be_disabled_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('consumer_backoff = "none"\n[[tasks]]\nname = "a"\nbackoff = false\n', "utf-8")
    workload = load_workload(path)
    assert workload.consumer_backoff is None and workload.tasks[0].backoff is None
