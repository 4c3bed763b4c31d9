"""DaskRunner: its own local cluster or one at an address, values that stay on the cluster,
records that reach the store once, cancellation, and no process left behind.

Most tests share one LocalCluster (the `dask_runner` fixture connects to it by address);
the engine's runner-level tests (tests/unit/engine/test_engine_runners.py) use it too.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from pathlib import Path

import pytest

from helpers import wait_for
from orkest import flow, task
from orkest.core.states import StateType
from orkest.store import open_store
from unit.runners.dask_cluster import dask_address_fixture, dask_runner_fixture  # noqa: F401
from unit.runners.traced import Traced

pytest.importorskip("distributed", reason="DaskRunner needs the `dask` extra")

import psutil  # noqa: E402 - comes with distributed
from distributed import Client  # noqa: E402

from orkest.runners import DaskRunner  # noqa: E402


def task_runs(flow_run_id: str) -> dict[str, object]:
    return {t.name: t for t in open_store().list_task_runs(flow_run_id=flow_run_id)}


def last_flow_run_id() -> str:
    return open_store().list_flow_runs()[0].id


def child_pids() -> set[int]:
    """Our child processes, but multiprocessing's resource tracker, which lives as long as
    this process does once anything started it."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


def test_a_local_cluster_lives_as_long_as_the_flow_run() -> None:
    before = child_pids()
    runner = DaskRunner(cluster_kwargs={"n_workers": 1})
    seen: dict[str, object] = {}

    @task
    def where() -> int:
        return os.getpid()

    @flow(task_runner=runner)
    def f() -> int:
        seen["client"] = runner_in_use(f)
        return where.submit().result()

    worker_pid = f()
    assert worker_pid != os.getpid() and worker_pid not in before
    assert seen["client"] is not None
    wait_for(lambda: child_pids() <= before, timeout=10)  # workers and nanny are gone
    assert not psutil.pid_exists(worker_pid) or worker_pid not in child_pids()


def runner_in_use(flow_obj: object) -> object:
    from orkest.engine.context import flow_run_var

    return flow_run_var.get().runner.client


def test_an_address_connects_and_never_closes_that_cluster(dask_runner: DaskRunner,
                                                          dask_address: str) -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(task_runner=dask_runner)
    def f() -> list[int]:
        return [fut.result() for fut in double.map([1, 2, 3])]

    assert f() == [2, 4, 6]
    assert f() == [2, 4, 6]  # a second flow run on the same cluster
    with Client(dask_address, set_as_default=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2


def test_a_future_passed_on_stays_on_the_cluster(dask_runner: DaskRunner,
                                                 tmp_path: Path) -> None:
    log = str(tmp_path / "unpickled")

    @task(persist_result=False)
    def produce() -> Traced:
        return Traced(log, 1_000_000)

    @task
    def consume(value: Traced) -> int:
        return len(value.payload)

    @flow(task_runner=dask_runner)
    def f() -> tuple[int, int]:
        made = produce.submit()
        size = consume.submit(made).result()
        unpickled_before_result = Path(log).read_text().split() if Path(log).exists() else []
        assert str(os.getpid()) not in unpickled_before_result  # not through the flow
        return size, len(made.result().payload)  # .result() fetches it here, on purpose

    assert f() == (1_000_000, 1_000_000)
    assert Path(log).read_text().split().count(str(os.getpid())) == 1
    runs = task_runs(last_flow_run_id())
    assert runs["consume-0"].upstream == [runs["produce-0"].id]


def test_cancel_all_cancels_pending_and_running_tasks(dask_runner: DaskRunner,
                                                      tmp_path: Path) -> None:
    from orkest.engine.context import flow_run_var

    started = tmp_path / "started"

    @task
    def sleepy(i: int) -> int:
        started.write_text("yes")
        for _ in range(200):  # Python code between sleeps: an interrupt lands here
            time.sleep(0.05)
        return i

    @flow(task_runner=dask_runner)
    def f() -> None:
        futures = sleepy.map(list(range(6)))  # 2 workers: 4 stay pending
        wait_for(started.exists, timeout=10)
        flow_run_var.get().control.cancel("stop it")
        for future in futures:
            future.wait(10)

    began = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - began < 8
    assert state.type is StateType.CANCELLED
    runs = task_runs(last_flow_run_id())
    assert {r.state_type for r in runs.values()} == {StateType.CANCELLED}
    with Client(dask_runner.address, set_as_default=False) as client:
        wait_for(lambda: not client.processing() or not any(client.processing().values()),
                 timeout=10)


def test_secrets_are_masked_both_ways(dask_runner: DaskRunner) -> None:
    from orkest._internal import masking

    masking.register("flow-side-secret-1234")

    @task(log_prints=True)
    def leak() -> None:
        masking.register("worker-side-secret-5678")
        print("flow-side-secret-1234 and worker-side-secret-5678")
        raise ValueError("worker-side-secret-5678")

    @flow(task_runner=dask_runner)
    def f() -> None:
        leak.submit().result()

    f(return_state=True)
    assert "worker-side-secret-5678" in masking.registered()
    flow_run_id = last_flow_run_id()
    text = " ".join(line.message for line in open_store().read_logs(flow_run_id))
    run = next(iter(task_runs(flow_run_id).values()))
    assert "***" in text
    for secret in ("flow-side-secret-1234", "worker-side-secret-5678"):
        assert secret not in text and secret not in (run.state_message or "")


def test_an_unpicklable_argument_fails_only_that_run(dask_runner: DaskRunner) -> None:
    @task
    def takes(value: object) -> str:
        return "ran"

    @flow(task_runner=dask_runner)
    def f() -> tuple:
        bad = takes.submit(threading.Lock())
        good = takes.submit(1)
        return bad.wait(), good.result()

    f(return_state=True)
    runs = task_runs(last_flow_run_id())
    assert runs["takes-0"].state_type is StateType.FAILED
    assert "cannot be sent to a Dask worker" in runs["takes-0"].state_message
    assert runs["takes-1"].state_type is StateType.COMPLETED


def test_configuration_is_checked_and_copied(dask_address: str) -> None:
    with pytest.raises(ValueError, match="cluster_kwargs"):
        DaskRunner(address=dask_address, cluster_kwargs={"n_workers": 1})
    runner = DaskRunner(cluster_kwargs={"n_workers": 1})
    assert runner.duplicate().config() == runner.config()
    assert pickle.loads(pickle.dumps(runner)).cluster_kwargs == {"n_workers": 1}
    assert runner.name == "dask"


def test_an_unreachable_address_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import free_port
    from orkest.errors import ConfigurationError
    from orkest.runners import dask as dask_module

    monkeypatch.setattr(dask_module, "CONNECT_SECONDS", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"

    @flow(task_runner=DaskRunner(address=address))
    def f() -> None:
        pass

    with pytest.raises(ConfigurationError, match=f"cannot reach the Dask scheduler at '{address}'"):
        f()
    assert open_store().list_flow_runs()[0].state_type is StateType.FAILED
