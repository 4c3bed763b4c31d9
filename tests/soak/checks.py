"""What the soak test asserts, read straight from the database once every run is final.

Each check returns a list of problems (empty: it holds), so that one failing soak names
every run that went wrong and how, not only the first.

- every flow run is final, and its stored state is the last one of its history;
- every history is a path the state machine allows (ALLOWED below), with non-decreasing
  times: SCHEDULED -> PENDING -> RUNNING -> COMPLETED, and for a rerun
  ... -> CRASHED -> SCHEDULED (AwaitingRetry) -> PENDING -> RUNNING -> ...;
- no run ran twice at once: in its history every attempt (from a claim to its final or
  CRASHED state) ends before the next claim; in the flow's own journal (flow_source.py)
  no attempt found its lock held by a live process, and every line an attempt wrote
  (its tasks, its end) is older than the next attempt's start;
- no attempt is missing: each one that ran the flow's body has its RUNNING in the history;
- an attempt that CRASHED was claimed by a worker the test killed, and that worker never
  claimed the run again; each attempt ran in a process of its own;
- a COMPLETED run has exactly WIDTH COMPLETED task runs, one per map index, each with a
  full history (PENDING -> RUNNING -> COMPLETED; a task run its crashed attempt had stored
  goes on in the rerun: ... -> CRASHED -> PENDING -> RUNNING -> COMPLETED).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from orkest.store.sql.tables import flow_runs, state_history, task_runs

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# The moves a flow run of a deployment may make (a run's history is a path through them).
ALLOWED = {
    None: {"SCHEDULED"},
    "SCHEDULED": {"SCHEDULED", "PENDING"},  # Late; claimed
    "PENDING": {"RUNNING", "SCHEDULED", "CRASHED", "FAILED"},  # handed back; died early
    "RUNNING": {"COMPLETED", "FAILED", "CRASHED", "AWAITING_RETRY"},
    "AWAITING_RETRY": {"RUNNING"},  # a retry in the same process
    "CRASHED": {"SCHEDULED"},  # rescheduled for another worker (AwaitingRetry)
}
TASK_ALLOWED = {
    None: {"PENDING"},
    "PENDING": {"RUNNING", "CRASHED"},
    "RUNNING": {"COMPLETED", "CRASHED"},
    # The rerun of a flow run goes on with the task runs its crashed attempt had stored
    # (same ids): those not completed with a persisted result run again.
    "CRASHED": {"PENDING"},
    "COMPLETED": {"PENDING"},
}
CLAIM_PREFIX = "Claimed by worker "


@dataclass
class Snapshot:
    """Every flow run, task run and state of the database, read at once."""

    runs: dict[str, dict[str, Any]]
    tasks_of: dict[str, list[dict[str, Any]]]
    history: dict[str, list[dict[str, Any]]]
    journal: dict[str, list[list[str]]] = field(default_factory=dict)

    @classmethod
    def read(cls, database_url: str, journal: Path) -> Snapshot:
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                runs = {r["id"]: dict(r) for r in conn.execute(select(flow_runs)).mappings()}
                tasks_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for row in conn.execute(select(task_runs)).mappings():
                    tasks_of[row["flow_run_id"]].append(dict(row))
                history: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for row in conn.execute(select(state_history).order_by(state_history.c.id)
                                        ).mappings():
                    history[row["run_id"]].append(dict(row))
        finally:
            engine.dispose()
        lines: dict[str, list[list[str]]] = defaultdict(list)
        if journal.exists():
            for line in journal.read_text().splitlines():
                words = line.split()
                lines[words[1]].append(words)
        return cls(runs, tasks_of, history, lines)

    def patterns(self) -> Counter[str]:
        """How many flow runs had each history (types only): the soak's shape in brief."""
        return Counter(" > ".join(s["type"] for s in self.history[run_id])
                       for run_id in self.runs)

    def attempts(self) -> int:
        return sum(sum(s["type"] == "RUNNING" for s in self.history[r]) for r in self.runs)

    def reruns(self) -> int:
        return sum(any(s["name"] == "AwaitingRetry" for s in self.history[r])
                   for r in self.runs)


def path_problems(label: str, states: list[dict[str, Any]],
                  allowed: dict[str | None, set[str]]) -> list[str]:
    """Problems with one run's history as a path of the state machine."""
    if not states:
        return [f"{label}: no state history at all"]
    problems = []
    previous: str | None = None
    last_ts = float("-inf")
    for state in states:
        if state["type"] not in allowed.get(previous, set()):
            problems.append(f"{label}: {previous} -> {state['type']} ({state['name']}) is "
                            f"not a move the state machine makes; history "
                            f"{[s['type'] for s in states]}")
        if state["ts"] < last_ts - 1e-3:
            problems.append(f"{label}: {state['type']} at {state['ts']} is older than the "
                            f"state before it ({last_ts})")
        previous, last_ts = state["type"], max(last_ts, state["ts"])
    if previous not in FINAL:
        problems.append(f"{label}: history ends in {previous}, not a final state")
    return problems


