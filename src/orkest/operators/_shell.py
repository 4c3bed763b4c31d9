"""Running one shell command for an operator: streamed lines, and no process left behind.

The command runs in a session of its own, so "the command" means its whole process group:
a timeout, a cancel or any exception in the caller kills the group (SIGTERM, a grace
period, SIGKILL), grandchildren included.

Two reader threads only move bytes from the pipes onto a queue. The calling thread takes
the lines off the queue and calls `on_line` itself, waking at least every 0.1 s: the
callback runs where the run's logging context is, and the caller stays in Python code, so
an exception the engine injects into it (task timeout, flow cancellation) or a
KeyboardInterrupt lands within a tenth of a second even while the command is silent.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from orkest._internal.masking import mask
from orkest.errors import TaskTimeoutError

STDERR_TAIL_LINES = 20
DRAIN_AFTER_EXIT = 1.0  # seconds to keep reading once the shell has exited
_POLL = 0.1  # longest the caller waits without running Python code
_CHUNK = 65536
_MAX_LINE = 1 << 20  # a longer line without a newline is passed on in pieces
_QUEUED_CHUNKS = 256  # back-pressure: a slow on_line makes the command wait, not memory grow
_READER_JOIN = 2.0


@dataclass(frozen=True)
class ShellResult:
    """How a command ended; the output itself went to `on_line`."""

    exit_code: int  # negative signal number if the shell was killed by a signal
    last_stdout_line: str | None  # last stdout line that is not blank, without its newline
    stderr_tail: tuple[str, ...]  # the last STDERR_TAIL_LINES lines of stderr


def run_shell(command: str, *, env: Mapping[str, str] | None = None, append_env: bool = False,
              cwd: str | None = None, on_line: Callable[[str, str], None] | None = None,
              timeout: float | None = None, kill_grace: float = 5.0) -> ShellResult:
    """Run `command` with `bash -c` (`/bin/sh -c` without bash) and wait for it.

    env: None inherits os.environ; a mapping replaces it entirely, or is laid over
    os.environ with `append_env=True` (Airflow's semantics). `on_line(stream, line)` gets
    every line of "stdout" and "stderr" in order within each stream. A `timeout` raises
    TaskTimeoutError; it, and any exception while the command runs (one raised by
    `on_line` or injected into this thread), first kills the process group.

    A background process that keeps the pipes open after the shell exits would make
    reading wait forever: output is read for DRAIN_AFTER_EXIT more seconds, then the
    process group is killed (a task must not leave processes behind) and the shell's own
    exit code is returned. A background process with its output redirected elsewhere is
    left running when the shell ends on its own, as in Airflow.
    """
    if not isinstance(command, str):
        raise TypeError(f"command must be a str, not {type(command).__name__}")
    child_env = _child_env(env, append_env)
    _check_cwd(cwd)
    shell = shutil.which("bash") or "/bin/sh"
    proc = subprocess.Popen([shell, "-c", command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                            env=child_env, cwd=cwd, start_new_session=True)
    run = _Run(proc, on_line)
    try:
        run.start_readers()
        exit_code = run.supervise(command, timeout, kill_grace)
    except BaseException:
        _kill_group(proc, kill_grace)
        raise
    finally:
        run.finish_readers()
    # The last line becomes an XCom (a stored result, which is not masked as a whole): the
    # command's output is text about the run, so a registered secret in it is masked here.
    last = run.last_stdout_line
    return ShellResult(exit_code, mask(last) if last else last,
                       tuple(mask(line) for line in run.stderr_tail))


def _child_env(env: Mapping[str, str] | None, append_env: bool) -> dict[str, str] | None:
    if env is None:
        return None
    for key, value in env.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"env[{key!r}] must be a str mapped to a str, not "
                            f"{type(value).__name__} ({value!r}); convert it with str()")
    return {**os.environ, **env} if append_env else dict(env)


def _check_cwd(cwd: str | None) -> None:
    if cwd is None:
        return
    if not os.path.exists(cwd):
        raise FileNotFoundError(f"Working directory for the command does not exist: {cwd!r}")
    if not os.path.isdir(cwd):
        raise NotADirectoryError(f"Working directory for the command is not a directory: "
                                 f"{cwd!r}")


class _Run:
    """The state of one command: its pipes' readers, the queue, what was seen so far."""

    def __init__(self, proc: subprocess.Popen[bytes], on_line: Callable[[str, str], None] | None
                 ) -> None:
        self.proc = proc
        self.on_line = on_line
        self.lines: queue.Queue[tuple[str, list[str] | None]] = queue.Queue(_QUEUED_CHUNKS)
        self.readers: list[threading.Thread] = []
        self.open_streams = 0
        self.last_stdout_line: str | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    def start_readers(self) -> None:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            reader = threading.Thread(target=_read, args=(pipe, stream, self.lines),
                                      name=f"orkest-shell-{stream}-{self.proc.pid}",
                                      daemon=True)
            self.open_streams += 1
            reader.start()
            self.readers.append(reader)

    def supervise(self, command: str, timeout: float | None, kill_grace: float) -> int:
        """Pass lines on until both pipes close and the shell exits; its exit code.

        Every wait is at most _POLL long (never a bare `proc.wait()`, which blocks in C),
        so the timeout and exceptions aimed at this thread are seen in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        exited_at: float | None = None
        while self.open_streams or exited_at is None:
            if self.open_streams:
                self.pump(_POLL)
            else:  # the shell closed its output but runs on
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(_POLL)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise TaskTimeoutError(f"Command timed out after {timeout:g} s and was "
                                       f"killed: {command[:200]!r}")
            if exited_at is None:
                if self.proc.poll() is not None:
                    exited_at = now
            elif now - exited_at >= DRAIN_AFTER_EXIT:
                _kill_group(self.proc, kill_grace)  # a background process holds the pipes
                end = time.monotonic() + DRAIN_AFTER_EXIT
                while self.open_streams and time.monotonic() < end:
                    self.pump(_POLL)
                break
        return self.proc.wait()  # already reaped: returns at once

    def pump(self, wait: float) -> None:
        """Hand the next chunk of lines to on_line, waiting at most `wait` seconds for it."""
        try:
            stream, lines = self.lines.get(timeout=wait)
        except queue.Empty:
            return
        if lines is None:
            self.open_streams -= 1
            return
        for line in lines:
            if stream == "stdout":
                if line.strip():
                    self.last_stdout_line = line
            else:
                self.stderr_tail.append(line)
            if self.on_line is not None:
                self.on_line(stream, line)

    def finish_readers(self) -> None:
        """Let the readers end, discarding what nobody will read (they may be blocked on put).

        A reader whose pipe is held open by a process outside our group (one that started
        its own session) is left behind as a daemon thread rather than waited for.
        """
        end = time.monotonic() + _READER_JOIN
        while any(r.is_alive() for r in self.readers) and time.monotonic() < end:
            while True:
                try:
                    self.lines.get_nowait()
                except queue.Empty:
                    break
            for reader in self.readers:
                reader.join(0.02)


def _read(pipe: IO[bytes], stream: str, lines: queue.Queue[tuple[str, list[str] | None]]
          ) -> None:
    """Reader thread: whole lines, in chunks as they arrive, then (stream, None) at EOF."""
    pending = b""
    try:
        while chunk := pipe.read(_CHUNK):
            *complete, pending = (pending + chunk).split(b"\n")
            if len(pending) > _MAX_LINE:
                complete.append(pending)
                pending = b""
            if complete:
                lines.put((stream, [_decode(raw) for raw in complete]))
        if pending:
            lines.put((stream, [_decode(pending)]))
    except (OSError, ValueError):
        pass  # the pipe broke or was closed: end of this stream either way
    finally:
        lines.put((stream, None))
        pipe.close()


def _decode(raw: bytes) -> str:
    # Splitting at b"\n" never cuts a UTF-8 character, so lines decode independently.
    return raw.removesuffix(b"\r").decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace` s; reap the shell."""
    gone = False
    try:
        if _signal_group(proc.pid, signal.SIGTERM):
            gone = _wait_group(proc, grace)
        else:
            gone = True
    finally:
        if not gone:
            _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=grace + 5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
            pass


def _signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to the group; False if no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _wait_group(proc: subprocess.Popen[bytes], grace: float) -> bool:
    """Whether every process of the group ended within `grace` seconds."""
    end = time.monotonic() + grace
    while True:
        proc.poll()  # reap the shell, so that it does not count as alive
        if not _group_alive(proc.pid):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies do not count.

    An orphaned grandchild is reparented to PID 1, and some container inits never reap:
    its zombie would keep `killpg(pgid, 0)` succeeding, so on Linux /proc is read instead.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return _signal_group(pgid, 0)
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False
