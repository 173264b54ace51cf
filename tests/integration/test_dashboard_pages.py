"""The dashboard's pages and JSON API on Redis and DiskCache: overview, workers, one
message (and cancelling it) and the forecast, with a real worker pool where it matters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.inspection import locate
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt
from tests.support.dashboard import client, csrf_of, form_csrf, wait_until


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


@pytest.fixture()
def results(broker: Broker) -> Iterator[ResultStore]:
    store = ResultStore(broker.backend)
    wt.bind(broker, store)
    yield store
    wt.bind(wt.placeholder, None)


def cell(html: str, queue: str, count: str) -> str:
    """The text of a queue's count on the overview page."""
    row = re.search(rf'<tr data-queue="{queue}">(.*?)</tr>', html, re.S)
    assert row is not None, f"no row for queue {queue}"
    found = re.search(rf'data-count="{count}">(.*?)</td>', row.group(1), re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


@pytest.mark.usefixtures("results")
def test_the_overview_counts_every_queue_and_names_its_oldest_wait(broker: Broker) -> None:
    for i in range(3):
        wt.t_echo.generate(args=(i,))
    for i in range(2):
        wt.t_echo.generate(args=(i,), queue="later", delay=600_000)
    broker.fail(wt.t_echo.generate(args=(9,), queue="later"), "given up")
    http = client(broker, queues=("alsek_queue", "unused"))
    data = http.get("/api/overview").json()
    rows = {q["queue"]: q for q in data["queues"]}
    assert sorted(rows) == ["alsek_queue", "later", "unused"]
    ready = rows["alsek_queue"]
    assert (ready["ready"], ready["delayed"], ready["running"], ready["dead"]) == (3, 0, 0, 0)
    assert ready["oldest_ready_ms"] is not None and ready["oldest_ready_ms"] >= 0
    later = rows["later"]
    assert (later["ready"], later["delayed"], later["dead"], later["oldest_ready_ms"]) == (
        0,
        2,
        1,
        None,
    )
    assert data["totals"] == {"ready": 3, "delayed": 2, "running": 0, "dead": 1}
    assert data["workers"] == 0 and len(data["minutes"]) == 60
    page = http.get("/").text
    assert cell(page, "alsek_queue", "ready") == "3"
    assert cell(page, "later", "delayed") == "2" and cell(page, "later", "dead") == "1"
    assert cell(page, "unused", "ready") == "0"
    assert 'id="live-workers">0<' in page and "<svg" in page
    # Without a live pool there is no capacity to forecast from.
    forecast = http.get("/api/forecast").json()
    assert forecast["scenarios"] == [] and forecast["inputs"]["pools"] == 0
    assert {u["queue"]: u["ready"] for u in forecast["unmodelled"]} == {"alsek_queue": 3}
    assert 'id="no-pools"' in http.get("/forecast").text


def test_a_live_pool_shows_on_the_workers_page_in_the_chart_and_in_the_forecast(
    broker: Broker, results: ResultStore, tmp_path: Path
) -> None:
    http = client(broker, stores=(results,))
    with WorkerPool(wt.ALL, queues=["alsek_queue"], max_threads=2, max_processes=0) as pool:
        for i in range(6):
            wt.t_echo.generate(args=(i,))
        wt.t_fail.generate(args=(str(tmp_path / "fails"),))
        for i in range(4):
            wt.t_echo.generate(args=(i,), queue="parked")  # no pool consumes it

        def all_recorded() -> bool:
            records = broker.workers()
            return len(records) == 1 and records[0].processed == 6 + 3

        wait_until(all_recorded, 30, "every outcome in the registry")
        (worker,) = http.get("/api/workers").json()["workers"]
        assert worker["id"] == pool.worker_id and worker["slots_total"] == 2
        assert worker["processed"] == 9 and worker["failed"] == 3
        assert pool.worker_id in http.get("/workers").text
        overview = http.get("/api/overview").json()
        assert overview["workers"] == 1
        assert sum(m["succeeded"] for m in overview["minutes"]) == 6
        assert sum(m["failed"] for m in overview["minutes"]) == 3
        forecast = http.get("/api/forecast?minutes=5").json()
        assert [(s["change"], s["pools"]) for s in forecast["scenarios"]] == [
            (0, 1),
            (1, 2),
            (2, 3),
        ]
        assert all(s["drain_ms"] == 0 for s in forecast["scenarios"])  # no backlog it models
        models = {m["task"]: m for m in forecast["models"]}
        assert models["t_echo"]["measured"] == "window" and models["t_echo"]["backlog"] == 0
        why = "no live pool has run its tasks in the window"
        assert forecast["unmodelled"] == [{"queue": "parked", "ready": 4, "reason": why}]
        assert (forecast["threads"], forecast["processes"]) == (2, 0)
        page = http.get("/forecast?minutes=5").text
        assert "This is a model" in page and 'id="forecast-table"' in page
        assert len(re.findall(r'<tr data-pools="\d+"', page)) == 3
        assert 'data-task="t_echo"' in page and "parked" in page


def test_a_message_page_says_where_it_is_and_what_is_known(
    broker: Broker, results: ResultStore, tmp_path: Path
) -> None:
    waiting = wt.t_echo.generate(args=("secret-value",), queue="parked")
    http = client(broker, stores=(results,))
    view = http.get(f"/api/messages/{waiting.uuid}").json()
    assert view["where"] == "ready" and view["cancellable"] and view["deliveries"] == 0
    fields = {f["name"]: f["value"] for f in view["fields"]}
    assert fields["task_name"] == "t_echo" and "secret-value" not in str(fields)
    page = http.get(f"/messages/{waiting.uuid}").text
    assert "secret-value" not in page and "hidden" in page and 'id="cancel"' in page
    shown = client(broker, stores=(results,), show_args=True)
    assert "secret-value" in shown.get(f"/messages/{waiting.uuid}").text
    # A search goes to the message's page.
    found = http.get(f"/messages?uuid={waiting.uuid}")
    assert found.status_code == 303 and found.headers["location"] == f"/messages/{waiting.uuid}"
    with WorkerPool(wt.ALL, queues=["alsek_queue"], max_threads=2, max_processes=0):
        done = wt.t_echo.generate(args=(42,))
        dead = wt.t_fail.generate(args=(str(tmp_path / "fails"),))
        wait_until(lambda: locate(broker, dead.uuid).where == "dead", 30, "the dead letter")
        wait_until(lambda: locate(broker, done.uuid, [results]).where == "done", 30, "the result")
    done_view = http.get(f"/api/messages/{done.uuid}").json()
    assert done_view["where"] == "done" and done_view["result"]["result"] == 42
    assert "42" in http.get(f"/messages/{done.uuid}").text
    dead_page = http.get(f"/messages/{dead.uuid}").text
    assert "dead (in the dead-letter queue)" in dead_page
    assert "ValueError: always fails" in dead_page and "raise ValueError(" in dead_page
    assert http.get("/api/messages/no-such-message").json()["where"] == "unknown"
    bad = http.get("/api/messages/a*b")
    assert bad.status_code == 400 and "must not contain" in bad.json()["error"]
    assert http.get("/messages/a*b").status_code == 400


@pytest.mark.usefixtures("results")
def test_cancelling_from_the_page_needs_the_csrf_token_and_removes_a_waiting_message(
    broker: Broker,
) -> None:
    first = wt.t_echo.generate(args=(1,), queue="parked")
    second = wt.t_echo.generate(args=(2,), queue="parked")
    http = client(broker)
    refused = http.post(f"/messages/{first.uuid}/cancel", data={"csrf": "forged"})
    assert refused.status_code == 403 and locate(broker, first.uuid).where == "ready"
    token = form_csrf(http.get(f"/messages/{first.uuid}").text)
    done = http.post(f"/messages/{first.uuid}/cancel", data={"csrf": token})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=removed")
    assert locate(broker, first.uuid).where == "cancelled"
    assert "Cancelled: it was waiting" in http.get(done.headers["location"]).text
    # The API: the token in a header.
    assert http.post(f"/api/messages/{second.uuid}/cancel").status_code == 403
    answer = http.post(
        f"/api/messages/{second.uuid}/cancel", headers={"X-CSRF-Token": csrf_of(http)}
    )
    assert answer.json() == {"uuid": second.uuid, "result": "removed"}
    again = http.post(
        f"/api/messages/{second.uuid}/cancel", headers={"X-CSRF-Token": csrf_of(http)}
    )
    assert again.json()["result"] == "not_found"
