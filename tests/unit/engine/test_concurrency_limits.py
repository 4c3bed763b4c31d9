"""Tag concurrency limits: at most N task runs of a tag at once, across threads, runners
and processes, with slots that come back when a task ends however it ends, and after
their lease when their holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orkest import flow, task
from orkest.core.states import StateType
from orkest.runners import ThreadPoolRunner
from orkest.store import open_store


@pytest.fixture(autouse=True)
def tracking() -> str:
    """Slots live in the database; the HTTP client store has none, so this suite runs in
    direct mode only (overrides the engine suite's direct/remote fixture)."""
    return "direct"


def set_limit(tag: str, limit: int) -> None:
    open_store().set_concurrency_limit(tag, limit, time.time())


def active_slots(tag: str) -> int:
    found = [x for x in open_store().list_concurrency_limits(time.time()) if x.tag == tag]
    return found[0].active if found else 0


def record_interval(log: Path, label: str, seconds: float) -> None:
    """Sleep `seconds`, then append "label start end" (one write: atomic across processes)."""
    start = time.time()
    time.sleep(seconds)
    with log.open("a") as handle:
        handle.write(f"{label} {start!r} {time.time()!r}\n")


def intervals(log: Path, label: str | None = None) -> list[tuple[float, float]]:
    rows = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return [(float(a), float(b)) for name, a, b in rows if label is None or name == label]


def max_overlap(spans: list[tuple[float, float]]) -> int:
    # An end sorts before a start at the same instant: touching spans do not overlap.
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def test_at_most_limit_tagged_tasks_run_at_once(tmp_path: Path) -> None:
    set_limit("db", 2)
    log = tmp_path / "spans.txt"

    @task(tags=["db"])
    def query(i: int) -> int:
        record_interval(log, "db", 0.15)
        return i

    @flow(task_runner=ThreadPoolRunner(max_workers=6))
    def six_queries() -> list[int]:
        return [f.result() for f in query.map(range(6))]

    state = six_queries(return_state=True)
    assert state.is_completed() and state.result() == list(range(6))
    spans = intervals(log)
    assert len(spans) == 6
    assert max_overlap(spans) == 2  # never more, and the two slots were used
    store = open_store()
    runs = store.list_task_runs(flow_run_id=store.list_flow_runs()[0].id)
    assert all(r.state_type is StateType.COMPLETED for r in runs)
    waited = [r for r in runs if any(s.name == "AwaitingConcurrencySlot"
                                     for s in store.read_states(r.id))]
    assert len(waited) >= 4  # four had to wait for a slot, and it shows in their history
    first = store.read_states(waited[0].id)
    assert [(s.type.value, s.name) for s in first][:2] == [
        ("PENDING", "Pending"), ("PENDING", "AwaitingConcurrencySlot")]
    assert first[1].message == "Waiting for a concurrency slot of tag 'db'"
    assert active_slots("db") == 0


def test_every_runner_honours_a_limit_of_one(runner, tmp_path: Path) -> None:
    set_limit("gpu", 1)
    log = tmp_path / "spans.txt"

    @task(tags=["gpu", "other"])
    def train(i: int) -> int:
        record_interval(log, "gpu", 0.05)
        return i

    @flow(task_runner=runner)
    def sweep() -> int:
        called = train(99)  # a call runs inline, in the flow's thread, and takes a slot too
        return called + sum(f.result() for f in train.map(range(4)))

    assert sweep() == 99 + 6
    assert len(intervals(log)) == 5
    assert max_overlap(intervals(log)) == 1
    assert active_slots("gpu") == 0


def test_tasks_without_a_limited_tag_are_not_held_up(tmp_path: Path) -> None:
    set_limit("db", 1)
    log = tmp_path / "spans.txt"

    @task(tags=["db"])
    def slow_query() -> None:
        record_interval(log, "db", 0.6)

    @task(tags=["web"])  # tagged, but no limit on its tag
    def fetch() -> None:
        record_interval(log, "web", 0.05)

    @flow(task_runner=ThreadPoolRunner(max_workers=3))
    def mixed() -> None:
        waits = [slow_query.submit() for _ in range(3)]
        for future in [fetch.submit() for _ in range(4)]:
            future.wait()
        for future in waits:
            future.wait()

    started = time.time()
    mixed()
    db, web = intervals(log, "db"), intervals(log, "web")
    assert max_overlap(db) == 1
    # The three waiting db tasks hold no runner thread: the web tasks ran at once on the
    # two free ones, all done before the first db task (0.6 s) ended.
    assert max(end for _, end in web) < min(end for _, end in db)
    assert max(end for _, end in web) - started < 0.55


def test_a_failing_or_timed_out_task_gives_its_slot_back(tmp_path: Path) -> None:
    set_limit("db", 1)

    @task(tags=["db"])
    def broken() -> None:
        raise ValueError("bad query")

    @task(tags=["db"], timeout_seconds=0.1)
    def stuck() -> None:
        for _ in range(100):  # short sleeps: the timeout interrupts between them
            time.sleep(0.05)

    @task(tags=["db"])
    def fine() -> str:
        return "ok"

    @flow(task_runner=ThreadPoolRunner(max_workers=2), timeout_seconds=20)
    def after_failures() -> str:
        broken.submit().result(raise_on_failure=False)
        stuck.submit().result(raise_on_failure=False)
        return fine.submit().result()  # would wait forever if a slot had leaked

    assert after_failures() == "ok"
    assert active_slots("db") == 0
    store = open_store()
    runs = {r.task_name: r for r in store.list_task_runs(flow_run_id=store.list_flow_runs()[0].id)}
    assert runs["broken"].state_type is StateType.FAILED
    assert runs["stuck"].state_name == "TimedOut"


def test_a_cancelled_flow_run_stops_its_waiting_tasks(tmp_path: Path) -> None:
    set_limit("db", 1)
    started = tmp_path / "started"

    @task(tags=["db"])
    def hold() -> None:
        started.touch()
        for _ in range(200):  # short sleeps: the cancel interrupts between them
            time.sleep(0.05)

    @task(tags=["db"])
    def queued() -> None:
        pass

    @flow(task_runner=ThreadPoolRunner(max_workers=4))
    def blocked() -> None:
        hold.submit()
        queued.submit()

    import threading

    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(blocked(return_state=True)))
    thread.start()
    wait_for(started.exists)
    store = open_store()
    wait_for(lambda: bool(store.list_flow_runs()))
    store.request_action(store.list_flow_runs()[0].id, "cancel")
    thread.join(15)
    assert not thread.is_alive()
    runs = {r.task_name: r for r in store.list_task_runs(flow_run_id=store.list_flow_runs()[0].id)}
    assert runs["queued"].state_type is StateType.CANCELLED
    # Cancelled while waiting for its slot, or by the flow's cancel reaching it first.
    assert any(text in (runs["queued"].state_message or "")
               for text in ("concurrency slot", "Flow run was cancelled"))
    wait_for(lambda: active_slots("db") == 0)


