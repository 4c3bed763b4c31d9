"""RayRunner on a real local Ray: its lifecycle, values that stay on the cluster, live
records, hard timeouts, cancels and secrets. Ray starts once for the module (ray_cluster.py)
except in the first test, which checks that a runner's own Ray starts and stops cleanly."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from helpers import wait_for
from orkest import flow, get_run_logger, task
from orkest.core.states import StateType
from orkest.engine.context import flow_run_var
from orkest.errors import ConfigurationError
from orkest.store import open_store
from unit.runners.ray_cluster import (  # noqa: F401 - fixtures
    RAY_ENV,
    RAY_INIT,
    ray_runner_fixture,
    ray_session_fixture,
)
from unit.runners.traced import Traced

ray = pytest.importorskip("ray", reason="RayRunner needs the `ray` extra")
from orkest.runners import RayRunner  # noqa: E402 - after the skip above

HERE = str(os.getpid())


def last_flow_run_id() -> str:
    return open_store().list_flow_runs()[0].id


def task_runs(flow_run_id: str) -> dict[str, object]:
    return {t.name: t for t in open_store().list_task_runs(flow_run_id=flow_run_id)}


def history(run_id: str) -> list[str]:
    return [r.type.value for r in open_store().read_states(run_id)]


def ray_processes(pids: set[str]) -> dict[str, str]:
    """Those of `pids` that are Ray's (gcs, raylet, agents, workers), with their command
    lines: another test's helper that happens to start meanwhile is not Ray's to stop."""
    found = {}
    for pid in pids:
        try:
            command = (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"ray" in command:
            found[pid] = command.decode(errors="replace")[:200]
    return found


def descendants() -> set[str]:
    """Pids of every live process below this one (Ray's gcs, raylet, workers, agents)."""
    parents: dict[str, str] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[proc.name] = fields[1]
    found, frontier = set(), {HERE}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def test_a_local_ray_lives_as_long_as_the_flow_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """No address: the runner starts Ray with the flow run and stops all of it after."""
    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    assert not ray.is_initialized(), "this test must run before the module's shared Ray"
    during: dict[str, object] = {}
    before = descendants()  # earlier tests' long-lived helpers (resource trackers...)

    @task
    def where() -> int:
        return os.getpid()

    @flow(task_runner=RayRunner(init_kwargs=RAY_INIT))
    def f() -> int:
        pid = where.submit().result()
        during.update(initialized=ray.is_initialized(),
                      processes=ray_processes(descendants() - before))
        return pid

    assert f() != os.getpid()  # it ran in a Ray worker
    started: dict[str, str] = during["processes"]  # type: ignore[assignment]
    assert during["initialized"] and started
    assert not ray.is_initialized()
    deadline = time.monotonic() + 30
    while (left := started.keys() & descendants()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"Ray's processes 30 s after the flow run: {[started[p] for p in left]}"


def test_an_address_connects_and_never_stops_that_cluster(ray_session: RayRunner,
                                                          tmp_path: Path) -> None:
    """Another process connects by address, runs a flow there, and leaves Ray running."""
    address = ray.get_runtime_context().gcs_address
    script = tmp_path / "remote_flow.py"
    script.write_text(textwrap.dedent(f"""
        from orkest import flow, task
        from orkest.runners import RayRunner

        @task
        def double(x: int) -> int:
            return 2 * x

        @flow(task_runner=RayRunner(address={address!r}))
        def f() -> int:
            return double.submit(double.submit(5)).result()

        print("result", f())
    """))
    env = {**os.environ, **RAY_ENV}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "result 20" in done.stdout
    assert ray.get(ray.put("still up")) == "still up"  # the cluster outlived that driver


def test_a_future_passed_on_stays_on_the_cluster(ray_runner: RayRunner,
                                                 tmp_path: Path) -> None:
    log = str(tmp_path / "unpickled-in")
    seen: dict[str, bool] = {}

    @task(persist_result=False)
    def make() -> Traced:
        return Traced(log, 2_000_000)

    @task
    def size(value: Traced) -> int:
        return len(value.payload)

    @flow(task_runner=ray_runner)
    def f() -> int:
        made = make.submit()
        length = size.submit(made).result()
        seen["fetched_before_result"] = made.state.has_data()
        seen["pid_before_result"] = HERE in Path(log).read_text().split()
        made.result()  # now user code asks: the value comes to the flow process
        return length

    assert f() == 2_000_000
    assert seen == {"fetched_before_result": False, "pid_before_result": False}
    arrivals = Path(log).read_text().split()
    assert arrivals.count(HERE) == 1 and len(arrivals) >= 2  # a worker, then us once


def test_a_timeout_cuts_a_sleep_short(ray_runner: RayRunner) -> None:
    """A Ray task runs in its worker's main thread: the interrupt (a signal) lands at once."""
    @task(timeout_seconds=0.5)
    def sleepy() -> None:
        time.sleep(30)

    @flow(task_runner=ray_runner)
    def f() -> None:
        sleepy.submit().result()

    began = time.monotonic()
    f(return_state=True)
    assert time.monotonic() - began < 10
    (run,) = task_runs(last_flow_run_id()).values()
    assert (run.state_type, run.state_name) == (StateType.FAILED, "TimedOut")
    assert run.state_message.endswith("exceeded its timeout of 0.5 s")
    assert history(run.id) == ["PENDING", "RUNNING", "FAILED"]


def test_a_task_that_ignores_its_timeout_is_killed(ray_runner: RayRunner) -> None:
    @task(timeout_seconds=0.5)
    def stuck() -> None:
        import signal

        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})  # deaf to the interrupt
        time.sleep(30)

    @flow(task_runner=ray_runner)
    def f() -> None:
        stuck.submit().result()

    began = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - began < 10
    (run,) = task_runs(last_flow_run_id()).values()
    assert (run.state_type, run.state_name) == (StateType.FAILED, "TimedOut")
    assert "Ray task was killed" in run.state_message
    assert run.failure_type == "orkest.errors.TaskTimeoutError"
    assert state.type is StateType.FAILED


