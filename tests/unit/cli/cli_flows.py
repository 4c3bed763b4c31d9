"""Flows the CLI tests run, in-process (CliRunner) and in real `orkest` subprocesses.

Side effects go to files under a `workdir` parameter, so a test can count executions
across processes.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from orkest import flow, get_run_logger, pause_flow_run, task


def _mark(workdir: str, name: str) -> int:
    path = Path(workdir) / f"{name}.calls"
    with path.open("a") as handle:
        handle.write("x")
    return len(path.read_text())


@task
def add(x: int, y: int) -> int:
    get_run_logger().info("adding %s and %s", x, y)
    return x + y


@flow(log_prints=True)
def ok(n: int = 2, label: str = "sum") -> int:
    print(f"{label} of {n} numbers")
    return sum(f.result() for f in add.map(range(n), 1))


@task
def explode(reason: str) -> None:
    raise ValueError(f"boom: {reason}")


@flow
def fails(reason: str = "bad input") -> None:
    add(1, 2)
    explode(reason)


@task
def step_one(workdir: str) -> str:
    _mark(workdir, "step_one")
    return "one done"


@task
def step_two(workdir: str, previous: str) -> str:
    _mark(workdir, "step_two")
    if (Path(workdir) / "fail").exists():
        raise RuntimeError("step_two is told to fail")
    return previous + ", two done"


@flow
def two_steps(workdir: str) -> str:
    return step_two(workdir, step_one(workdir))


@task
def nap(seconds: float, workdir: str | None = None) -> float:
    if workdir:
        _mark(workdir, "nap")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # short sleeps: a cancel lands between them
        time.sleep(0.05)
    return seconds


@flow
def sleepy(seconds: float = 30.0) -> float:
    return nap(seconds)


@flow
def pauses() -> str:
    pause_flow_run(timeout=60)
    return "resumed"


class Approval(BaseModel):
    approver: str
    count: int


@task
def record_approval(approver: str, count: int) -> str:
    return f"{approver} approved {count}"


@flow
def pauses_for_input() -> str:
    approval = pause_flow_run(timeout=60, wait_for_input=Approval)
    return record_approval(approval.approver, approval.count)


not_a_flow = add
