"""`orkest scheduler start`: the scheduler alone, as a real process (two of them at once)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.unit.services.sched_flows import report

from helpers import wait_for
from orkest.core.states import StateType
from orkest.schedules import Interval
from orkest.services.deployments import build_deployment, save
from orkest.store import open_store

COMMAND = [sys.executable, "-m", "orkest.cli.main", "scheduler", "start", "--interval", "0.2"]


def test_two_scheduler_processes_create_each_slot_once_and_stop_on_ctrl_c(
        tmp_path: Path) -> None:
    store = open_store()
    deployment = save(store, build_deployment(
        report, "every-second", schedules=[Interval(dt.timedelta(seconds=1))]))
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as handle:
            procs.append(subprocess.Popen(COMMAND, env=os.environ.copy(), stdout=handle,
                                          stderr=subprocess.STDOUT))
    try:
        wait_for(lambda: all("Scheduler started" in log.read_text() for log in logs),
                 timeout=30, what="both schedulers to start")
        started = time.monotonic()
        # Both tick every 0.2 s on the same slots: let them race for a while.
        wait_for(lambda: time.monotonic() - started > 1.5, what="a few ticks")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        codes = [proc.wait(timeout=30) for proc in procs]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert all("Scheduler stopped" in out for out in outputs), outputs
    runs = store.list_flow_runs(deployment_id=deployment.id, limit=1000)
    slots = sorted(r.logical_ts for r in runs)
    assert len(slots) == len(set(slots)) >= 100  # the 120 s horizon, each slot once
    assert {r.state_type for r in runs} == {StateType.SCHEDULED}
    assert slots == [slots[0] + i for i in range(len(slots))]  # every second, no gap
