"""The canary: a secret that a run logs, prints, passes, templates and raises is stored nowhere.

Two secrets with unique random values are set with `Secret.set`; one flow file reads them
in a thread-runner task, in a process-runner task and in the flow itself, logs them,
prints them (log_prints), passes one as a task parameter, templates it into a DAG's Bash
command that echoes it to stdout and stderr, and fails with it in the exception messages.
`orkest run` drives it in a subprocess over a fresh ORKEST_HOME. Then neither value may
appear in any byte under ORKEST_HOME, in the CLI's output, in the API's answers of a real
`orkest server start` over that home, nor in the UI's pages in Chromium; and `***` must
appear where they were, so that recording nothing cannot pass.

No task returns a secret: results are data and are stored as returned (not masked).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import textwrap
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ui.support import CHROMIUM, COMMAND, MISSING, Server, clean_env, start_server, stop_server

FLOW_FILE = '''
from orkest import flow, get_run_logger, task
from orkest.config import Secret
from orkest.dag import DAG
from orkest.operators import BashOperator
from orkest.runners import ProcessPoolRunner

with DAG("canary-shell", params={"token": "unset"}) as shell_dag:
    BashOperator(task_id="echo",
                 bash_command="echo out {{ params.token }}; echo err {{ params.token }} >&2; "
                              "echo {{ params.token }}")


@task
def read_in_thread() -> None:
    value = Secret("canary").get()
    get_run_logger().info("thread task logs %s", value)
    print("thread task prints", value)


@task
def takes_parameter(token: str) -> None:
    get_run_logger().info("a parameter of %d characters: %s", len(token), token)


@task
def read_in_process() -> None:
    value = Secret("canary_proc").get()  # read only here: the parent learns it from the child
    get_run_logger().info("process task logs %s", value)
    print("process task prints", value)
    raise ValueError(f"process task failed holding {value}")


@flow(task_runner=ProcessPoolRunner(1), log_prints=True)
def in_processes() -> None:
    read_in_process.submit().result()  # submitted: runs in a worker process


@flow(log_prints=True)
def canary_flow() -> None:
    read_in_thread.submit().wait()  # on the thread runner
    token = Secret("canary").get()
    print("flow prints", token)
    takes_parameter(token)
    shell_dag.flow(token=token)
    try:
        in_processes()
    except Exception as exc:
        get_run_logger().exception("the process subflow failed: %s", exc)
    raise RuntimeError(f"canary flow failed holding {token}")
'''


@dataclass
class CanaryRun:
    home: Path
    env: dict[str, str]
    values: tuple[str, ...]
    run: subprocess.CompletedProcess[str]
    seen: list[tuple[str, str]] = field(default_factory=list)  # (where, text) checked

    def check(self, where: str, text: str | bytes) -> None:
        """Fail naming `where` if a canary is in `text`; keep it for the `***` checks."""
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        for value in self.values:
            assert value.encode() not in data, f"secret value leaked into {where}"
        self.seen.append((where, data.decode("utf-8", "replace")))


def orkest(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120,
                          env=env)
    if check:
        assert done.returncode == 0, f"orkest {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> CanaryRun:
    work = tmp_path_factory.mktemp("canary")
    home = work / "home"
    env = clean_env(home)
    values = tuple(f"canary-{secrets.token_hex(12)}" for _ in range(2))
    setter = ("import sys\nfrom orkest.config import Secret\n"
              "Secret.set('canary', sys.argv[1])\nSecret.set('canary_proc', sys.argv[2])\n")
    subprocess.run([COMMAND[0], "-c", setter, *values], env=env, check=True, timeout=60)
    path = work / "canary_flow.py"
    path.write_text(textwrap.dedent(FLOW_FILE))
    run = subprocess.run([*COMMAND, "run", f"{path}:canary_flow"], capture_output=True,
                         text=True, timeout=120, env=env, cwd=work)
    assert run.returncode == 1, f"the canary flow should fail:\n{run.stdout}\n{run.stderr}"
    return CanaryRun(home, env, values, run)


def flow_run_ids(canary: CanaryRun) -> list[str]:
    listed = json.loads(orkest(canary.env, "flow-run", "ls", "--json").stdout)
    assert {r["flow_name"] for r in listed} == {"canary-flow", "canary-shell", "in-processes"}
    return [r["id"] for r in listed]


def test_secret_key_file_is_private(canary: CanaryRun) -> None:
    key = canary.home / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_canary_is_in_no_file_of_orkest_home(canary: CanaryRun) -> None:
    files = [p for p in canary.home.rglob("*") if p.is_file()]
    assert any(p.name == "orkest.db" for p in files)
    for path in files:  # the database, its -wal/-shm files, result files: raw bytes
        canary.check(str(path.relative_to(canary.home)), path.read_bytes())


def test_canary_is_in_no_cli_output(canary: CanaryRun) -> None:
    canary.check("`orkest run` stdout", canary.run.stdout)
    canary.check("`orkest run` stderr", canary.run.stderr)
    assert "canary flow failed holding ***" in canary.run.stdout  # the reason it printed
    assert "thread task prints ***" in canary.run.stdout  # the print, echoed masked
    assert "process task prints ***" in canary.run.stdout  # from the worker process
    logs = ""
    for run_id in flow_run_ids(canary):
        inspect = orkest(canary.env, "flow-run", "inspect", run_id, "--json").stdout
        canary.check(f"flow-run inspect {run_id}", inspect)
        text = orkest(canary.env, "flow-run", "logs", run_id).stdout
        canary.check(f"flow-run logs {run_id}", text)
        logs += text
        canary.check(f"flow-run logs {run_id} --json",
                     orkest(canary.env, "flow-run", "logs", run_id, "--json").stdout)
        task_runs = json.loads(orkest(canary.env, "task-run", "ls", "--flow-run", run_id,
                                      "--json").stdout)
        for task_run in task_runs:
            canary.check(f"task-run inspect {task_run['id']}",
                         orkest(canary.env, "task-run", "inspect", task_run["id"]).stdout)
    for expected in ("thread task logs ***", "thread task prints ***", "flow prints ***",
                     "a parameter of 31 characters: ***", "out ***", "err ***",
                     "process task logs ***", "process task prints ***",
                     "the process subflow failed: process task failed holding ***"):
        assert expected in logs, f"{expected!r} not in the logs:\n{logs}"


@pytest.fixture(scope="module")
def server(canary: CanaryRun) -> Iterator[Server]:
    srv = start_server(canary.home)
    yield srv
    stop_server(srv)


def get(server: Server, path: str, **query: Any) -> tuple[str, Any]:
    url = f"{server.url}/api/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return text, json.loads(text)


def test_canary_is_in_no_api_answer(canary: CanaryRun, server: Server) -> None:
    text, page = get(server, "flow_runs", limit=100)
    canary.check("GET /api/flow_runs", text)
    answers = [text]
    refs, previews = [], []
    for flow_run in page["items"]:
        fid = flow_run["id"]
        for path in (f"flow_runs/{fid}", f"flow_runs/{fid}/states", f"flow_runs/{fid}/logs"):
            text, _ = get(server, path)
            canary.check(f"GET /api/{path}", text)
            answers.append(text)
        text, _ = get(server, "logs", flow_run_id=fid)
        canary.check("GET /api/logs", text)
        text, tasks = get(server, f"flow_runs/{fid}/task_runs")
        canary.check(f"GET /api/flow_runs/{fid}/task_runs", text)
        for task_run in tasks["items"]:
            tid = task_run["id"]
            for path in (f"task_runs/{tid}", f"task_runs/{tid}/states", f"task_runs/{tid}/logs"):
                text, _ = get(server, path)
                canary.check(f"GET /api/{path}", text)
                answers.append(text)
            if task_run["result_ref"]:
                refs.append(task_run["result_ref"])
    assert refs, "the Bash task's XCom (its last stdout line) should be a stored result"
    for ref in refs:
        text, preview = get(server, "results/preview", ref=ref)
        canary.check(f"GET /api/results/preview?ref={ref}", text)
        answers.append(json.dumps(preview))
        previews.append(preview["preview"])
    assert any("***" in text for text in previews), previews  # the Bash task's XCom
    everything = "\n".join(answers)
    assert "canary flow failed holding ***" in everything
    assert "process task failed holding ***" in everything
    assert '"token":"***"' in everything  # the task parameter and the DAG run's parameter
    assert "echo out ***; echo err *** >&2; echo ***" in everything  # the rendered template


def _require_browser() -> None:
    """As tests/ui/conftest.py: skip without Chromium, unless ORKEST_REQUIRE_BROWSER=1."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    if os.environ.get("ORKEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"ORKEST_REQUIRE_BROWSER=1 but {MISSING}", pytrace=False)
    pytest.skip(MISSING)