def test_cancel_all_cancels_pending_and_running_tasks(ray_runner: RayRunner,
                                                      tmp_path: Path) -> None:
    started = tmp_path / "started"

    @task
    def sleepy(i: int) -> int:
        started.write_text("yes")
        time.sleep(30)
        return i

    @flow(task_runner=ray_runner)
    def f() -> None:
        futures = sleepy.map(list(range(5)))  # 2 CPUs: 3 stay pending in Ray
        wait_for(started.exists, timeout=15)
        flow_run_var.get().control.cancel("stop it")
        for future in futures:
            future.wait(15)

    began = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - began < 12
    assert state.type is StateType.CANCELLED
    runs = task_runs(last_flow_run_id())
    assert {r.state_type for r in runs.values()} == {StateType.CANCELLED}
    assert sum(history(r.id) == ["PENDING", "CANCELLED"] for r in runs.values()) >= 3


def test_secrets_are_masked_both_ways(ray_runner: RayRunner) -> None:
    from orkest._internal import masking

    masking.register("flow-side-secret-1234")

    @task(log_prints=True)
    def leak() -> None:
        masking.register("worker-side-secret-5678")
        print("flow-side-secret-1234 and worker-side-secret-5678")
        raise ValueError("worker-side-secret-5678")

    @flow(task_runner=ray_runner)
    def f() -> None:
        leak.submit().result()

    f(return_state=True)
    assert "worker-side-secret-5678" in masking.registered()
    flow_run_id = last_flow_run_id()
    text = " ".join(line.message for line in open_store().read_logs(flow_run_id))
    (run,) = task_runs(flow_run_id).values()
    assert "***" in text
    for secret in ("flow-side-secret-1234", "worker-side-secret-5678"):
        assert secret not in text and secret not in (run.state_message or "")


def test_what_cannot_travel_fails_only_that_run(ray_runner: RayRunner) -> None:
    @task
    def takes(value: object) -> str:
        return "ran"

    @task(persist_result=False)
    def gives_lock() -> object:
        return threading.Lock()

    @flow(task_runner=ray_runner)
    def f() -> str:
        bad_in = takes.submit(threading.Lock())
        bad_out = gives_lock.submit()
        bad_in.wait()
        bad_out.wait()
        return takes.submit(1).result()

    state = f(return_state=True)
    runs = task_runs(last_flow_run_id())
    assert runs["takes-1"].state_type is StateType.COMPLETED
    for name in ("takes-0", "gives_lock-0"):
        assert runs[name].state_type is StateType.FAILED
        assert runs[name].failure_type == "orkest.errors.SerializationError"
        assert name in runs[name].state_message and "lock" in runs[name].state_message
    assert state.type is StateType.FAILED  # failures nobody looked at fail the flow


def test_configuration_is_checked_and_copied() -> None:
    runner = RayRunner(address="ray-head:6379", init_kwargs={"num_cpus": 4})
    copy = pickle.loads(pickle.dumps(runner))
    assert (copy.address, copy.init_kwargs) == ("ray-head:6379", {"num_cpus": 4})
    assert runner.duplicate().config() == runner.config()
    with pytest.raises(ConfigurationError, match="init_kwargs"):
        RayRunner(init_kwargs=["num_cpus"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="address="):
        RayRunner(init_kwargs={"address": "auto"})


def test_a_large_task_goes_through_the_object_store(ray_runner: RayRunner) -> None:
    big = b"b" * 200_000  # past INLINE_TASK_BYTES: the task's bytes are put once

    @task
    def measure(i: int) -> int:
        return len(big) + i

    @flow(task_runner=ray_runner)
    def f() -> list[int]:
        return [future.result() for future in measure.map([0, 1, 2])]

    assert f() == [200_000, 200_001, 200_002]


def test_a_lost_mailbox_loses_nothing_but_liveness(ray_runner: RayRunner) -> None:
    """Live messages go through the Mailbox actor; a task whose posts did not all reach it
    puts them in its report: kill the actor, runs still end with their whole history."""
    from orkest.runners import ray as ray_module

    @task
    def slow(i: int) -> int:
        get_run_logger().info(f"working on {i}")
        time.sleep(0.8)  # past a live tick: it posts to the Mailbox
        return i

    @flow(task_runner=ray_runner)
    def f() -> list[int]:
        ray.kill(ray_module._session.mailbox()[0])
        return [future.result() for future in slow.map([1, 2])]

    try:
        assert f() == [1, 2]
    finally:
        ray_module._session._mailbox = None  # the next test gets a new one
    for run in task_runs(last_flow_run_id()).values():
        assert history(run.id) == ["PENDING", "RUNNING", "COMPLETED"]
    lines = [line.message for line in open_store().read_logs(last_flow_run_id())]
    assert lines.count("working on 1") == 1 and lines.count("working on 2") == 1
