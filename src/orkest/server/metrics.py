"""Prometheus metrics in the text format (0.0.4), written by hand: no client library needed.

    orkest_flow_runs{state="..."}         gauge, counted in the store at each scrape
    orkest_flow_run_duration_seconds      histogram of finished flow runs
    orkest_task_run_duration_seconds      histogram of finished task runs
    orkest_active_workers                 gauge, 0 until workers exist (issue #5)

Histograms count each finished run once (by id). They learn of runs three ways: the
batches and state changes that pass through this API; at start-up, the newest
SEED_RUNS finished runs of each kind already in the database; and at each scrape, the
newest finished runs written to the database directly (engines without ORKEST_API_URL).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from orkest.core.ports import RunStore
from orkest.core.records import FlowRun, TaskRun, WriteBatch
from orkest.core.states import TERMINAL_TYPES, StateType

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                300.0, 900.0, 3600.0)
FLOW_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
                21600.0, 86400.0)
SEED_RUNS = 10_000
SCRAPE_RUNS = 5_000
_PAGE = 1_000
_REMEMBERED = 200_000  # ids of counted runs kept per kind, to count each run once
_FINISHED = sorted(TERMINAL_TYPES)

log = logging.getLogger("orkest.server")


class Histogram:
    """Cumulative buckets, sum and count, as Prometheus wants them."""

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help_text, self.bounds = name, help_text, buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.sum += value

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} histogram"]
        total = 0
        for bound, count in zip((*map(_number, self.bounds), "+Inf"), self.counts,
                                strict=True):
            total += count
            out.append(f'{self.name}_bucket{{le="{bound}"}} {total}')
        out.append(f"{self.name}_sum {_number(self.sum)}")
        out.append(f"{self.name}_count {total}")
        return out


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{int(value)}.0"


class ServerMetrics:
    """The histograms of one server process, fed from writes, the start-up seed and scrapes."""

    def __init__(self) -> None:
        self.flow_durations = Histogram("orkest_flow_run_duration_seconds",
                                        "Duration of finished flow runs.", FLOW_BUCKETS)
        self.task_durations = Histogram("orkest_task_run_duration_seconds",
                                        "Duration of finished task runs.", TASK_BUCKETS)
        self._seen: dict[type, OrderedDict[str, None]] = {FlowRun: OrderedDict(),
                                                          TaskRun: OrderedDict()}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def observe_run(self, run: FlowRun | TaskRun) -> bool:
        """Count a finished run once; whether it was new."""
        if run.state_type not in TERMINAL_TYPES:
            return False
        seen = self._seen[type(run)]
        with self._lock:
            if run.id in seen:
                return False
            seen[run.id] = None
            if len(seen) > _REMEMBERED:
                seen.popitem(last=False)
            duration = run.duration
            if duration is not None and duration >= 0:
                histogram = (self.flow_durations if isinstance(run, FlowRun)
                             else self.task_durations)
                histogram.observe(duration)
        return True

    def observe_batch(self, batch: WriteBatch) -> None:
        for runs in (batch.flow_runs.values(), batch.task_runs.values()):
            for run in runs:
                if run.state_type in TERMINAL_TYPES:
                    self.observe_run(run)

    def catch_up(self, store: RunStore, most: int) -> None:
        """Count the newest finished runs in the store, up to `most` of each kind, stopping
        early at a page that holds nothing new (what comes after was counted before)."""
        self._catch_up(lambda n, o: store.list_flow_runs(state_types=_FINISHED, limit=n,
                                                         offset=o), most)
        self._catch_up(lambda n, o: store.list_task_runs(state_types=_FINISHED, limit=n,
                                                         offset=o), most)

    def _catch_up(self, fetch: Callable[[int, int], Iterable[Any]], most: int) -> None:
        offset = 0
        while offset < most and not self.stopping.is_set():
            runs = list(fetch(min(_PAGE, most - offset), offset))
            new = sum(self.observe_run(run) for run in runs)
            offset += len(runs)
            if not new or len(runs) < _PAGE:
                return

    def seed(self, store: RunStore) -> None:
        """The start-up seed (run in a thread: a large database takes a few seconds)."""
        try:
            self.catch_up(store, SEED_RUNS)
        except Exception as exc:  # noqa: BLE001 - metrics must never take the server down
            log.warning("Could not read finished runs for the metrics: %s", exc)

    def render(self, store: RunStore) -> str:
        self.catch_up(store, SCRAPE_RUNS)
        lines = ["# HELP orkest_flow_runs Flow runs in the database, by current state.",
                 "# TYPE orkest_flow_runs gauge"]
        for state in StateType:
            count = store.count_flow_runs(state_types=[state])
            lines.append(f'orkest_flow_runs{{state="{state.value}"}} {count}')
        with self._lock:
            lines += self.flow_durations.lines()
            lines += self.task_durations.lines()
        lines += ["# HELP orkest_active_workers Workers that sent a heartbeat recently.",
                  "# TYPE orkest_active_workers gauge", "orkest_active_workers 0"]
        return "\n".join(lines) + "\n"