def test_canary_is_in_no_ui_page(canary: CanaryRun, server: Server) -> None:
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    _, page = get(server, "flow_runs", limit=100)
    runs = {r["flow_name"]: r["id"] for r in page["items"]}
    _, tasks = get(server, f"flow_runs/{runs['in-processes']}/task_runs")
    failed_task = tasks["items"][0]["id"]
    _, tasks = get(server, f"flow_runs/{runs['canary-shell']}/task_runs")
    bash_task = tasks["items"][0]["id"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page()
            tab.set_default_timeout(15_000)
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            for name, run_id in runs.items():
                tab.goto(f"{server.url}/#/runs/{run_id}")
                expect(tab.locator("#run-state")).to_have_attribute("data-state", "FAILED"
                                                                    if name != "canary-shell"
                                                                    else "COMPLETED")
                expect(tab.locator("#logs")).to_contain_text("***")
                canary.check(f"UI run page of {name}", tab.content())
                canary.check(f"UI run page text of {name}", tab.inner_text("body"))
            tab.goto(f"{server.url}/#/task-runs/{failed_task}")
            expect(tab.locator("#traceback")).to_contain_text("failed holding ***")
            canary.check("UI task run page (process task)", tab.content())
            tab.goto(f"{server.url}/#/task-runs/{bash_task}")
            expect(tab.locator("#result-preview")).to_contain_text("***")
            canary.check("UI task run page (Bash task)", tab.content())
            assert not errors, f"JavaScript errors: {errors}"
        finally:
            browser.close()
