"""Loading a flow file: parse, check against the models and the cross-field rules, report.

Both kinds of check run on every load and their problems are reported together, one per
line, in one FlowFileError (see problems.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from orkest.declarative.problems import Problem, raise_problems
from orkest.declarative.source import FlowSource, read_source

if TYPE_CHECKING:
    from orkest.declarative.build import FlowFileDag
    from orkest.declarative.spec import FlowSpec

_SHORT = 60


def load_flow_spec(path: str | Path) -> FlowSpec:
    """The validated contents of a flow file; FlowFileError lists every problem found."""
    return validate(read_source(path))


def load_flow(path: str | Path) -> FlowFileDag:
    """A runnable DAG from a flow file: `load_flow("etl.yaml").test(params={...})`."""
    from orkest.declarative.build import build_dag

    source = read_source(path)
    return build_dag(validate(source), source.path)


def validate(source: FlowSource) -> FlowSpec:
    """The FlowSpec of a parsed file, or FlowFileError naming every problem."""
    from pydantic import ValidationError

    from orkest.declarative.checks import check_document
    from orkest.declarative.spec import FlowSpec

    problems = [*source.problems, *check_document(source)]
    spec: FlowSpec | None = None
    if isinstance(source.data, dict):
        try:
            spec = FlowSpec.model_validate(source.data)
        except ValidationError as exc:
            problems.extend(_from_pydantic(error) for error in exc.errors())
    raise_problems(source.label, problems, source.lines)
    assert spec is not None  # no problems means the models accepted the data
    return spec


def _from_pydantic(error: Any) -> Problem:
    """One pydantic error as a Problem with a flow-file path and a plain message."""
    loc = tuple(part for part in error["loc"] if part != "[key]")
    kind = error["type"]
    if kind == "missing":
        return Problem(loc, "required field is missing")
    if kind == "extra_forbidden":
        return Problem(loc, _unknown_key(loc))
    message = str(error["msg"])
    if message.startswith("Value error, "):
        return Problem(loc, message[len("Value error, "):])
    if kind == "string_pattern_mismatch":
        message = _pattern_message(loc) or message
    got = error.get("input")
    hint = ""
    if kind in ("enum", "literal_error") and isinstance(got, str):
        import difflib
        import re

        choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        close = difflib.get_close_matches(got, choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
    return Problem(loc, f"{message} (got {_short(got)}){hint}")


def _unknown_key(loc: tuple) -> str:
    import difflib

    from orkest.declarative.spec import MODELS_BY_DEPTH, allowed_keys

    key = str(loc[-1])
    model = MODELS_BY_DEPTH.get((loc[0] if len(loc) > 1 else None, len(loc)))
    if model is None:
        return f"unknown field {key!r}"
    allowed = allowed_keys(model)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field {key!r}; did you mean {close[0]!r}?"
    return f"unknown field {key!r}; allowed here: {', '.join(sorted(allowed))}"


def _pattern_message(loc: tuple) -> str | None:
    field = loc[-1] if loc else None
    if field == "id":
        return "a task id may use only letters, digits, '_', '-' and '.'"
    if field == "name":
        return "a flow name is 1-250 letters, digits, '_', '-' or '.'"
    if field == "python":
        return "expected module:function, such as mypkg.etl:transform"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHORT else text[:_SHORT - 3] + "..."
