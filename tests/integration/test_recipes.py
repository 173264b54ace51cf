"""The Django and FastAPI recipes under examples/ work: a request queues a task,
a worker runs it, and a second request reads the result by id."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(params=["memory", "redis", "disk"])
def store_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The environment that picks the recipe's store."""
    env = {"ALSEK_DISKCACHE_DIR": str(tmp_path / "diskcache"), "APP_BACKEND": request.param}
    if request.param == "redis":
        env["ALSEK_REDIS_URL"] = request.getfixturevalue("redis_url")
    for name in ("ALSEK_REDIS_URL", "APP_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


def fresh(name: str) -> ModuleType:
    for loaded in [
        m for m in sys.modules if m == name.split(".")[0] or m.startswith(name.split(".")[0] + ".")
    ]:
        del sys.modules[loaded]
    return importlib.import_module(name)


def test_fastapi_recipe(store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from alsek.core.worker import WorkerPool
    from alsek.testing import run_until_idle

    monkeypatch.syspath_prepend(str(EXAMPLES))
    main = fresh("fastapi_app.main")
    tasks = sys.modules["fastapi_app.tasks"]
    client = TestClient(main.app)
    submitted = client.post("/reports", json={"customer": "ada", "days": 3})
    assert submitted.status_code == 202
    report_id = submitted.json()["id"]
    assert client.get(f"/reports/{report_id}").json()["status"] == "pending"
    waited = client.get(f"/reports/{report_id}", params={"wait_ms": 100})
    assert waited.status_code == 202 and waited.json()["status"] == "pending"
    if store_env["APP_BACKEND"] == "memory":
        run_until_idle(tasks.broker).check()
    else:
        with WorkerPool([tasks.build_report], max_threads=2, max_processes=0):
            tasks.results.get(report_id, timeout=20_000, keep=True)
    done = client.get(f"/reports/{report_id}", params={"wait_ms": 10_000})
    assert done.status_code == 200
    assert done.json() == {
        "id": report_id,
        "status": "done",
        "report": {"customer": "ada", "days": 3, "total": 126},
    }
    assert client.post("/reports", json={"customer": "ada", "days": "x"}).status_code == 422


DJANGO_CLIENT = textwrap.dedent(
    """
    import os, sys
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop.settings"
    import django
    django.setup()
    from django.test import Client
    from shop import tasks
    from alsek.core.worker import WorkerPool
    from alsek.testing import run_until_idle

    client = Client()
    placed = client.post("/orders", {"order_id": 7, "email": "ada@example.com"},
                         content_type="application/json")
    assert placed.status_code == 202, placed.content
    receipt = placed.json()["receipt"]
    assert client.get(f"/receipts/{receipt}").json() == {"status": "pending"}
    if os.environ["APP_BACKEND"] == "memory":
        run_until_idle(tasks.broker).check()
    else:
        with WorkerPool([tasks.send_receipt], max_threads=2, max_processes=0):
            tasks.results.get(receipt, timeout=20_000, keep=True)
    done = client.get(f"/receipts/{receipt}")
    assert done.status_code == 200
    print(done.json()["detail"])
    """
)


def test_django_recipe(store_env: dict[str, str]) -> None:
    env = {**os.environ, **store_env, "PYTHONPATH": f"{EXAMPLES / 'django_project'}:{ROOT}"}
    check = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=EXAMPLES / "django_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert "no issues" in check.stdout
    run = subprocess.run(
        [sys.executable, "-c", DJANGO_CLIENT],
        cwd=EXAMPLES / "django_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "receipt for order 7 sent to ada@example.com"