def flow_run_problems(snap: Snapshot, killed_workers: set[str]) -> list[str]:
    problems = []
    for run_id, run in snap.runs.items():
        label = f"flow run {run['name']} ({run_id})"
        states = snap.history[run_id]
        problems += path_problems(label, states, ALLOWED)
        if states and (states[-1]["type"], states[-1]["name"]) != (run["state_type"],
                                                                     run["state_name"]):
            problems.append(f"{label}: stored state {run['state_type']} is not the last "
                            f"of its history ({states[-1]['type']})")
        if run["state_type"] != "COMPLETED":
            problems.append(f"{label}: ended {run['state_type']} ({run['state_message']})")
        claims, ends = _attempts(states)
        for number, (claim, end) in enumerate(zip(claims, ends, strict=True)):
            if end["type"] != "CRASHED":
                continue
            if claim["worker"] not in killed_workers:
                problems.append(f"{label}: an attempt on worker {claim['worker']}, which "
                                f"the test did not kill, CRASHED: {end['message']}")
            later = [c["worker"] for c in claims[number + 1:]]
            if claim["worker"] in later:
                problems.append(f"{label}: worker {claim['worker']} claimed the run again "
                                "after its attempt CRASHED")
    return problems


def _attempts(states: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict]]:
    """(claims, ends): each PENDING claim with its worker, and the state that ended it."""
    claims, ends = [], []
    for state in states:
        message = state["message"] or ""
        if state["type"] == "PENDING":
            worker = message[len(CLAIM_PREFIX):] if message.startswith(CLAIM_PREFIX) else None
            claims.append({**state, "worker": worker})
        elif claims and len(ends) < len(claims) and state["type"] in FINAL | {"SCHEDULED"}:
            ends.append(state)
    return claims[:len(ends)], ends


def overlap_problems(snap: Snapshot) -> list[str]:
    """From the flow's own journal: no attempt ran while another of the same run lived."""
    problems = []
    for run_id, lines in snap.journal.items():
        label = f"flow run {run_id}"
        problems += [f"{label}: attempt in process {w[2]} found process {w[3]} (alive) "
                     "running the same flow run" for w in lines if w[0] == "overlap"]
        starts = sorted((float(w[3]), w[2]) for w in lines if w[0] == "start")
        pids = [pid for _, pid in starts]
        if len(set(pids)) != len(pids):
            problems.append(f"{label}: one process ran the flow's body twice ({pids})")
        for (_, earlier), (begun, later) in zip(starts, starts[1:], strict=False):
            late = [w for w in lines if w[2] == earlier and w[0] in ("task", "end")
                    and float(w[-1]) > begun]
            if late:
                problems.append(f"{label}: process {earlier} wrote {len(late)} line(s) after "
                                f"process {later} had started the run again")
        running = sum(s["type"] == "RUNNING" for s in snap.history.get(run_id, []))
        if len(starts) > running:
            problems.append(f"{label}: {len(starts)} attempts ran the flow's body but the "
                            f"history has {running} RUNNING state(s)")
        if run_id in snap.runs and snap.runs[run_id]["state_type"] == "COMPLETED":
            pid = str(snap.runs[run_id]["pid"])
            if not any(w[0] == "end" and w[2] == pid for w in lines):
                problems.append(f"{label}: completed by process {pid}, which never "
                                "finished the flow's body")
    return problems


def task_run_problems(snap: Snapshot, width: int) -> list[str]:
    problems = []
    for run_id, run in snap.runs.items():
        tasks = snap.tasks_of.get(run_id, [])
        label = f"flow run {run['name']} ({run_id})"
        if run["state_type"] == "COMPLETED":
            done = sorted(int(t["dynamic_key"]) for t in tasks
                          if t["state_type"] == "COMPLETED")
            if done != list(range(width)):
                problems.append(f"{label}: completed with task runs {done} COMPLETED, not "
                                f"one for each of the {width} map items")
        rerun = any(state["name"] == "AwaitingRetry" for state in snap.history[run_id])
        for task in tasks:
            task_label = f"{label} task {task['name']} ({task['id']})"
            states = snap.history[task["id"]]
            problems += path_problems(task_label, states, TASK_ALLOWED)
            again = sum(state["type"] == "PENDING" for state in states) > 1
            if again and not rerun:
                problems.append(f"{task_label}: ran again though its flow run was never "
                                "rerun")
    return problems


def all_problems(snap: Snapshot, killed_workers: Iterable[str], width: int) -> list[str]:
    return [*flow_run_problems(snap, set(killed_workers)), *overlap_problems(snap),
            *task_run_problems(snap, width)]
