"""Browser tests: a real `orkest server start` on a free loopback port, driven by Chromium.

Chromium is Debian's (`/usr/bin/chromium`, or $ORKEST_CHROMIUM); nothing is downloaded.
Without it the tests skip, saying what to install, unless ORKEST_REQUIRE_BROWSER=1 makes
that a failure (CI). Screenshots of every page visited go to $ORKEST_TEST_ARTIFACTS
(default test-artifacts/screenshots/); the session's summary prints where.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ui.support import (
    CHROMIUM,
    COMMAND,
    MISSING,
    Server,
    artifacts_dir,
    clean_env,
    start_server,
    stop_server,
)

_shots: list[Path] = []
_figures: list[str] = []


def _require_browser() -> None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    if os.environ.get("ORKEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"ORKEST_REQUIRE_BROWSER=1 but {MISSING}", pytrace=False)
    pytest.skip(MISSING)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _figures:
        terminalreporter.write_sep("-", "browser measurements")
        for line in _figures:
            terminalreporter.write_line(line)
    if _shots:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"{len(_shots)} screenshots in {artifacts_dir()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_browser()
    home = tmp_path_factory.mktemp("server-home")
    # Create the schema before the server and the flows open the database concurrently.
    subprocess.run([*COMMAND, "db", "upgrade"], env=clean_env(home), check=True,
                   capture_output=True, timeout=60)
    srv = start_server(home)
    yield srv
    stop_server(srv)


@pytest.fixture(autouse=True)
def orkest_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                tmp_path: Path) -> Iterator[Path]:
    """Replaces the suite's per-test home: flows and seeds write where the server reads."""
    from orkest.engine.recorder import reset_recorders
    from orkest.store import reset_stores

    if "server" in request.fixturenames:
        home = request.getfixturevalue("server").home
    else:
        home = tmp_path / "orkest-home"
    monkeypatch.setenv("ORKEST_HOME", str(home))
    monkeypatch.delenv("ORKEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("ORKEST_API_URL", raising=False)
    monkeypatch.delenv("ORKEST_API_KEY", raising=False)
    reset_recorders()
    reset_stores()
    yield home
    reset_recorders()
    reset_stores()


@pytest.fixture
def run_flow(server: Server) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `orkest run <target>` in the background against the server's database."""
    started: list[subprocess.Popen] = []

    def start(target: str, *args: str, remote: bool = False) -> subprocess.Popen:
        """remote: the engine records the run through the server's API (ORKEST_API_URL)."""
        env = dict(server.env)
        if remote:
            env["ORKEST_API_URL"] = server.url + "/api"
        proc = subprocess.Popen([*COMMAND, "run", target, *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


# -- the browser --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh tab (its own sessionStorage); JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in {request.node.name}: {errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """shot(page, "name"): a full-page screenshot under the artifacts folder."""
    folder = artifacts_dir()
    test = re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(tab, name: str, *, full_page: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{test}--{name}.png"
        tab.screenshot(path=str(path), full_page=full_page)
        _shots.append(path)
        return path

    return take


@pytest.fixture
def record_figure() -> Callable[[str], None]:
    """Print a measured figure now (with -s) and in the session's summary (always)."""

    def record(line: str) -> None:
        print(line)
        _figures.append(line)

    return record
