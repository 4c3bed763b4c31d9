"""`orkest worker start`: real worker processes, real children, a real SQLite file.

Each test deploys flows written to tmp_path (ORKEST_HOME comes from conftest and reaches
the subprocesses through the environment), starts workers as subprocesses and watches the
store until the runs get where they must.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orkest.core.states import StateType
from orkest.store import open_store

FAST = ["--poll-interval", "0.05", "--heartbeat-interval", "0.2", "--reap-interval", "0.2"]
FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
DONE = FINAL - {StateType.CRASHED}


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class WorkerProcess:
    """A `orkest worker start` subprocess whose output goes to a file."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.out = tmp_path / f"worker-{time.monotonic_ns()}.log"
        with self.out.open("w") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "orkest.cli.main", "worker", "start", *args],
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: "started" in self.output() or self.proc.poll() is not None,
                 what="the worker's banner")
        assert self.proc.poll() is None, self.output()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.out.read_text()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(tmp_path, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(10)


def deploy(tmp_path: Path, source: str, flow_name: str, pool: str,
           file_name: str = "flows.py") -> str:
    """Write `source` to a file, deploy its flow into `pool`; the deployment's name."""
    from orkest._internal.loading import load_object
    from orkest.services.deployments import build_deployment, save

    path = tmp_path / file_name
    path.write_text(textwrap.dedent(source))
    flow = load_object(f"{path}:{flow_name}")
    deployment = save(open_store(), build_deployment(flow, "dev", work_pool=pool))
    return deployment.full_name


def run(name: str, **params: Any) -> str:
    from orkest.services.deployments import run_deployment

    return run_deployment(open_store(), name, params).id


def final(run_id: str, timeout: float = 20.0, until: frozenset | set = FINAL) -> Any:
    """The run once it is in one of `until` (a crashed run may be rescheduled: pass
    DONE to wait past CRASHED)."""
    store = open_store()
    return wait_for(lambda: (r := store.read_flow_run(run_id)).state_type in until and r,
                    timeout, f"flow run {run_id} to finish")


def history(run_id: str) -> list[tuple[str, str]]:
    return [(s.type.value, s.name) for s in open_store().read_states(run_id)]


def pid_alive(pid: int) -> bool:
    from orkest.services.reaper import pid_alive as alive

    return alive(pid)


SIMPLE = """
    import os
    from orkest import flow

    @flow
    def simple(x: int = 1):
        return {"pid": os.getpid(), "x": x}
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_runs_each_claimed_run_in_its_own_process(tmp_path: Path, workers: Any,
                                                         method: str) -> None:
    from orkest.services.deployments import code_hash

    name = deploy(tmp_path, SIMPLE, "simple", "pool-a")
    worker = workers("--pool", "pool-a", "--concurrency", "2", "--start-method", method,
                     *FAST)
    ids = [run(name, x=i) for i in range(3)]
    runs = [final(i) for i in ids]
    assert [r.state_type for r in runs] == [StateType.COMPLETED] * 3
    pids = {r.pid for r in runs}
    assert worker.pid not in pids and len(pids) == 3
    for r in runs:
        assert history(r.id) == [("SCHEDULED", "Scheduled"), ("PENDING", "Pending"),
                                 ("RUNNING", "Running"), ("COMPLETED", "Completed")]
        assert r.code_hash == code_hash(str(tmp_path / "flows.py") + ":simple") is not None
        assert r.worker_id is not None
    (record,) = open_store().list_workers(work_pool="pool-a")
    assert record.status == "online" and record.concurrency == 2 and record.pid == worker.pid
    wait_for(lambda: "Finished" in worker.output() and worker.output().count("Finished") == 3)
    assert "pool 'pool-a', concurrency 2, store sqlite:///" in worker.output()
    assert worker.stop() == 0
    (record,) = open_store().list_workers(work_pool="pool-a")
    assert record.status == "stopped"


CRASH_ONCE = """
    import os, pathlib, time
    from orkest import flow

    @flow(retries=1)
    def crash_once(lines: str, marker: str):
        with open(lines, "a") as out:
            out.write(f"start {os.getpid()} {time.time()}\\n")
        first = not os.path.exists(marker)
        if first:
            pathlib.Path(marker).write_text("x")
            time.sleep(60)
        with open(lines, "a") as out:
            out.write(f"end {os.getpid()} {time.time()}\\n")
"""


def test_kill_9_of_a_worker_mid_run_reruns_the_run_on_another_worker(
        tmp_path: Path, workers: Any) -> None:
    store = open_store()
    name = deploy(tmp_path, CRASH_ONCE, "crash_once", "pool-k")
    lines, marker = tmp_path / "lines.txt", tmp_path / "marker"
    first = workers("--pool", "pool-k", *FAST)
    run_id = run(name, lines=str(lines), marker=str(marker))
    running = wait_for(lambda: (r := store.read_flow_run(run_id)).state_type is
                       StateType.RUNNING and marker.exists() and r, what="attempt 1 running")
    child_pid = running.pid
    assert child_pid != first.pid and pid_alive(child_pid)
    second = workers("--pool", "pool-k", *FAST)
    os.kill(first.pid, signal.SIGKILL)
    first.proc.wait(10)
    done = final(run_id, until=DONE)
    assert done.state_type is StateType.COMPLETED, done.state_message
    assert not pid_alive(child_pid)  # the orphaned child died with its worker
    types = [t for t, _ in history(run_id)]
    assert types == ["SCHEDULED", "PENDING", "RUNNING", "CRASHED", "SCHEDULED", "PENDING",
                     "RUNNING", "COMPLETED"]
    assert history(run_id)[4] == ("SCHEDULED", "AwaitingRetry")
    assert done.run_count == 2 and done.pid != child_pid
    events = [line.split() for line in lines.read_text().splitlines()]
    assert [(e[0], int(e[1])) for e in events] == [
        ("start", child_pid), ("start", done.pid), ("end", done.pid)]
    assert "Started flow run" in second.output()


STUBBORN = """
    import time
    from orkest import flow

    @flow
    def sleepy(seconds: float = 60):
        time.sleep(seconds)

    @flow
    def stubborn():
        try:
            time.sleep(60)
        except BaseException:
            time.sleep(60)  # ignores the cancel; only the worker's SIGTERM ends it
"""


def test_cancelling_a_run_stops_its_process(tmp_path: Path, workers: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_POLL_SECONDS", "0.1")
    store = open_store()
    deploy(tmp_path, STUBBORN, "sleepy", "pool-c")
    deploy(tmp_path, STUBBORN, "stubborn", "pool-c")
    worker = workers("--pool", "pool-c", "--concurrency", "2", "--cancel-grace", "1", *FAST)
    ids = [run("sleepy/dev"), run("stubborn/dev")]
    runs = [wait_for(lambda i=i: (r := store.read_flow_run(i)).state_type is
                     StateType.RUNNING and r) for i in ids]
    store.request_action(runs[1].id, "cancel", "Cancelled by the test")
    by_cli = subprocess.run([sys.executable, "-m", "orkest.cli.main", "flow-run", "cancel",
                             runs[0].id], capture_output=True, text=True, timeout=30)
    assert by_cli.returncode == 0, by_cli.stderr
    assert "cancelled" in by_cli.stdout
    ended = [final(i) for i in ids]
    assert [r.state_type for r in ended] == [StateType.CANCELLED] * 2
    for r in runs:
        wait_for(lambda r=r: not pid_alive(r.pid), what=f"process {r.pid} to end")
    assert f"terminating process {runs[1].pid}" in worker.output()
    assert f"terminating process {runs[0].pid}" not in worker.output()  # it obeyed in time
    assert worker.stop() == 0


SHORT = """
    import time
    from orkest import flow

    @flow
    def short(seconds: float = 1.0):
        time.sleep(seconds)
        return "done"
"""


def test_ctrl_c_lets_running_runs_finish_and_takes_no_more(tmp_path: Path,
                                                          workers: Any) -> None:
    store = open_store()
    name = deploy(tmp_path, SHORT, "short", "pool-i")
    worker = workers("--pool", "pool-i", "--concurrency", "2", *FAST)
    run_id = run(name, seconds=1.0)
    wait_for(lambda: store.read_flow_run(run_id).state_type is StateType.RUNNING)
    worker.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "Stopping" in worker.output())
    later = run(name, seconds=0.0)
    assert worker.proc.wait(15) in (0, 130)
    assert store.read_flow_run(run_id).state_type is StateType.COMPLETED
    assert store.read_flow_run(later).state_type is StateType.SCHEDULED
    (record,) = store.list_workers(work_pool="pool-i")
    assert record.status == "stopped" and record.running == 0


def test_a_second_ctrl_c_terminates_the_runs(tmp_path: Path, workers: Any) -> None:
    store = open_store()
    name = deploy(tmp_path, SHORT, "short", "pool-j")
    worker = workers("--pool", "pool-j", *FAST)
    run_id = run(name, seconds=60.0)
    running = wait_for(lambda: (r := store.read_flow_run(run_id)).state_type is
                       StateType.RUNNING and r)
    worker.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "Stopping" in worker.output())
    worker.proc.send_signal(signal.SIGINT)
    assert worker.proc.wait(15) == 130
    assert store.read_flow_run(run_id).state_type is StateType.CRASHED
    assert not pid_alive(running.pid)


def test_a_run_whose_source_is_gone_fails_and_the_worker_lives_on(tmp_path: Path,
                                                                  workers: Any) -> None:
    gone = deploy(tmp_path, SIMPLE, "simple", "pool-m", file_name="moved.py")
    (tmp_path / "moved.py").unlink()
    fine = deploy(tmp_path, SHORT, "short", "pool-m")
    worker = workers("--pool", "pool-m", *FAST)
    failed = final(run(gone))
    assert failed.state_type is StateType.FAILED
    assert str(tmp_path / "moved.py") in failed.state_message
    assert "does not exist" in failed.state_message
    assert final(run(fine, seconds=0.0)).state_type is StateType.COMPLETED
    assert worker.proc.poll() is None


CHANGES_ITSELF = """
    import os, pathlib
    from orkest import flow

    @flow(retries=1)
    def changes_itself(marker: str):
        if not os.path.exists(marker):
            pathlib.Path(marker).write_text("x")
            with open(__file__, "a") as source:
                source.write("\\n# edited while the run ran\\n")
            os._exit(3)  # the process dies without a word: CRASHED, then retried
        return "second attempt"
"""


def test_a_rerun_from_changed_code_says_so_in_its_logs(tmp_path: Path, workers: Any) -> None:
    from orkest.services.deployments import code_hash

    name = deploy(tmp_path, CHANGES_ITSELF, "changes_itself", "pool-h")
    entrypoint = f"{tmp_path / 'flows.py'}:changes_itself"
    first_hash = code_hash(entrypoint)
    worker = workers("--pool", "pool-h", *FAST)
    run_id = run(name, marker=str(tmp_path / "marker"))
    done = final(run_id, until=DONE)
    assert done.state_type is StateType.COMPLETED, done.state_message
    assert done.code_hash == first_hash != code_hash(entrypoint)
    assert ("CRASHED", "Crashed") in history(run_id)
    assert ("SCHEDULED", "AwaitingRetry") in history(run_id)
    warnings = [line for line in open_store().read_logs(run_id) if line.level == 30]
    assert len(warnings) == 1
    assert "code changed since this run first started" in warnings[0].message
    assert first_hash in warnings[0].message and code_hash(entrypoint) in warnings[0].message
    assert "exited with code 3" in worker.output()


def test_a_worker_on_an_empty_pool_waits_and_stops_cleanly(workers: Any) -> None:
    worker = workers("--pool", "nobody-deployed-here", *FAST)
    wait_for(lambda: open_store().list_workers(work_pool="nobody-deployed-here"))
    assert worker.proc.poll() is None
    assert worker.stop(signal.SIGTERM) == 0
    (record,) = open_store().list_workers(work_pool="nobody-deployed-here")
    assert record.status == "stopped"


@pytest.mark.parametrize("value", ["0", "-3"])
def test_concurrency_below_one_is_a_usage_error(value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "orkest.cli.main", "worker", "start",
                           "--pool", "p", "--concurrency", value],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--concurrency" in done.stderr and value in done.stderr


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database as the configured store (skipped when unreachable)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from orkest.store import reset_stores

    base = make_url(os.environ.get("ORKEST_TEST_POSTGRES_URL")
                    or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    admin = create_engine(base, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    name = f"orkest_worker_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    url = base.set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("ORKEST_DATABASE_URL", url)
    reset_stores()
    try:
        yield url
    finally:
        reset_stores()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


COUNTED = """
    import os
    from orkest import flow

    @flow
    def counted(n: int, ledger: str):
        with open(ledger, "a") as out:
            out.write(f"{n} {os.getpid()}\\n")
"""


def test_two_workers_on_postgresql_run_every_run_once(tmp_path: Path, workers: Any,
                                                      postgres: str) -> None:
    name = deploy(tmp_path, COUNTED, "counted", "pool-pg")
    ledger = tmp_path / "ledger.txt"
    pair = [workers("--pool", "pool-pg", "--concurrency", "3", *FAST) for _ in range(2)]
    assert all("store postgresql" in w.output() for w in pair)
    ids = [run(name, n=i, ledger=str(ledger)) for i in range(12)]
    assert {final(i).state_type for i in ids} == {StateType.COMPLETED}
    numbers = sorted(int(line.split()[0]) for line in ledger.read_text().splitlines())
    assert numbers == list(range(12))  # each run ran once
    assert {r.worker_id for r in map(open_store().read_flow_run, ids)} <= {
        w.id for w in open_store().list_workers(work_pool="pool-pg")}


OVERLAP = """
    import time
    import orkest

    @orkest.flow
    def one_at_a_time(log: str, n: int) -> None:
        with open(log, "a") as handle:
            handle.write(f"start {n} {time.time()}\\n")
        time.sleep(0.3)
        with open(log, "a") as handle:
            handle.write(f"end {n} {time.time()}\\n")
"""


def test_a_deployments_concurrency_limit_holds_across_workers(tmp_path: Path, workers) -> None:
    """max_active_runs / concurrency_limit=1: two workers with free slots still run the
    deployment's runs one after another, in the order they were due."""
    from orkest._internal.loading import load_object
    from orkest.services.deployments import build_deployment, save

    path = tmp_path / "overlap.py"
    path.write_text(textwrap.dedent(OVERLAP))
    flow = load_object(f"{path}:one_at_a_time")
    save(open_store(), build_deployment(flow, "dev", work_pool="limited", concurrency_limit=1))
    log = tmp_path / "overlap.log"
    ids = [run("one-at-a-time/dev", log=str(log), n=i) for i in range(3)]
    workers("--pool", "limited", "--concurrency", "3", *FAST)
    workers("--pool", "limited", "--concurrency", "3", *FAST)
    assert all(final(i).state_type is StateType.COMPLETED for i in ids)
    events = [line.split() for line in log.read_text().splitlines()]
    kinds = [kind for kind, _n, _t in sorted(events, key=lambda e: float(e[2]))]
    assert kinds == ["start", "end"] * 3, events  # never two at once
    assert [int(n) for kind, n, _t in sorted(events, key=lambda e: float(e[2]))
            if kind == "start"] == [0, 1, 2]
