"""Child processes of a worker: start one per flow run, watch it, signal its group.

A child runs in its own process group (so a Ctrl-C at the worker's terminal does not reach
it, and a signal to the group reaches the tasks it started), and on Linux asks the kernel
to kill it when its parent dies (PR_SET_PDEATHSIG): a worker killed with `kill -9` leaves
no run going on behind the reaper's back.

Two ways to start a child:
- "fork" (the default where os.fork exists): the worker has imported orkest, the engine
  and the store already, so the child starts in milliseconds instead of paying Python's
  start-up and imports again (about 350 ms). The worker forks from its only thread.
- "spawn": `python -m orkest.worker.execute FLOW_RUN_ID`, a fresh interpreter. Used where
  fork does not exist, when the worker has other threads, or when asked for.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

PR_SET_PDEATHSIG = 1
START_METHODS = ("fork", "spawn")
PARENT_PID_ENV = "ORKEST_WORKER_PID"


# What a child needs to run a flow, imported once by the worker so that forks start warm.
PRELOAD = ("orkest.engine", "orkest.engine.flow_run", "orkest.engine.task_run",
           "orkest.engine.results", "orkest.runners.threads", "orkest.services.deployments",
           "orkest.services.reaper", "orkest.worker.execute", "orkest.worker.loading",
           "orkest.dag", "cloudpickle", "pydantic", "pydantic.fields", "pydantic.types",
           "pydantic.type_adapter", "pydantic.main")


def preload() -> None:
    """Import what children use (none of it starts a thread), for forking warm."""
    import importlib

    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    try:  # pydantic scans entry points for plugins on first validation: once, here
        from pydantic.plugin._loader import get_plugins

        get_plugins()
    except Exception:  # noqa: BLE001, S110 - only a warm-up
        pass


def die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; elsewhere a no-op).

    If the parent is already gone (it died before we asked), exit at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def default_start_method() -> str:
    return "fork" if hasattr(os, "fork") else "spawn"


@dataclass
class Child:
    """One flow run's process, as the worker sees it."""

    flow_run_id: str
    flow_run_name: str
    pid: int
    started: float = field(default_factory=time.monotonic)
    popen: subprocess.Popen | None = None
    exit_code: int | None = None
    cancel_seen: float | None = None  # monotonic time the worker saw a cancel request
    finished_seen: float | None = None  # ... saw the run finished while the process lives
    term_sent: float | None = None
    kill_sent: float | None = None

    def poll(self) -> int | None:
        """The exit code once the process has ended (negative: killed by that signal)."""
        if self.exit_code is not None:
            return self.exit_code
        if self.popen is not None:
            self.exit_code = self.popen.poll()
            return self.exit_code
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.exit_code = -1
            return self.exit_code
        if pid == 0:
            return None
        self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the child's process group (the child and what it started)."""
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def terminate(self, now: float) -> None:
        self.term_sent = now
        self.signal_group(signal.SIGTERM)

    def kill(self, now: float) -> None:
        self.kill_sent = now
        self.signal_group(signal.SIGKILL)


def start_child(flow_run_id: str, flow_run_name: str, method: str) -> Child:
    """Start the process that runs `flow_run_id` (claimed PENDING by this worker)."""
    if method == "fork" and hasattr(os, "fork") and threading.active_count() == 1:
        return Child(flow_run_id, flow_run_name, _fork(flow_run_id))
    env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
    popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "orkest.worker.execute", flow_run_id],
        env=env, start_new_session=True, stdin=subprocess.DEVNULL)
    return Child(flow_run_id, flow_run_name, popen.pid, popen=popen)


def _fork(flow_run_id: str) -> int:
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        try:
            os.setpgid(pid, pid)  # also done in the child: whichever runs first wins
        except OSError:
            pass
        return pid
    code = 70  # EX_SOFTWARE: the child failed before it could say anything better
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        die_with_parent(parent)
        from orkest.worker.execute import run_in_forked_child

        code = run_in_forked_child(flow_run_id)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a forked child must never return into the worker
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)
