"""The soak test's flow, written to the test's directory and deployed from there.

Twenty small tasks (a `.map` on the thread runner), and a journal kept outside orkest so
that the test can tell from the processes themselves whether a run ran twice at once:
each attempt takes a lock directory named after its flow run (os.mkdir is atomic),
writing its pid in it; an attempt that finds the lock held by a process still alive writes
an `overlap` line. A killed attempt leaves its lock behind with a dead pid in it, which
the next attempt takes over. Every attempt writes `start` and `end` lines with its pid
and the time, and every task a `task` line.
"""

from __future__ import annotations

from pathlib import Path

FLOW_NAME = "soak"
WIDTH = 20

SOURCE = '''
import os
import time
from pathlib import Path

from orkest import flow, task
from orkest.engine.context import current_flow_run
from orkest.runners import ThreadPoolRunner

DIR = Path({directory!r})
JOURNAL = DIR / "journal.txt"
LOCKS = DIR / "locks"


def note(*words):
    line = " ".join(str(w) for w in words) + "\\n"
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())  # one write of a short line: never interleaved
    finally:
        os.close(fd)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{{pid}}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] not in (b"Z", b"X")


def take_lock(run_id):
    lock = LOCKS / run_id
    try:
        os.mkdir(lock)
    except FileExistsError:
        holder_file = lock / "pid"
        holder = holder_file.read_text() if holder_file.exists() else ""
        if holder.isdigit() and alive(int(holder)):
            note("overlap", run_id, os.getpid(), holder, time.time())
        else:
            note("takeover", run_id, os.getpid(), holder or "?", time.time())
    (lock / "pid").write_text(str(os.getpid()))


def drop_lock(run_id):
    lock = LOCKS / run_id
    (lock / "pid").unlink()
    lock.rmdir()


@task
def square(i: int) -> int:
    time.sleep({task_seconds!r})
    note("task", current_flow_run().flow_run.id, os.getpid(), i, time.time())
    return i * i


@flow(name={flow_name!r}, retries=2, task_runner=ThreadPoolRunner(max_workers=4))
def soak(width: int = {width!r}) -> int:
    run_id = current_flow_run().flow_run.id
    take_lock(run_id)
    note("start", run_id, os.getpid(), time.time())
    total = sum(future.result() for future in square.map(range(width)))
    note("end", run_id, os.getpid(), time.time())
    drop_lock(run_id)
    return total
'''


def write_flow(directory: Path, task_seconds: float = 0.02) -> str:
    """Write the flow file into `directory`; its entrypoint (PATH:soak)."""
    (directory / "locks").mkdir(parents=True, exist_ok=True)
    path = directory / "soak_flow.py"
    path.write_text(SOURCE.format(directory=str(directory), task_seconds=task_seconds,
                                  flow_name=FLOW_NAME, width=WIDTH))
    return f"{path}:soak"
