"""Every attempt of a worker's run is on record, with the database or through the server.

Found by the soak test (tests/soak): a run whose process died early in its flow function
was recorded as never started (its RUNNING was still in the recorder's batch), and a
worker talking to the server could not record its own child's crash (the server refused
the worker's transition policy by name; only a reaper caught the run later).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import wait_for
from soak.cluster import Cluster

DIES_ONCE = """
    import os, pathlib, signal
    from orkest import flow, task

    @task
    def one() -> int:
        return 1

    @flow(retries=1)
    def dies_once(marker: str) -> int:
        if not os.path.exists(marker):
            pathlib.Path(marker).write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)  # at once: before any batch is written
        return one()
"""


@pytest.fixture(params=["direct", "remote"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Cluster, bool]]:
    """A server on SQLite; workers reach it directly or only through its API."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the worker's children die with it through PR_SET_PDEATHSIG (Linux)")
    cluster = Cluster(tmp_path, None)
    cluster.create_schema()
    try:
        cluster.start_server()
        yield cluster, request.param == "remote"
    finally:
        cluster.close()


def test_a_run_killed_in_its_flow_function_is_recorded_running_then_crashed(
        cluster: tuple[Cluster, bool], tmp_path: Path) -> None:
    from orkest._internal.loading import load_object
    from orkest.services.deployments import build_deployment, run_deployment, save
    from orkest.store import open_store

    cluster_, remote = cluster
    source = tmp_path / "dies.py"
    source.write_text(textwrap.dedent(DIES_ONCE))
    store = open_store(f"sqlite:///{cluster_.server.home / 'orkest.db'}", direct=True)
    deployment = save(store, build_deployment(load_object(f"{source}:dies_once"), "d",
                                              work_pool="attempts"))
    run = run_deployment(store, deployment.id, {"marker": str(tmp_path / "marker")})
    cluster_.start_worker("attempts", 1, remote=remote)
    done = wait_for(lambda: (r := store.read_flow_run(run.id)).state_type.value in
                    ("COMPLETED", "FAILED") and r, timeout=30, what="the run to finish")
    history = [(s.type.value, s.name) for s in store.read_states(run.id)]
    assert done.state_type.value == "COMPLETED", history
    assert [t for t, _ in history] == ["SCHEDULED", "PENDING", "RUNNING", "CRASHED",
                                       "SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]
    assert history[4] == ("SCHEDULED", "AwaitingRetry") and done.run_count == 2
    crashed = store.read_states(run.id)[3]
    # Recorded by the run's own worker, which saw how its child ended (not by a reaper
    # finding the process gone later), in either mode.
    assert "was killed by SIGKILL" in (crashed.message or ""), crashed.message
