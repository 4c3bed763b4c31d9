"""When records cannot reach the store: retry timing, and saving them for later.

The recorder retries unwritten batches with `backoff`; when a top-level flow ends and the
store (an API server) is still away after ORKEST_API_FLUSH_TIMEOUT, the batch goes to
ORKEST_HOME/unsent/ as JSON lines that `orkest.client.replay_unsent()` sends later.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from orkest import settings
from orkest.store import semantics, wire

Batch = Any  # a WriteBatch
RETRY_BASE_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


def backoff(failures: int) -> float:
    """Seconds before retry `failures`: doubling from RETRY_BASE_SECONDS up to
    RETRY_MAX_SECONDS, jittered to 50-100% so that many processes do not retry in step."""
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(failures - 1, 16))
    return delay * (0.5 + random.random() / 2)  # jitter, not cryptography


def spill_batch(batch: Batch) -> str:
    """Append `batch` as one JSON line to a new file under ORKEST_HOME/unsent/; its path."""
    folder = settings.current().home / "unsent"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time_ns()  # names sort in the order the batches were spilled
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now / 1e9))
    path = folder / f"{stamp}.{now % 10**9:09d}-{os.getpid()}.jsonl"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(semantics.to_json(wire.dump_batch(batch)) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
    return str(path)


def describe_runs(batch: Batch) -> str:
    """"flow run 'brave-otter' (3f2a...)": the runs a batch belongs to, for the warning."""
    names = {run.id: run.name for run in batch.flow_runs.values()}
    ids = sorted(set(names) | {t.flow_run_id for t in batch.task_runs.values()
                               if t.flow_run_id} | {x.flow_run_id for x in batch.logs
                                                    if x.flow_run_id})
    shown = ", ".join(f"{names[i]!r} ({i})" if i in names else i for i in ids[:3])
    return (f"flow run {shown}{' and more' if len(ids) > 3 else ''}" if ids
            else "standalone task runs")
