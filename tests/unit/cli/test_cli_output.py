"""cli/output.py and cli/execution.py helpers: formatting, JSON, parameters, exits."""

from __future__ import annotations

import json

import pytest

from orkest.cli import output
from orkest.cli.execution import parse_params
from orkest.core.records import LogLine
from orkest.core.states import StateType


def test_exit_with_prints_one_line_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        output.exit_with("No flow run with id 'abcd'.", 1)
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "Error: No flow run with id 'abcd'.\n"


def test_json_of_records_uses_iso_times_and_values() -> None:
    line = LogLine("f", None, 0.5, 20, "orkest.run", "hi", "print", id=3)
    doc = output.jsonable([line])
    assert doc == [{"flow_run_id": "f", "task_run_id": None, "ts": "1970-01-01T00:00:00.500000Z",
                    "level": 20, "logger": "orkest.run", "message": "hi", "source": "print",
                    "id": 3}]
    assert output.jsonable({"t": StateType.FAILED, "s": {1}}) == {"t": "FAILED", "s": [1]}
    json.dumps(output.jsonable(object()))  # anything else becomes a string


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0.123, "0.12s"), (59.994, "59.99s"), (61, "1m 01s"), (3600 * 2 + 180, "2h 03m"),
])
def test_durations(seconds: float | None, text: str) -> None:
    assert output.fmt_duration(seconds) == text


def test_bytes_and_cpu() -> None:
    assert output.fmt_bytes(None) == "-"
    assert output.fmt_bytes(512) == "512 B"
    assert output.fmt_bytes(3 * 1024 * 1024) == "3.0 MiB"
    assert output.fmt_cpu(0.0125) == "0.013s"


def test_state_text_shows_the_type_when_the_name_differs() -> None:
    assert output.state_text(StateType.COMPLETED, "Completed").plain == "Completed"
    assert output.state_text(StateType.AWAITING_RETRY, "AwaitingRetry").plain == "AwaitingRetry"
    assert output.state_text(StateType.COMPLETED, "Recovered").plain == "Recovered (COMPLETED)"


def test_one_line_flattens_and_cuts() -> None:
    assert output.one_line("a\n  b") == "a b"
    assert output.one_line("x" * 50, 10) == "xxxxxxx..."
    assert output.one_line(None) == ""


def test_params_parse_as_json_else_text() -> None:
    assert parse_params(["n=3", "f=1.5", "ok=true", "none=null", "s=hello", "q=\"7\"",
                         "l=[1, 2]", "e=", "eq=a=b"]) == {
        "n": 3, "f": 1.5, "ok": True, "none": None, "s": "hello", "q": "7", "l": [1, 2],
        "e": "", "eq": "a=b"}


@pytest.mark.parametrize("bad", ["novalue", "=3"])
def test_params_need_key_and_value(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_params([bad])
    assert exc.value.code == 2
    assert "--param expects KEY=VALUE" in capsys.readouterr().err
