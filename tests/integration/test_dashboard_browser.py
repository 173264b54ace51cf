"""The dashboard in a real browser: Debian's chromium, headless, driven by selenium and
chromium-driver, against a real worker pool on a real redis-server.

It checks the overview's counts after a known workload (updated in place by the live
refresh), that the forecast table renders, and that resubmitting a dead letter from
its page puts it back in its queue. Screenshots are kept under ``tests/artifacts/
dashboard/`` (or ``$ALSEK_ARTIFACTS/dashboard/``). Without chromium, chromium-driver
or selenium the test fails and says what to install: it never skips.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from alsek.effects.inspection import locate
from alsek.effects.task import Task
from alsek.storage.result import ResultStore
from tests.support.harness import REPO, Worker
from tests.support.ops_cli import System, app_broker, make_system, write_app
from tests.support.redis_server import free_port

CHROMIUM = os.environ.get("ALSEK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ALSEK_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("ALSEK_ARTIFACTS", REPO / "tests" / "artifacts")) / "dashboard"
T = TypeVar("T")

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(300)]


def browser() -> Any:
    """A headless chromium driven by chromium-driver (both from Debian; nothing is
    downloaded). Fails with what to install when either is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"the browser test needs {', '.join(missing)}: apt-get install -y chromium "
            "chromium-driver (or point ALSEK_CHROMIUM / ALSEK_CHROMEDRIVER at them)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the browser test needs selenium: pip install -e '.[test]'")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1300"):  # fmt: skip
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def serving(url: str) -> bool:
    """Whether something answers at ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def eventually(read: Callable[[], T], ok: Callable[[T], bool], timeout: float, what: str) -> T:
    """``read()`` until ``ok`` holds (a page being refreshed in place may be read
    mid-swap: such reads are retried), within ``timeout`` seconds."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = read()
            if ok(last):
                return last
        except (StaleElementReferenceException, NoSuchElementException) as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def sender(system: System, name: str, queue: str, mechanism: str = "thread") -> Any:
    """A task in this process that submits ``name``'s messages to the app's broker."""
    broker: Any = app_broker(system)
    return Task(lambda *a, **k: None, broker, name=name, queue=queue, mechanism=mechanism,
                result_store=ResultStore(broker.backend), backoff=None)  # fmt: skip


@pytest.fixture()
def system(redis_url: str, tmp_path: Path) -> System:
    write_app(tmp_path)
    return make_system("redis", tmp_path, redis_url)


@pytest.fixture()
def driver() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chrome = browser()
    try:
        yield chrome
    finally:
        chrome.quit()


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def queue_counts(driver: Any) -> dict[str, dict[str, str]]:
    """The overview's queue table: queue -> count -> text."""
    from selenium.webdriver.common.by import By

    table: dict[str, dict[str, str]] = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "#queues tbody tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "td[data-count]")
        table[row.get_attribute("data-queue")] = {
            c.get_attribute("data-count"): c.text.strip() for c in cells
        }
    return table