SCRIPT = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from orkest import flow, task
    from orkest.runners import ThreadPoolRunner

    log, count, seconds = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    started = Path(sys.argv[4]) if len(sys.argv) > 4 else None

    @task(tags=["db"])
    def query(i):
        if started is not None:
            started.touch()
        start = time.time()
        time.sleep(seconds)
        with log.open("a") as handle:
            handle.write(f"db {start!r} {time.time()!r}\\n")

    @flow(task_runner=ThreadPoolRunner(max_workers=count))
    def queries():
        for f in query.map(range(count)):
            f.result()

    queries()
''')


def run_script(tmp_path: Path, *args: str, lease: float | None = None) -> subprocess.Popen:
    script = tmp_path / "queries.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    if lease is not None:
        env["ORKEST_CONCURRENCY_LEASE_SECONDS"] = str(lease)
    return subprocess.Popen([sys.executable, str(script), *args], env=env)


def test_two_processes_together_never_exceed_the_limit(tmp_path: Path) -> None:
    set_limit("db", 2)
    log = tmp_path / "spans.txt"
    procs = [run_script(tmp_path, str(log), "4", "0.2") for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    spans = intervals(log)
    assert len(spans) == 8
    assert max_overlap(spans) <= 2
    assert active_slots("db") == 0


def test_a_killed_holders_slot_is_free_again_after_its_lease(tmp_path: Path) -> None:
    set_limit("db", 1)
    started = tmp_path / "started"
    holder = run_script(tmp_path, str(tmp_path / "spans.txt"), "1", "60", str(started),
                        lease=1.0)
    try:
        wait_for(started.exists)
        assert active_slots("db") == 1
        time.sleep(2.0)  # two leases: the live holder renews its slot
        assert active_slots("db") == 1
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)

    @task(tags=["db"])
    def query() -> str:
        return "got the slot"

    @flow(timeout_seconds=20)
    def after_kill() -> str:
        return query()

    began = time.monotonic()
    assert after_kill() == "got the slot"
    assert time.monotonic() - began < 5  # within about a lease (1 s) of the kill
    assert active_slots("db") == 0
