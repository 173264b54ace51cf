"""The dashboard's dead letters on Redis and DiskCache: filters, pages, and resubmitting
or removing one, a selection or all of them (with confirmation), by page and by API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from alsek.core import Broker
from alsek.effects.backends.base import Backend
from alsek.effects.failures import write_failure
from alsek.effects.inspection import locate
from alsek.pure.failure import FailureRecord
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt
from tests.support.dashboard import client, csrf_of, form_csrf


@pytest.fixture()
def broker(backend: Backend) -> Iterator[Broker]:
    broker = Broker(backend)
    wt.bind(broker, ResultStore(backend))
    yield broker
    wt.bind(wt.placeholder, None)


def kill(broker: Broker, count: int, task: object = None, queue: str = "alsek_queue") -> list[str]:
    """``count`` dead letters of ``task`` in ``queue``, oldest first."""
    uuids = []
    for i in range(count):
        message = (task or wt.t_echo).generate(args=(f"secret-{i}",), queue=queue)  # type: ignore
        broker.fail(message, f"gave up on {i}")
        uuids.append(message.uuid)
    return uuids


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-uuid="([^"]+)">', html)


def test_dead_letters_are_listed_newest_first_filtered_and_paged(broker: Broker) -> None:
    echoes = kill(broker, 3)
    loops = kill(broker, 2, wt.t_loop, queue="other")
    http = client(broker)
    listed = http.get("/api/dead-letters").json()
    assert listed["total"] == 5 and [d["uuid"] for d in listed["dead_letters"]] == [
        *loops[::-1],
        *echoes[::-1],
    ]
    first = listed["dead_letters"][-1]
    assert (first["task"], first["queue"]) == ("t_echo", "alsek_queue")
    assert first["reason"] == "gave up on 0"
    assert first["runnable"] and "secret" not in str(listed)
    assert "secret-0" in str(client(broker, show_args=True).get("/api/dead-letters").json())
    by_task = http.get("/api/dead-letters?task=t_loop").json()
    assert [d["uuid"] for d in by_task["dead_letters"]] == loops[::-1]
    by_queue = http.get("/api/dead-letters?queue=alsek_queue").json()
    assert by_queue["total"] == 3
    future = int(time.time() * 1000) + 60_000
    assert http.get(f"/api/dead-letters?since={future}").json()["total"] == 0
    assert http.get("/api/dead-letters?within=5").json()["total"] == 5
    paged = http.get("/api/dead-letters?per_page=2&page=3").json()
    assert (paged["page"], paged["pages"], len(paged["dead_letters"])) == (3, 3, 1)
    assert http.get("/api/dead-letters?page=x").status_code == 400
    page = http.get("/dead-letters?task=t_echo").text
    assert rows(page) == echoes[::-1] and 'id="dead-total">3<' in page
    assert "<summary>traceback</summary>" not in page  # no last error is kept for them
    failure = FailureRecord(echoes[0], "t_echo", "alsek_queue", "failed", "KeyError", "'k'",
                            "Traceback (most recent call last):\nKeyError: 'k'\n", 1, 1, True, 0)
    write_failure(broker.backend, failure)
    listed = http.get("/api/dead-letters?task=t_echo").json()["dead_letters"]
    assert listed[-1]["error"] == "KeyError: 'k'" and "most recent" in listed[-1]["traceback"]
    assert "<summary>traceback</summary>" in http.get("/dead-letters?task=t_echo").text
    second = http.get("/dead-letters?queue=alsek_queue&page=2").text
    assert rows(second) == rows(http.get("/dead-letters?queue=alsek_queue").text)  # one page


def test_resubmitting_one_from_the_page_puts_it_back_in_its_queue(broker: Broker) -> None:
    (uuid,) = kill(broker, 1)
    http = client(broker)
    token = form_csrf(http.get("/dead-letters").text)
    form = {"csrf": token, "action": "resubmit", "scope": "one", "uuid": uuid}
    assert http.post("/dead-letters", data={**form, "csrf": "stale"}).status_code == 403
    done = http.post("/dead-letters", data=form)
    assert done.status_code == 303
    assert locate(broker, uuid).where == "ready" and broker.counts("alsek_queue")["ready"] == 1
    assert "Resubmitted 1 dead letter." in http.get(done.headers["location"]).text
    assert http.get("/api/dead-letters").json()["total"] == 0


def test_removing_asks_for_confirmation_first(broker: Broker) -> None:
    uuids = kill(broker, 3)
    http = client(broker)
    token = form_csrf(http.get("/dead-letters").text)
    form = {"csrf": token, "action": "remove", "scope": "one", "uuid": uuids[0]}
    asked = http.post("/dead-letters", data=form)
    assert asked.status_code == 200 and "Remove 1 dead letter?" in asked.text
    assert "data-refresh" not in asked.text  # a live refresh would replace the question
    assert http.get("/api/dead-letters").json()["total"] == 3  # nothing yet
    confirmed = http.post("/dead-letters", data={**form, "confirmed": "yes"})
    assert confirmed.status_code == 303
    assert http.get("/api/dead-letters").json()["total"] == 2
    # A selection: both of them, once confirmed.
    selection = {"csrf": token, "action": "remove", "scope": "selected", "uuid": uuids[1:]}
    asked = http.post("/dead-letters", data=selection)
    assert "Remove 2 dead letters?" in asked.text and all(u in asked.text for u in uuids[1:])
    http.post("/dead-letters", data={**selection, "confirmed": "yes"})
    assert http.get("/api/dead-letters").json()["total"] == 0


def test_all_matching_are_resubmitted_after_confirmation_and_no_others(broker: Broker) -> None:
    echoes = kill(broker, 4)
    loops = kill(broker, 2, wt.t_loop)
    http = client(broker)
    token = form_csrf(http.get("/dead-letters?task=t_echo").text)
    form = {"csrf": token, "action": "resubmit", "scope": "all", "task": "t_echo"}
    asked = http.post("/dead-letters", data=form)
    assert "Resubmit 4 dead letters?" in asked.text and "task <code>t_echo</code>" in asked.text
    done = http.post("/dead-letters", data={**form, "confirmed": "yes"})
    assert done.status_code == 303 and "task=t_echo" in done.headers["location"]
    assert all(locate(broker, u).where == "ready" for u in echoes)
    left = http.get("/api/dead-letters").json()
    assert sorted(d["uuid"] for d in left["dead_letters"]) == sorted(loops)
    assert http.post("/dead-letters", data={**form, "scope": "everything"}).status_code == 400


def test_the_api_resubmits_and_removes_with_the_csrf_header(broker: Broker) -> None:
    uuids = kill(broker, 4)
    http = client(broker)
    assert http.post("/api/dead-letters/resubmit", json={"uuids": uuids[:1]}).status_code == 403
    headers = {"X-CSRF-Token": csrf_of(http)}
    answer = http.post("/api/dead-letters/resubmit", json={"uuids": uuids[:1]}, headers=headers)
    assert answer.json() == {"done": uuids[:1], "failed": []}
    again = http.post("/api/dead-letters/resubmit", json={"uuids": uuids[:1]}, headers=headers)
    assert again.json()["done"] == [] and "no dead letter" in again.json()["failed"][0]["error"]
    removed = http.post("/api/dead-letters/remove", json={"all": True}, headers=headers)
    assert sorted(removed.json()["done"]) == sorted(uuids[1:])
    assert http.get("/api/dead-letters").json()["total"] == 0
    for body in ({}, {"uuids": "x"}, {"uuids": []}, [1]):
        bad = http.post("/api/dead-letters/remove", json=body, headers=headers)
        assert bad.status_code == 400, body
