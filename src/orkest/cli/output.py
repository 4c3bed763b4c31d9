"""How every verb talks: the one exit helper, rich consoles, JSON, and value formatting.

Human output goes through rich (tables, colours); `--json` output is plain `json.dumps`
written straight to stdout, so nothing (wrapping, markup, a stray notice) can corrupt it.
Errors always go to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from rich.console import Console

# Exit codes shared by every verb (docs/cli.md lists them).
EXIT_OK = 0
EXIT_FAILED = 1  # the run did not complete, an id is unknown, an action was refused
EXIT_USAGE = 2  # bad arguments, unknown target or flow, invalid parameters or input
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM

# Without a terminal, rich would wrap tables at 80 columns and cut ids and names.
_PIPE_WIDTH = 200

_STATE_STYLES = {
    "SCHEDULED": "dim",
    "PENDING": "dim",
    "RUNNING": "bold blue",
    "AWAITING_RETRY": "yellow",
    "PAUSED": "bold yellow",
    "CANCELLING": "magenta",
    "COMPLETED": "green",
    "FAILED": "bold red",
    "CRASHED": "bold red",
    "CANCELLED": "magenta",
    "SKIPPED": "dim",
}

_consoles: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """The rich console for stdout (or stderr), made on first use."""
    found = _consoles.get(stderr)
    stream = sys.stderr if stderr else sys.stdout
    # A test runner or a Live display may have swapped the stream: follow it.
    if found is None or found.file is not stream:
        from rich.console import Console

        found = Console(file=stream, highlight=False, soft_wrap=False)
        if not found.is_terminal:
            found = Console(file=stream, highlight=False, soft_wrap=False, width=_PIPE_WIDTH)
        _consoles[stderr] = found
    return found


def exit_with(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print one clear line to stderr and leave with `code`: the only way verbs fail."""
    sys.stdout.flush()
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def print_json(value: Any) -> None:
    """Machine output: JSON and nothing else."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def jsonable(value: Any) -> Any:
    """Records and containers as JSON-ready values; `ts`, `*_ts` fields become ISO-8601 UTC."""
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for field in fields(value):
            item = getattr(value, field.name)
            is_time = field.name == "ts" or field.name.endswith("_ts")
            if is_time and isinstance(item, int | float):
                out[field.name] = iso(item)
            else:
                out[field.name] = jsonable(item)
        duration = getattr(value, "duration", None)
        if isinstance(duration, int | float):
            out["duration"] = round(duration, 6)
        return out
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def fmt_time(ts: float | None) -> str:
    """Local wall-clock time, as a person reading a table wants it."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    stamp = datetime.fromtimestamp(ts).astimezone()
    return stamp.strftime("%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop always returns


def fmt_cpu(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f}s"


def short_id(run_id: str | None) -> str:
    """Eight characters: a unique prefix in practice, and every id argument accepts it."""
    return "-" if run_id is None else run_id[:8]


def retries_used(run: Any) -> int:
    return max(0, (run.run_count or 0) - 1)


def state_text(state_type: Any, state_name: str | None = None) -> Any:
    """A run's state for a table: its name, coloured by its type ("Recovered" in green)."""
    from rich.text import Text

    type_value = getattr(state_type, "value", str(state_type))
    label = state_name or type_value
    if state_name and state_name.upper() != type_value.replace("_", ""):
        label = f"{state_name} ({type_value})"
    return Text(label, style=_STATE_STYLES.get(type_value, ""))


def one_line(text: str | None, limit: int = 160) -> str:
    """`text` on one line, cut at `limit`; a secret this process read is shown as ***
    (`orkest run` prints the live run's messages, which are masked only when stored)."""
    if not text:
        return ""
    from orkest._internal.masking import mask

    flat = " ".join(mask(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def plain(text: Any) -> Any:
    """User text for a rich table cell, never read as markup ("[Errno 2]" stays as is)."""
    from rich.text import Text

    return Text("-" if text is None else str(text))
