"""`flow.serve()`: one process deploys, schedules and runs, with no server and no worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orkest.core.states import StateType
from orkest.store.sql.store import SqlRunStore


def test_serve_schedules_and_runs_in_one_process(tmp_path: Path) -> None:
    script = tmp_path / "served.py"
    script.write_text(textwrap.dedent("""
        import datetime as dt
        import orkest
        from orkest.schedules import Interval

        @orkest.flow
        def tick(label: str = "x") -> str:
            print("tick", label)
            return label

        if __name__ == "__main__":
            tick.serve("every-second", schedules=[Interval(dt.timedelta(seconds=1))],
                       parameters={"label": "served"}, scheduler_interval=0.2)
    """))
    home = tmp_path / "home"
    env = {**os.environ, "ORKEST_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        done: list = []
        while time.monotonic() < deadline and len(done) < 2:
            time.sleep(0.2)
            if not (home / "orkest.db").exists():
                continue
            store = SqlRunStore(f"sqlite:///{home / 'orkest.db'}")
            done = store.list_flow_runs(state_types=[StateType.COMPLETED])
            store.close()
        assert len(done) >= 2, proc.stderr.read() if proc.poll() is not None else "no runs"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "Serving tick/every-second" in err
    assert proc.returncode in (0, 130), err
    store = SqlRunStore(f"sqlite:///{home / 'orkest.db'}")
    deployment = store.read_deployment("tick/every-second")
    # The scheduler creates 120 s of one-second slots ahead: ask for the completed ones.
    completed = store.list_flow_runs(deployment_id=deployment.id,
                                     state_types=[StateType.COMPLETED], limit=1000)
    assert len({r.logical_ts for r in completed}) == len(completed) >= 2
    assert all(r.parameters.get("label") == "served" for r in completed)
    assert deployment.work_pool == "serve:tick/every-second"
    store.close()
