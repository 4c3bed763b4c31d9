"""BashOperator: a shell command in its own process group, its output in the run's logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orkest.dag.baseoperator import BaseOperator
from orkest.errors import CommandFailed, TaskSkipped

STDERR_LINES_IN_ERROR = 10


class BashOperator(BaseOperator):
    """Runs `bash_command` (a Jinja template) with `bash -c`.

    stdout and stderr go to the run's logs line by line (sources "stdout"/"stderr"); the
    last stdout line is the XCom return_value; an exit code in `skip_on_exit_code`
    (default 99) ends the task SKIPPED; any other non-zero code fails it with the code and
    the last stderr lines. A timeout or a cancel kills the command's whole process group.
    """

    template_fields: Sequence[str] = ("bash_command", "env", "cwd")
    ui_color = "#f0ede4"

    def __init__(self, task_id: str, bash_command: str, env: Mapping[str, str] | None = None,
                 append_env: bool = False, cwd: str | None = None,
                 skip_on_exit_code: int | Iterable[int] | None = 99,
                 **kwargs: Any) -> None:
        if not isinstance(bash_command, str) or not bash_command.strip():
            raise ValueError(f"Task {task_id!r}: bash_command must be a non-empty string")
        if env is not None and not isinstance(env, Mapping):
            raise TypeError(f"Task {task_id!r}: env must be a dict of strings, not {env!r}")
        super().__init__(task_id=task_id, **kwargs)
        self.bash_command = bash_command
        self.env = dict(env) if env is not None else None
        self.append_env = append_env
        self.cwd = cwd
        if skip_on_exit_code is None:
            self.skip_on_exit_code: frozenset[int] = frozenset()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = frozenset({skip_on_exit_code})
        else:
            self.skip_on_exit_code = frozenset(skip_on_exit_code)

    def execute(self, context: dict[str, Any]) -> str | None:
        from orkest.operators._shell import run_shell

        log = context["log"]
        log.info("Running command: %s", self.bash_command)

        def on_line(stream: str, line: str) -> None:
            log.info("%s", line, extra={"orkest_source": stream})

        result = run_shell(self.bash_command, env=self.env, append_env=self.append_env,
                           cwd=self.cwd, on_line=on_line)
        if result.exit_code in self.skip_on_exit_code:
            raise TaskSkipped(f"Command exited with code {result.exit_code}, which is in "
                              f"skip_on_exit_code; task skipped")
        if result.exit_code != 0:
            tail = list(result.stderr_tail)[-STDERR_LINES_IN_ERROR:]
            detail = ("; last stderr lines:\n" + "\n".join(tail)) if tail else \
                " (no stderr output)"
            raise CommandFailed(f"Command failed with exit code {result.exit_code}{detail}",
                                result.exit_code)
        return result.last_stdout_line
