"""A store that goes away: the recorder backs off, spills at the end, replay_unsent() resends."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import pytest

from orkest.client import replay_unsent, unsent_files
from orkest.core.records import CacheEntry, FlowRun, StateRecord, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.engine import recorder as recorder_module
from orkest.engine.recorder import Recorder, backoff
from orkest.errors import StoreError
from orkest.store import MemoryRunStore, StoreUnavailable, wire

S = StateType


class FlakyStore(MemoryRunStore):
    """A memory store whose writes fail with `error` while `down` is set."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.down = True
        self.error = error or StoreUnavailable("Cannot reach the orkest server (refused)")
        self.attempts = 0

    def write(self, batch: WriteBatch) -> None:
        self.attempts += 1
        if self.down:
            raise self.error
        super().write(batch)

    def lookup_cache(self, key: str, now: float) -> CacheEntry | None:
        if self.down:
            raise self.error
        return super().lookup_cache(key, now)


def flow_run(state: StateType = S.RUNNING, ts: float = 10.0) -> FlowRun:
    return FlowRun("f" * 32, "etl", "brave-otter", state, state.value.title(), ts, 1.0)


def task_run(state: StateType = S.COMPLETED, ts: float = 10.0) -> TaskRun:
    return TaskRun("t" * 32, "f" * 32, "x", "x-1", "0", "x-0", state, state.value.title(), ts,
                   1.0)


@pytest.fixture
def fast_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_API_FLUSH_TIMEOUT", "0.3")


def record_some(recorder: Recorder) -> None:
    recorder.flow_run(flow_run())
    recorder.task_run(task_run())
    recorder.state(StateRecord("t" * 32, "task", S.COMPLETED, "Completed", 10.0))


def test_backoff_doubles_is_capped_and_jittered() -> None:
    for failures, top in ((1, 0.2), (2, 0.4), (3, 0.8), (10, 5.0), (10_000, 5.0)):
        delays = [backoff(failures) for _ in range(200)]
        assert top / 2 <= min(delays) and max(delays) <= top
        assert len(set(delays)) > 1


def test_flush_spills_after_the_timeout_and_warns(fast_timeout, orkest_home: Path,
                                                  caplog) -> None:
    store = FlakyStore()
    recorder = Recorder(store)
    record_some(recorder)
    with caplog.at_level(logging.WARNING, logger="orkest"):
        recorder.flush()  # does not raise
    assert store.attempts >= 2  # retried with backoff before giving up
    [path] = unsent_files()
    assert path.parent == orkest_home / "unsent"
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    assert "3 records" in text and "'brave-otter'" in text and str(path) in text
    assert "replay_unsent" in text
    line = json.loads(path.read_text())
    assert [r["id"] for r in line["task_runs"]] == ["t" * 32]
    recorder.flush()  # nothing left: no new file, no wait
    assert len(unsent_files()) == 1
    recorder.close()


def test_replay_sends_spilled_batches_once(fast_timeout) -> None:
    store = FlakyStore()
    recorder = Recorder(store)
    record_some(recorder)
    recorder.flush()
    store.down = False
    done = replay_unsent(store)
    assert (done.files, done.batches, done.records) == (1, 1, 3)
    assert store.read_flow_run("f" * 32) == flow_run()
    assert [s.type for s in store.read_states("t" * 32)] == [S.COMPLETED]
    assert unsent_files() == []
    assert replay_unsent(store).records == 0
    recorder.close()


def test_replay_never_moves_a_run_back(fast_timeout) -> None:
    store = FlakyStore()
    recorder = Recorder(store)
    recorder.flow_run(flow_run(S.RUNNING, ts=10.0))
    recorder.task_run(task_run(S.RUNNING, ts=10.0))
    recorder.flush()  # spilled: RUNNING snapshots
    store.down = False
    newer = WriteBatch(flow_runs={"f" * 32: flow_run(S.COMPLETED, ts=20.0)},
                       task_runs={"t" * 32: task_run(S.COMPLETED, ts=20.0)})
    store.write(newer)
    replay_unsent(store)
    assert store.read_flow_run("f" * 32).state_type is S.COMPLETED
    assert store.read_task_run("t" * 32).state_type is S.COMPLETED
    recorder.close()


def test_an_interrupted_replay_resumes_where_it_stopped(orkest_home: Path) -> None:
    folder = orkest_home / "unsent"
    folder.mkdir(parents=True)
    runs = [dataclasses.replace(flow_run(), id=f"{i:032x}") for i in range(3)]
    lines = [json.dumps({"flow_runs": [wire.dump(r)]}) for r in runs]
    (folder / "20260101T000000-1-0.jsonl").write_text("\n".join(lines) + "\n")

    class FailsSecond(MemoryRunStore):
        writes = 0

        def write(self, batch: WriteBatch) -> None:
            type(self).writes += 1
            if type(self).writes == 2:
                raise StoreUnavailable("gone again")
            super().write(batch)

    store = FailsSecond()
    with pytest.raises(StoreUnavailable):
        replay_unsent(store)
    assert len(unsent_files()[0].read_text().splitlines()) == 2
    assert replay_unsent(store).batches == 2
    assert sorted(r.id for r in store.list_flow_runs()) == [r.id for r in runs]


def test_other_store_errors_still_raise(fast_timeout) -> None:
    store = FlakyStore(StoreError("disk full"))
    recorder = Recorder(store)
    record_some(recorder)
    with pytest.raises(StoreError, match="disk full"):
        recorder.flush()
    assert unsent_files() == []
    store.down = False
    recorder.flush()  # the kept batch goes out once the store works
    assert store.read_task_run("t" * 32).state_type is S.COMPLETED
    recorder.close()


def test_background_writes_back_off_while_the_store_is_down(monkeypatch) -> None:
    monkeypatch.setattr(recorder_module, "FLUSH_SECONDS", 0.01)
    store = FlakyStore()
    recorder = Recorder(store)
    record_some(recorder)  # starts the background thread
    time.sleep(0.6)
    # Without backoff it would have tried ~60 times; doubling from 0.2 s gives a handful.
    assert 1 <= store.attempts <= 6
    store.down = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not store.list_flow_runs():
        time.sleep(0.05)
    assert store.list_flow_runs()
    recorder.close()


def test_a_cache_lookup_misses_while_the_store_is_down() -> None:
    recorder = Recorder(FlakyStore())
    assert recorder.lookup_cache("key", 1.0) is None

def test_a_long_outage_does_not_hold_up_every_flow_end(fast_timeout) -> None:
    store = FlakyStore()
    recorder = Recorder(store)
    record_some(recorder)
    recorder.flush()  # the first end waits the timeout, then spills
    time.sleep(0.35)
    recorder.flow_run(flow_run(S.COMPLETED, ts=30.0))
    start = time.monotonic()
    recorder.flush()  # the store has been away longer than the timeout: spill at once
    assert time.monotonic() - start < 0.2
    assert len(unsent_files()) == 2
    recorder.close()
