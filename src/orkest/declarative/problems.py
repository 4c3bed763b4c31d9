"""Problems found in a flow file, and the one error that reports all of them.

Every check (parsing, the pydantic models, the graph, templates, python targets) adds
`Problem`s with a field path; `raise_problems` turns them into a single FlowFileError whose
message has one line per problem: `file: tasks[1].depends_on[0] (line 14): what is wrong`.
A cycle raises FlowFileCycleError, both a FlowFileError and a CycleError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from orkest.errors import FlowFileCycleError, FlowFileError

FieldPath = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a flow file: where (field path) and what."""

    path: FieldPath
    message: str
    is_cycle: bool = False
    line: int | None = None  # when the path alone would point elsewhere (a duplicate key)


def format_path(path: Sequence[str | int]) -> str:
    """`("tasks", 1, "depends_on", 0)` -> `tasks[1].depends_on[0]`; odd keys are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def line_of(path: FieldPath, lines: Mapping[FieldPath, int]) -> int | None:
    """The line of `path`, or of its nearest ancestor the parser located."""
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def problem_line(problem: Problem, lines: Mapping[FieldPath, int]) -> int | None:
    return problem.line if problem.line is not None else line_of(problem.path, lines)


def describe(file: str, problem: Problem, lines: Mapping[FieldPath, int]) -> str:
    field = format_path(problem.path)
    line = problem_line(problem, lines)
    where = f"{file}: {field}" if field else file
    if line is not None:
        where += f" (line {line})"
    return f"{where}: {problem.message}"


def file_error(message: str, *, path: str, line: int | None = None) -> FlowFileError:
    """A FlowFileError for a file that cannot be read or parsed at all (one problem)."""
    return FlowFileError(message, path=path, line=line)


def raise_problems(file: str, problems: Iterable[Problem],
                   lines: Mapping[FieldPath, int]) -> None:
    """Raise one FlowFileError listing every problem (sorted by line); nothing if none."""
    unique: list[Problem] = []
    for problem in problems:
        if problem not in unique:
            unique.append(problem)
    if not unique:
        return
    ordered = sorted(unique, key=lambda p: problem_line(p, lines) or 0)
    texts = [describe(file, p, lines) for p in ordered]
    if len(texts) == 1:
        message = texts[0]
    else:
        message = f"{file}: {len(texts)} problems\n" + "\n".join(texts)
    first = ordered[0]
    cls = FlowFileCycleError if any(p.is_cycle for p in ordered) else FlowFileError
    raise cls(message, path=file, field=format_path(first.path) or None,
              line=problem_line(first, lines), problems=texts)
