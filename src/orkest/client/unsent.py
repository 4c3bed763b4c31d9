"""Sending again what a run could not record while the server was away.

The recorder saves such batches under ORKEST_HOME/unsent/ as JSON lines (one
`wire.dump_batch` per line, see engine/recorder.py). replay_unsent() writes them to the
store in order, oldest file first, and removes each line once the store has it, so an
interrupted replay resumes where it stopped. A run snapshot older than what the store holds
is dropped: a replayed batch never moves a run back to an earlier state.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from orkest import settings
from orkest.core.ports import RunStore
from orkest.core.records import WriteBatch
from orkest.errors import ObjectNotFound
from orkest.store import open_store, wire


@dataclass(frozen=True, slots=True)
class Replayed:
    """What replay_unsent() sent: files emptied, batches and records written."""

    files: int = 0
    batches: int = 0
    records: int = 0


def unsent_dir(home: Path | None = None) -> Path:
    return (home if home is not None else settings.current().home) / "unsent"


def unsent_files(home: Path | None = None) -> list[Path]:
    """The spill files waiting to be sent, oldest first (their names start with the time)."""
    folder = unsent_dir(home)
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def replay_unsent(store: RunStore | None = None, *, home: Path | None = None) -> Replayed:
    """Write every saved batch to `store` (default: the configured one, i.e. the server).

    Raises what the store raises (StoreUnavailable while the server is still away); what
    was sent before that is not sent again.
    """
    store = store if store is not None else open_store()
    files = batches = records = 0
    for path in unsent_files(home):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        while lines:
            batch = wire.load_batch(json.loads(lines[0]))
            _drop_stale_snapshots(store, batch)
            store.write(batch)
            batches, records = batches + 1, records + len(batch)
            lines.pop(0)
            if lines:  # the rest waits in the file, should the next write fail
                tmp = path.with_suffix(".tmp")
                tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
                os.replace(tmp, path)
        path.unlink()
        files += 1
    return Replayed(files, batches, records)


def _drop_stale_snapshots(store: RunStore, batch: WriteBatch) -> None:
    """Keep only snapshots at least as new as the stored run (by state time)."""
    for run_id, run in list(batch.flow_runs.items()):
        try:
            stored = store.read_flow_run(run_id)
        except ObjectNotFound:
            continue
        if stored.state_ts > run.state_ts:
            del batch.flow_runs[run_id]
    by_flow: dict[str | None, list[str]] = {}
    for run_id, task_run in batch.task_runs.items():
        by_flow.setdefault(task_run.flow_run_id, []).append(run_id)
    for flow_run_id, ids in by_flow.items():
        if flow_run_id is None:
            stored_ts = {}
            for run_id in ids:
                try:
                    stored_ts[run_id] = store.read_task_run(run_id).state_ts
                except ObjectNotFound:
                    pass
        else:
            found = store.list_task_runs(flow_run_id=flow_run_id, limit=10**9)
            stored_ts = {t.id: t.state_ts for t in found}
        for run_id in ids:
            if stored_ts.get(run_id, float("-inf")) > batch.task_runs[run_id].state_ts:
                del batch.task_runs[run_id]