def test_overview_forecast_and_resubmitting_a_dead_letter_in_a_browser(
    system: System, driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    port = free_port()
    worker = system.worker("-q", "fast,alsek_queue", "--max_threads", "2", "--max_processes", "1")
    dashboard = Worker(system.root, "ops_app", ["--port", str(port), "--refresh", "1"],
                       system.env, tmp_path / "dashboard.log", command="dashboard")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    broker: Any = app_broker(system)
    try:
        eventually(lambda: len(broker.workers()), lambda n: n == 1, 60, "the pool's heartbeat")
        eventually(lambda: serving(base + "/api/overview"), bool, 60, "the dashboard to serve")
        driver.get(base + "/")  # opened before the work: the live refresh must show it
        add, square = sender(system, "add", "fast"), sender(system, "square", "fast", "process")
        boom = sender(system, "boom", "alsek_queue")
        for i in range(10):
            add.generate(args=(i, i))
        for i in range(4):
            square.generate(args=(i,))
        dead = [boom.generate(args=(i,)) for i in range(3)]  # 2 attempts each, then dead
        for i in range(5):
            add.generate(args=(i, i), queue="parked")  # the pool does not consume it
        for i in range(2):
            add.generate(args=(i, i), delay=600_000)
        expected = {
            "fast": {"ready": "0", "delayed": "2", "running": "0", "dead": "0"},
            "alsek_queue": {"ready": "0", "delayed": "0", "running": "0", "dead": "3"},
            "parked": {"ready": "5", "delayed": "0", "running": "0", "dead": "0"},
        }

        def matches(table: dict[str, dict[str, str]]) -> bool:
            return all(
                {k: table.get(q, {}).get(k) for k in want} == want for q, want in expected.items()
            )

        eventually(lambda: queue_counts(driver), matches, 60, "the overview's counts")
        eventually(lambda: driver.find_element(By.ID, "live-workers").text, lambda n: n == "1",
                   10, "one live pool")  # fmt: skip

        def bars() -> tuple[int, int]:
            titles = [t.get_attribute("textContent") for t in driver.find_elements(
                By.CSS_SELECTOR, "#outcomes-chart rect title")]  # fmt: skip
            ok = sum(int(t.split()[0]) for t in titles if t.endswith("succeeded"))
            return ok, sum(int(t.split()[0]) for t in titles if t.endswith("failed"))

        eventually(bars, lambda b: b == (14, 6), 30, "14 successes and 6 failures in the chart")
        shot(driver, "overview")

        # A backlog of a task with known run times, for the forecast.
        nap = sender(system, "nap", "alsek_queue", "process")
        warm = [nap.generate(args=(0.05,)) for _ in range(2)]
        eventually(lambda: {locate(broker, m.uuid).where for m in warm}, lambda w: w == {"done"},
                   30, "the first naps to finish")  # fmt: skip
        eventually(lambda: broker.workers()[0].tasks.get("nap"),
                   lambda s: s is not None and s.succeeded == 2, 30, "their run times")  # fmt: skip
        for _ in range(40):
            nap.generate(args=(0.4,))
        driver.get(base + "/forecast?minutes=5")
        rows = eventually(
            lambda: driver.find_elements(By.CSS_SELECTOR, "#forecast-table tbody tr"),
            lambda found: len(found) == 3, 60, "the forecast table")  # fmt: skip
        assert [r.get_attribute("data-pools") for r in rows] == ["1", "2", "3"]
        today = driver.find_element(By.CSS_SELECTOR, "#forecast-table tr[data-change='0']")
        drain = today.find_element(By.CSS_SELECTOR, "td[data-field='drain']").text
        assert drain and drain != "now"  # a backlog of 0.4 s runs on one process slot
        assert "This is a model" in driver.find_element(By.ID, "model-note").text
        assert driver.find_element(By.CSS_SELECTOR, "#forecast-inputs tr[data-task='nap']")
        shot(driver, "forecast")

        # Stop the pool, then resubmit one dead letter from its page.
        worker.signal(15)
        assert worker.wait(60) == 0
        driver.get(base + "/dead-letters?queue=alsek_queue")
        pause = driver.find_element(By.ID, "pause")  # the header is never refreshed
        assert pause.text == "Pause"
        pause.click()  # no refresh swaps the rows while we click in them
        assert pause.text == "Resume"
        listed = eventually(
            lambda: [r.get_attribute("data-uuid") for r in driver.find_elements(
                By.CSS_SELECTOR, "#dead-letters tbody tr")],
            lambda uuids: len(uuids) == 3, 30, "three dead letters")  # fmt: skip
        assert sorted(listed) == sorted(m.uuid for m in dead)
        shot(driver, "dead-letters-before")
        chosen = listed[0]
        row = driver.find_element(By.CSS_SELECTOR, f"#dead-letters tr[data-uuid='{chosen}']")
        row.find_element(By.CSS_SELECTOR, "button.resubmit-one").click()
        notice = eventually(lambda: driver.find_element(By.ID, "notice").text,
                            lambda text: bool(text), 30, "the notice")  # fmt: skip
        assert notice == "Resubmitted 1 dead letter."
        assert locate(broker, chosen).where == "ready"
        assert broker.counts("alsek_queue")["ready"] >= 1
        assert sorted(d.uuid for d in broker.dead_letters()) == sorted(listed[1:])
        shot(driver, "dead-letters-after")
        driver.get(f"{base}/messages/{chosen}")
        eventually(lambda: driver.find_element(By.ID, "where").text,
                   lambda where: where.startswith("ready"), 10, "the message, ready")  # fmt: skip
        shot(driver, "message")
    finally:
        for process in (worker, dashboard):
            if process.alive():
                process.signal(15)
                try:
                    process.wait(30)
                except Exception:
                    process.kill_tree()
