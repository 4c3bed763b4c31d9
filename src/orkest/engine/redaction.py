"""Secret values out of every record before it is stored (SPEC §7, masking).

The recorder passes each batch through `mask_batch` just before writing it, so no log
line, state message, traceback, run name or recorded input (a task's parameters, a DAG
task's rendered templates) reaches a store, an API server or an unsent-batch file with a
registered secret in it, whichever code path produced the record. With no secret
registered in this process the recorder does not call it at all.

Run snapshots are the engine's live objects, changed by other threads while a batch is
written: they are never edited here; a masked copy goes into the batch instead. Log
lines and state records belong to the batch alone and are masked in place.

Results are data, not text about a run: they are stored as returned (docs/configuration.md
says not to return secrets from tasks).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from orkest._internal.masking import mask, mask_value
from orkest.core.records import WriteBatch

# Text a run snapshot carries that its code or its inputs can fill in.
_RUN_TEXT = ("name", "state_message", "failure_traceback")
_RUN_VALUES = ("parameters", "tags", "graph", "requested_payload")


def mask_batch(batch: WriteBatch) -> None:
    """Replace every registered secret in `batch` by `***` (results excepted)."""
    for runs in (batch.flow_runs, batch.task_runs):
        for key, run in runs.items():
            masked = mask_run(run)
            if masked is not run:
                runs[key] = masked
    for record in batch.states:
        if record.message:
            record.message = mask(record.message)
    for line in batch.logs:
        line.message = mask(line.message)


def mask_run(run: Any) -> Any:
    """`run` itself when it holds no secret, else a masked copy (the original untouched)."""
    changes: dict[str, Any] = {}
    for name in _RUN_TEXT:
        text = getattr(run, name, None)
        if text:
            masked = mask(text)
            if masked is not text:
                changes[name] = masked
    for name in _RUN_VALUES:
        value = getattr(run, name, None)
        if value:
            masked = mask_value(value)
            if masked is not value:
                changes[name] = masked
    return dataclasses.replace(run, **changes) if changes else run
