"""Every Python block of the docs site runs, or says why it cannot.

A block runs in its page's namespace, in order, as a reader would type them.
The comment line just before a block may say how:

- ``<!-- not-run: REASON -->``: not run, for the reason given (it must say one);
- ``<!-- docs-test: worker -->``: run while a worker pool runs the page's tasks;
- ``<!-- docs-test: pytest -->``: the block is a test file: pytest runs it.

A block that only includes a file (``--8<-- "examples/..."``) shows an example
project that tests/integration/test_recipes.py runs. The guided tour's blocks
are run by tests/integration/test_tour.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from alsek.core.task import Task
from alsek.core.worker import WorkerPool

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TESTED_ELSEWHERE = {"guided_tour.md"}  # tests/integration/test_tour.py
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
MARK = re.compile(r"<!-- (not-run|docs-test): ?(.*?) -->")
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')


@attrs.frozen
class Block:
    page: str
    line: int
    code: str
    kind: str  # run, worker, pytest, not-run, include
    detail: str = ""


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        code = match.group(1)
        mark = MARK.fullmatch(before.strip())
        page = str(path.relative_to(DOCS))
        if all(INCLUDE.match(row) for row in code.strip().splitlines()):
            found.append(Block(page, line, code, "include"))
        elif mark is None:
            found.append(Block(page, line, code, "run"))
        elif mark.group(1) == "not-run":
            found.append(Block(page, line, code, "not-run", mark.group(2).strip()))
        else:
            found.append(Block(page, line, code, mark.group(2).strip()))
    return found


PAGES = sorted(
    p
    for p in DOCS.rglob("*.md")
    if str(p.relative_to(DOCS)) not in TESTED_ELSEWHERE and "```python" in p.read_text()
)
ALL = [b for page in PAGES for b in blocks_of(page)]


def test_every_block_is_run_or_says_why_not() -> None:
    assert len(ALL) >= 20
    for block in ALL:
        where = f"{block.page}:{block.line}"
        assert block.kind in {"run", "worker", "pytest", "not-run", "include"}, where
        if block.kind == "not-run":
            assert len(block.detail) > 20, f"{where}: a not-run block must give its reason"
        if block.kind == "include":
            for row in block.code.strip().splitlines():
                target = ROOT / INCLUDE.match(row).group(1)  # type: ignore[union-attr]
                assert target.is_file(), f"{where}: {target} does not exist"
                assert target.is_relative_to(ROOT / "examples"), where


def run_page(page: Path, tmp_path: Path) -> dict[str, Any]:
    """Run the page's blocks in order in one namespace; returns it."""
    ns: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    for block in blocks_of(page):
        code = compile(block.code, f"{block.page}:{block.line}", "exec")
        if block.kind == "run":
            exec(code, ns)
        elif block.kind == "worker":
            tasks = {id(v): v for v in ns.values() if isinstance(v, Task)}
            with WorkerPool(tasks.values(), max_threads=4, max_processes=0):
                exec(code, ns)
        elif block.kind == "pytest":
            test_file = tmp_path / f"test_docs_{page.stem}_{block.line}.py"
            test_file.write_text(block.code)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
                cwd=tmp_path,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert re.search(r"\b\d+ passed\b", done.stdout) and "failed" not in done.stdout
    return ns


@pytest.fixture(autouse=True)
def fresh_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``DiskCacheBackend()`` in a page lands in this test's directory; paths are the repo's."""
    monkeypatch.setenv("ALSEK_DISKCACHE_DIR", str(tmp_path / "diskcache"))
    monkeypatch.delenv("ALSEK_REDIS_URL", raising=False)
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_blocks_run(page: Path, tmp_path: Path) -> None:
    run_page(page, tmp_path)


def test_the_metrics_observer_of_the_operations_page(tmp_path: Path) -> None:
    """The not-run pool of the operations page, run with a task and a deadline."""
    ns = run_page(DOCS / "operations.md", tmp_path)
    from alsek.core import task
    from alsek.storage.result import ResultStore

    results = ResultStore(ns["broker"].backend)

    @task(ns["broker"], name="docs_counted", result_store=results, mechanism="thread")
    def docs_counted(fail: bool) -> int:
        if fail:
            raise ValueError("on purpose")
        return 1

    counters = ns["Counters"]()
    with WorkerPool([docs_counted], max_threads=2, max_processes=0, observers=[counters]):
        assert results.get(docs_counted.delay(False), timeout=20_000) == 1
        failed = docs_counted.generate(args=(True,), submit=True)
        deadline = time.monotonic() + 20
        while counters.finished["docs_counted", "failed"] == 0:
            assert time.monotonic() < deadline, "no failure was observed"
            time.sleep(0.01)
    assert counters.started["docs_counted"] >= 2
    assert counters.finished["docs_counted", "ok"] == 1
    assert len(counters.run_ms["docs_counted"]) >= 2
    assert failed.uuid
