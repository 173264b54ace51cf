"""``alsek dashboard``: it starts and serves, refuses to listen beyond this host without a
token, says how to install its extra, and the core never loads the web stack."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import REPO, base_env
from tests.support.ops_cli import System, make_system, write_app
from tests.support.redis_server import free_port


@pytest.fixture(params=["redis", "disk"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> System:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    write_app(tmp_path)
    return make_system(request.param, tmp_path, url)


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture()
def served(system: System) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "alsek", "dashboard", "ops_app", "--port", str(port),
         "--token", "tok"],
        cwd=system.root, env=system.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{base}/login")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"the dashboard did not start: {output}")
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_the_dashboard_starts_and_serves_the_package_s_system(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    base, _ = served
    status, body = get(f"{base}/api/overview", token="tok")
    assert status == 200
    queues = {q["queue"] for q in json.loads(body)["queues"]}
    assert {"fast", "alsek_queue"} <= queues  # the app's tasks' queues, even while empty
    status, page = get(f"{base}/", token="tok")
    assert status == 200 and b"<h1>Overview</h1>" in page
    assert get(f"{base}/api/overview")[0] == 401  # the token is required
    assert get(f"{base}/static/dashboard.js")[0] == 200


def test_listening_beyond_this_host_needs_a_token(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.1"):
        answer = subprocess.run(
            [sys.executable, "-m", "alsek", "dashboard", "--disk", str(tmp_path), "--host", host],
            capture_output=True, text=True, env=base_env(), timeout=60,
        )  # fmt: skip
        assert answer.returncode == 2
        assert f"--token is required to listen on {host}" in answer.stderr


def test_without_the_extra_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['starlette'] = None\n"
        "from alsek.cli import main\n"
        f"main(['dashboard', '--disk', {str(tmp_path)!r}])\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=base_env(), timeout=60
    )
    assert answer.returncode == 1
    assert "pip install 'alsek[dashboard]'" in answer.stderr and "starlette" in answer.stderr


def test_the_core_and_the_other_commands_never_load_the_web_stack() -> None:
    script = (
        "import sys\n"
        "import alsek.cli, alsek.core, alsek.storage.backends.redis, alsek.sim\n"
        "import alsek.dashboard.data, alsek.dashboard.charts, alsek.dashboard.security\n"
        "from click.testing import CliRunner\n"
        "CliRunner().invoke(alsek.cli.main, ['dashboard', '--help'])\n"
        "CliRunner().invoke(alsek.cli.main, ['status', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'jinja2')))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=base_env(), timeout=60
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "[]"


def test_the_help_names_every_option() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "alsek", "dashboard", "--help"],
        capture_output=True, text=True, env=base_env(), timeout=60,
    )  # fmt: skip
    for option in ("--host", "--port", "--token", "--show-args", "--redis", "--disk", "--refresh"):
        assert option in answer.stdout, option


def test_every_template_and_static_file_is_package_data() -> None:
    import fnmatch

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["alsek"]
    package = REPO / "alsek"
    files = [p for d in ("templates", "static") for p in (package / "dashboard" / d).iterdir()]
    assert len(files) >= 10
    for path in files:
        relative = str(path.relative_to(package))
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
