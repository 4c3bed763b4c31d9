"""run_shell: streamed output, env and cwd, exit codes, and killing the whole process group."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from pathlib import Path

import pytest

from orkest.errors import TaskTimeoutError
from orkest.operators._shell import ShellResult, run_shell


class Lines:
    """An on_line callback that records (stream, line) and signals the first line."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.first = threading.Event()
        self.threads: set[int] = set()

    def __call__(self, stream: str, line: str) -> None:
        self.seen.append((stream, line))
        self.threads.add(threading.get_ident())
        self.first.set()

    def of(self, stream: str) -> list[str]:
        return [line for s, line in self.seen if s == stream]


def gone(pid: int) -> bool:
    """No such process, or only its zombie (this container's init reaps orphans lazily)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def wait_gone(pid: int, within: float = 2.0) -> bool:
    end = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def kill_leftovers() -> list[int]:
    """Pids a test started; any still running at the end are killed, so none leak."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not gone(pid):
            os.kill(pid, 9)


# -- output ------------------------------------------------------------------------------


def test_lines_are_streamed_per_stream_in_order_in_the_calling_thread() -> None:
    lines = Lines()
    result = run_shell("for i in 1 2 3; do echo out$i; echo err$i >&2; done", on_line=lines)
    assert lines.of("stdout") == ["out1", "out2", "out3"]
    assert lines.of("stderr") == ["err1", "err2", "err3"]
    assert lines.threads == {threading.get_ident()}
    assert result == ShellResult(0, "out3", ("err1", "err2", "err3"))


def test_last_stdout_line_skips_blank_lines_and_keeps_an_unterminated_one() -> None:
    assert run_shell("echo first; echo last; echo; echo '   '").last_stdout_line == "last"
    assert run_shell("echo a; printf 'no newline'").last_stdout_line == "no newline"
    assert run_shell("echo only-stderr >&2").last_stdout_line is None


def test_non_zero_exit_code_and_the_stderr_tail() -> None:
    result = run_shell("for i in $(seq 1 30); do echo e$i >&2; done; exit 3")
    assert result.exit_code == 3
    assert result.stderr_tail == tuple(f"e{i}" for i in range(11, 31))


def test_a_shell_killed_by_a_signal_gives_a_negative_exit_code() -> None:
    assert run_shell("kill -TERM $$").exit_code == -15


def test_unicode_and_invalid_utf8_are_decoded() -> None:
    lines = Lines()
    run_shell(r"printf 'h\303\251llo \342\234\223\r\n'; printf 'bad \377 byte\n'",
              on_line=lines)
    assert lines.of("stdout") == ["héllo ✓", "bad \ufffd byte"]


def test_long_output_on_both_streams_is_streamed_completely() -> None:
    counts = {"stdout": 0, "stderr": 0}
    last: dict[str, str] = {}

    def count(stream: str, line: str) -> None:
        counts[stream] += 1
        assert int(line) == counts[stream]  # every line, in order
        last[stream] = line

    result = run_shell("seq 1 50000 >&2; seq 1 200000", on_line=count, timeout=60)
    assert counts == {"stdout": 200000, "stderr": 50000}
    assert result.last_stdout_line == "200000"


# -- environment and directory -----------------------------------------------------------


def test_env_none_inherits_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_SHELL_TEST", "inherited")
    assert run_shell('echo "$ORKEST_SHELL_TEST"').last_stdout_line == "inherited"


def test_env_replaces_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_SHELL_TEST", "inherited")
    result = run_shell('echo "A=$A HOME=$HOME X=$ORKEST_SHELL_TEST"', env={"A": "1"})
    assert result.last_stdout_line == "A=1 HOME= X="


def test_append_env_lays_env_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_SHELL_TEST", "inherited")
    monkeypatch.setenv("A", "old")
    result = run_shell('echo "A=$A X=$ORKEST_SHELL_TEST"', env={"A": "1"}, append_env=True)
    assert result.last_stdout_line == "A=1 X=inherited"


def test_a_non_string_env_value_is_a_type_error_naming_the_key() -> None:
    with pytest.raises(TypeError, match=r"env\['PORT'\] must be a str.*int"):
        run_shell("true", env={"PORT": 8080})  # type: ignore[dict-item]


def test_cwd(tmp_path: Path) -> None:
    assert run_shell("pwd -P", cwd=str(tmp_path)).last_stdout_line == str(tmp_path.resolve())


