"""The live view of a flow run while `orkest run` drives it in this process.

The recorder calls our listener with every run snapshot, from whatever thread changed
the run; the listener only files the (shared, mutable) record under its id, so the hot
path pays a dict store. Drawing happens elsewhere, at most a few times a second: rich's
Live thread on a terminal, or a small printer thread emitting one plain line per change
when stdout is a pipe or a file.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from orkest.cli.output import fmt_clock, fmt_duration, one_line, retries_used, state_text

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from orkest.core.records import FlowRun

REFRESH_PER_SECOND = 4
PLAIN_INTERVAL = 0.5
MAX_LIVE_ROWS = 15
# Past this many task lines, plain mode prints only problems (a 10k-task map stays readable).
MAX_PLAIN_LINES = 200

_ORDER = {"RUNNING": 0, "AWAITING_RETRY": 1, "CANCELLING": 2, "PAUSED": 3, "PENDING": 4,
          "SCHEDULED": 5}
_PROBLEMS = {"FAILED", "CRASHED", "CANCELLED"}
_EXPLAINED = _PROBLEMS | {"AWAITING_RETRY"}


class RunProgress:
    """Use as a context manager around the engine call; `listener` goes to the recorder."""

    def __init__(self, flow_run: FlowRun, console: Console, recorder: Any,
                 live: bool | None = None) -> None:
        self.flow_run = flow_run
        self.console = console
        self.recorder = recorder
        self.live = console.is_terminal if live is None else live
        self._lock = threading.Lock()
        self._flows: set[str] = {flow_run.id}  # ours and its subflows
        self._tasks: dict[str, Any] = {}
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._printer: threading.Thread | None = None
        self._live: Any = None
        self._printed: dict[str, tuple[str, ...]] = {}
        self._plain_lines = 0

    # -- fed by the recorder (any thread; must stay cheap and never raise) -------------
    def listener(self, kind: str, run: Any) -> None:
        if kind == "task":
            if run.flow_run_id in self._flows:
                with self._lock:
                    self._tasks[run.id] = run
        elif kind == "flow" and run.parent_flow_run_id in self._flows:
            self._flows.add(run.id)

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> RunProgress:
        self.recorder.add_listener(self.listener)
        if self.live:
            from rich.live import Live

            self._live = Live(get_renderable=self._render, console=self.console,
                              refresh_per_second=REFRESH_PER_SECOND, transient=True,
                              redirect_stdout=True, redirect_stderr=True)
            self._live.start()
        else:
            self._printer = threading.Thread(target=self._print_loop, daemon=True,
                                             name="orkest-cli-progress")
            self._printer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.recorder.remove_listener(self.listener)
        self._stop.set()
        if self._live is not None:
            self._live.stop()
        if self._printer is not None:
            self._printer.join(timeout=2)
            self._emit_plain()

    # -- terminal: a table redrawn by rich's Live thread -------------------------------
    def _snapshot(self) -> list[Any]:
        with self._lock:
            return list(self._tasks.values())

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table

        runs = self._snapshot()
        counts: dict[str, int] = {}
        for run in runs:
            key = run.state_type.value
            counts[key] = counts.get(key, 0) + 1
        flow = self.flow_run
        summary = ", ".join(f"{n} {k.lower().replace('_', ' ')}"
                            for k, n in sorted(counts.items()))
        elapsed = fmt_duration(time.monotonic() - self._started)
        head = Spinner("dots", text=f"Flow run {flow.name}: {flow.state_name}, {elapsed}"
                                    f" - {len(runs)} task run(s){': ' if runs else ''}{summary}")
        now = time.time()
        runs.sort(key=lambda r: (_ORDER.get(r.state_type.value, 9), -r.state_ts))
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("Task run")
        table.add_column("State")
        table.add_column("Duration", justify="right")
        table.add_column("Retries", justify="right")
        for run in runs[:MAX_LIVE_ROWS]:
            start, end = run.start_ts, run.end_ts
            duration = None if start is None else (end or now) - start
            table.add_row(run.name, state_text(run.state_type, run.state_name),
                          fmt_duration(duration), str(retries_used(run)))
        if len(runs) > MAX_LIVE_ROWS:
            table.add_row(f"... {len(runs) - MAX_LIVE_ROWS} more", "", "", "")
        parts: list[Any] = [head]
        hint = _flow_hint(flow)
        if hint:
            parts.append(hint.lstrip(": "))
        if runs:
            parts.append(table)
        return Group(*parts)

    # -- pipe or file: one line per change, a few times a second -----------------------
    def _print_loop(self) -> None:
        while not self._stop.wait(PLAIN_INTERVAL):
            self._emit_plain()

    def _emit_plain(self) -> None:
        lines: list[tuple[float, str]] = []
        with self._lock:
            runs = list(self._tasks.values())
        flow = self.flow_run
        flow_seen = (flow.state_type.value, flow.state_name, flow.state_message or "")
        if self._printed.get(flow.id) != flow_seen:
            self._printed[flow.id] = flow_seen
            if flow_seen[0] != "PENDING":
                lines.append((flow.state_ts, f"{fmt_clock(flow.state_ts)}  flow run {flow.name}"
                                             f"  {flow.state_name}{_flow_hint(flow)}"))
        for run in runs:
            seen = (run.state_type.value, run.state_name)
            if self._printed.get(run.id) == seen or seen[0] in ("PENDING", "SCHEDULED"):
                continue
            self._printed[run.id] = seen
            if self._plain_lines >= MAX_PLAIN_LINES and seen[0] not in _PROBLEMS:
                continue
            self._plain_lines += 1
            message = f": {one_line(run.state_message)}" if seen[0] in _EXPLAINED \
                and run.state_message else ""
            lines.append((run.state_ts, f"{fmt_clock(run.state_ts)}  {run.name}  "
                                        f"{run.state_name}{message}"))
            if self._plain_lines == MAX_PLAIN_LINES:
                lines.append((run.state_ts, "... more task runs: only failures are printed "
                                            "from now on"))
        lines.sort(key=lambda item: item[0])
        if lines:
            try:
                sys.stdout.write("".join(line + "\n" for _, line in lines))
                sys.stdout.flush()
            except (OSError, ValueError):  # a closed pipe must not break the run
                pass


def _flow_hint(flow: FlowRun) -> str:
    """What a person watching should know about the flow run's own state."""
    if flow.state_type.value == "PAUSED":
        return (f": {one_line(flow.state_message) or 'paused'} - resume with: "
                f"orkest flow-run resume {flow.id}")
    if flow.state_type.value in ("AWAITING_RETRY", "CANCELLING") and flow.state_message:
        return f": {one_line(flow.state_message)}"
    return ""