def test_a_bad_cwd_is_reported_before_starting(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="does not exist: .*nope"):
        run_shell(f"touch {tmp_path}/ran", cwd=str(missing))
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(NotADirectoryError, match="not a directory: .*file"):
        run_shell(f"touch {tmp_path}/ran", cwd=str(afile))
    assert not (tmp_path / "ran").exists()


# -- stopping the command ----------------------------------------------------------------

BACKGROUND_AND_WAIT = "sleep 300 & echo $!; echo $$; sleep 30"


def test_timeout_kills_the_whole_process_group(kill_leftovers: list[int]) -> None:
    lines = Lines()
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError, match=r"timed out after 0.5 s.*sleep 300 &"):
        run_shell(BACKGROUND_AND_WAIT, on_line=lines, timeout=0.5, kill_grace=0.5)
    assert time.monotonic() - start < 3
    grandchild, shell = map(int, lines.of("stdout"))
    kill_leftovers.extend([grandchild, shell])
    assert wait_gone(grandchild) and wait_gone(shell)


def test_sigkill_follows_when_sigterm_is_ignored(kill_leftovers: list[int]) -> None:
    lines = Lines()
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError):
        run_shell("trap '' TERM; sleep 300 & echo $!; sleep 30", on_line=lines, timeout=0.3,
                  kill_grace=0.3)
    assert time.monotonic() - start < 3
    (grandchild,) = map(int, lines.of("stdout"))
    kill_leftovers.append(grandchild)
    assert wait_gone(grandchild)


def test_an_exception_in_on_line_kills_the_command_and_propagates(
        kill_leftovers: list[int]) -> None:
    class Stop(BaseException):
        pass

    pids: list[int] = []

    def on_line(stream: str, line: str) -> None:
        pids.append(int(line))
        if len(pids) == 2:
            raise Stop

    start = time.monotonic()
    with pytest.raises(Stop):
        run_shell(BACKGROUND_AND_WAIT, on_line=on_line, kill_grace=0.5)
    assert time.monotonic() - start < 3
    kill_leftovers.extend(pids)
    assert all(wait_gone(pid) for pid in pids)


def test_an_async_exception_in_the_caller_thread_stops_the_command_promptly(
        kill_leftovers: list[int]) -> None:
    class Injected(Exception):
        pass

    lines = Lines()
    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            run_shell(BACKGROUND_AND_WAIT, on_line=lines, kill_grace=0.5)
        except BaseException as exc:  # recorded for the assertion below
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    assert lines.first.wait(5)
    time.sleep(0.2)  # the caller is now waiting on a silent command
    start = time.monotonic()
    delivered = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                           ctypes.py_object(Injected))
    assert delivered == 1
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - start < 3
    assert len(outcome) == 1 and isinstance(outcome[0], Injected)
    pids = [int(line) for line in lines.of("stdout")]
    kill_leftovers.extend(pids)
    assert len(pids) == 2 and all(wait_gone(pid) for pid in pids)


def test_a_background_process_holding_stdout_does_not_hang_the_caller(
        kill_leftovers: list[int]) -> None:
    lines = Lines()
    start = time.monotonic()
    result = run_shell("sleep 300 & echo $!; echo done; exit 4", on_line=lines,
                       kill_grace=0.5)
    assert time.monotonic() - start < 4
    assert result.exit_code == 4  # the shell's own code, not the kill's
    assert result.last_stdout_line == "done"
    grandchild = int(lines.of("stdout")[0])
    kill_leftovers.append(grandchild)
    assert wait_gone(grandchild)


def test_a_redirected_background_process_does_not_delay_the_result(
        kill_leftovers: list[int]) -> None:
    lines = Lines()
    start = time.monotonic()
    result = run_shell("sleep 300 >/dev/null 2>&1 & echo $!", on_line=lines)
    assert time.monotonic() - start < 0.9
    assert result.exit_code == 0
    kill_leftovers.append(int(lines.of("stdout")[0]))


def test_timeout_still_applies_after_the_command_closes_its_output() -> None:
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError):
        run_shell("exec >&- 2>&-; sleep 30", timeout=0.3, kill_grace=0.3)
    assert time.monotonic() - start < 2
    assert run_shell("exec >&- 2>&-; sleep 0.1; exit 5").exit_code == 5
