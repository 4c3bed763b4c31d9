"""The RunStore contract: one suite, run against every backend (see conftest.py)."""

from __future__ import annotations

import dataclasses
import datetime
import threading
import uuid

import pytest

from orkest.core.records import (
    CacheEntry,
    FlowRun,
    LogLine,
    ResultBlob,
    StateRecord,
    TaskRun,
    WriteBatch,
)
from orkest.core.states import (
    Cached,
    Completed,
    Crashed,
    Failed,
    Pending,
    Running,
    State,
    StateType,
)
from orkest.core.transitions import ENGINE_POLICY, MANUAL_POLICY, RERUN_POLICY
from orkest.errors import InvalidStateTransition, ObjectNotFound

S = StateType


def new_id() -> str:
    return uuid.uuid4().hex


def flow_run(id: str | None = None, **kw) -> FlowRun:
    fields = dict(flow_name="etl", name="brave-otter", state_type=S.PENDING,
                  state_name="Pending", state_ts=100.0, created_ts=100.0)
    fields.update(kw)
    return FlowRun(id=id or new_id(), **fields)


def task_run(flow_run_id: str | None, id: str | None = None, **kw) -> TaskRun:
    fields = dict(task_name="extract", task_key="extract-1", dynamic_key="0",
                  name="extract-0", state_type=S.PENDING, state_name="Pending",
                  state_ts=100.0, created_ts=100.0)
    fields.update(kw)
    return TaskRun(id=id or new_id(), flow_run_id=flow_run_id, **fields)


def write(store, *runs, **lists) -> None:
    batch = WriteBatch(**lists)
    for run in runs:
        (batch.flow_runs if isinstance(run, FlowRun) else batch.task_runs)[run.id] = run
    store.write(batch)


class TestRunStore:
    # -- write / read -------------------------------------------------------------------

    def test_flow_run_round_trips_every_field(self, store):
        run = flow_run(
            state_type=S.RUNNING, state_name="Running", state_ts=1767225600.123456,
            created_ts=1767225599.5, state_message="going", flow_version="1.2",
            parameters={"dataset": "sales", "n": 3, "nested": {"xs": [1, 2.5, None]},
                        "ünï": "côdé"},
            tags=["etl", "nightly"], parent_flow_run_id="p" * 32,
            parent_task_run_id="t" * 32, start_ts=1767225600.0, end_ts=None, run_count=2,
            retries=3, task_runner="ThreadPoolRunner", result_ref="results/abc",
            failure_type="ValueError", failure_traceback="Traceback...\n  boom",
            deployment_id="d1", entrypoint="flows.py:etl", logical_ts=1767225000.0,
            hostname="host-1", pid=4242, heartbeat_ts=1767225601.25,
        )
        write(store, run)
        assert store.read_flow_run(run.id) == run

    def test_task_run_round_trips_every_field(self, store):
        run = task_run(
            new_id(), state_type=S.COMPLETED, state_name="Cached", state_ts=200.5,
            created_ts=199.25, state_message="from cache", tags=["db"],
            parameters={"rows": [{"a": 1}]}, upstream=[new_id(), new_id()], start_ts=199.5,
            end_ts=200.5, run_count=1, retries=2, cache_key="k1", result_ref="db:r1",
            failure_type=None, failure_traceback=None, cpu_seconds=0.125,
            peak_rss_bytes=3 * 2**31, resource_scope="thread", runner="threads",
        )
        write(store, run)
        assert store.read_task_run(run.id) == run

    def test_read_missing_run_raises_object_not_found(self, store):
        with pytest.raises(ObjectNotFound, match="flow run"):
            store.read_flow_run(new_id())
        with pytest.raises(ObjectNotFound, match="task run"):
            store.read_task_run(new_id())

    def test_snapshot_replaces_the_stored_run(self, store):
        run = flow_run(tags=["a"])
        write(store, run)
        later = dataclasses.replace(run, state_type=S.RUNNING, state_name="Running",
                                    state_ts=101.0, tags=["b"], start_ts=101.0, run_count=1)
        write(store, later)
        assert store.read_flow_run(run.id) == later
        assert [r.id for r in store.list_flow_runs()] == [run.id]

    def test_a_snapshot_never_clobbers_a_pending_request(self, store):
        run = flow_run(state_type=S.RUNNING, state_name="Running")
        write(store, run)
        store.request_action(run.id, "cancel", {"by": "cli"})
        write(store, dataclasses.replace(run, state_ts=150.0))  # requested_* are None
        stored = store.read_flow_run(run.id)
        assert (stored.requested_action, stored.requested_payload) == ("cancel", {"by": "cli"})
        assert stored.state_ts == 150.0

    def test_stored_runs_do_not_follow_later_mutation(self, store):
        run = flow_run(tags=["a"], parameters={"xs": [1]})
        write(store, run)
        run.tags.append("b")
        run.parameters["xs"].append(2)
        read = store.read_flow_run(run.id)
        assert read.tags == ["a"] and read.parameters == {"xs": [1]}
        read.tags.append("c")
        assert store.read_flow_run(run.id).tags == ["a"]

    def test_parameters_are_stored_as_json(self, store):
        run = flow_run(parameters={"t": (1, 2), "day": datetime.date(2026, 1, 2),
                                   "bad": float("nan")})
        write(store, run)
        assert store.read_flow_run(run.id).parameters == {"t": [1, 2], "day": "2026-01-02",
                                                          "bad": "nan"}

    def test_empty_batch_is_a_no_op(self, store):
        store.write(WriteBatch())
        assert store.list_flow_runs() == []

    def test_concurrent_writers_lose_nothing(self, store):
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(20):
                    fr = flow_run(created_ts=float(n * 100 + i))
                    tr = task_run(fr.id)
                    write(store, fr, tr,
                          states=[StateRecord(tr.id, "task", S.PENDING, "Pending", 1.0)])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.list_flow_runs(limit=1000)) == 120
        assert len(store.list_task_runs(limit=1000)) == 120

    # -- id prefixes ---------------------------------------------------------------------

    def test_unique_id_prefix_finds_the_run(self, store):
        a, b = flow_run("abcd1234" + "0" * 24), flow_run("abcd5678" + "0" * 24)
        t = task_run(a.id, "fedc1234" + "0" * 24)
        write(store, a, b, t)
        assert store.read_flow_run("abcd1").id == a.id
        assert store.read_flow_run("abcd5678").id == b.id
        assert store.read_task_run("fedc").id == t.id

    def test_ambiguous_prefix_names_the_number_of_candidates(self, store):
        write(store, *(flow_run(f"abcd{i}" + "0" * 27) for i in range(3)))
        with pytest.raises(ObjectNotFound, match="matches 3 flow runs"):
            store.read_flow_run("abcd")

    def test_prefix_needs_four_characters(self, store):
        write(store, flow_run("abcdef"))
        with pytest.raises(ObjectNotFound, match="at least 4"):
            store.read_flow_run("abc")

    def test_prefix_is_literal(self, store):
        write(store, flow_run("run_1234"), flow_run("runx1234"), flow_run("Run_9999"))
        assert store.read_flow_run("run_").id == "run_1234"
        with pytest.raises(ObjectNotFound):
            store.read_flow_run("run%")

    # -- listing -------------------------------------------------------------------------

    def test_list_flow_runs_newest_first_with_filters(self, store):
        parent = flow_run("parent00", created_ts=1.0, state_type=S.RUNNING)
        runs = [
            flow_run(f"run{i}0000", created_ts=10.0 + i, flow_name="a" if i % 2 else "b",
                     state_type=[S.PENDING, S.RUNNING, S.COMPLETED][i % 3],
                     parent_flow_run_id="parent00" if i < 2 else None,
                     deployment_id="dep-1" if i in (3, 4) else None)
            for i in range(6)
        ]
        write(store, parent, *runs)
        ids = lambda rs: [r.id for r in rs]  # noqa: E731
        assert ids(store.list_flow_runs()) == [r.id for r in reversed(runs)] + ["parent00"]
        assert ids(store.list_flow_runs(flow_name="a")) == ["run50000", "run30000",
                                                            "run10000"]
        assert ids(store.list_flow_runs(state_types=[S.COMPLETED, S.PENDING])) == [
            "run50000", "run30000", "run20000", "run00000"]
        assert ids(store.list_flow_runs(parent_flow_run_id="parent00")) == ["run10000",
                                                                           "run00000"]
        assert ids(store.list_flow_runs(deployment_id="dep-1")) == ["run40000", "run30000"]
        assert store.count_flow_runs(deployment_id="dep-1") == 2
        assert ids(store.list_flow_runs(limit=2, offset=1)) == ["run40000", "run30000"]
        assert store.list_flow_runs(state_types=[]) == []

    def test_filters_by_tag_and_time_and_counts_agree(self, store):
        runs = [
            flow_run(f"tag{i}0000", created_ts=100.0 + i, flow_name="a" if i < 3 else "b",
                     tags=[["etl"], ["etl", "daily"], ["etl_x"], ["50%"], [], ["daily"]][i],
                     state_type=S.FAILED if i % 2 else S.COMPLETED)
            for i in range(6)
        ]
        write(store, *runs)
        ids = lambda rs: [r.id for r in rs]  # noqa: E731
        assert ids(store.list_flow_runs(tag="etl")) == ["tag10000", "tag00000"]
        assert ids(store.list_flow_runs(tag="daily")) == ["tag50000", "tag10000"]
        assert ids(store.list_flow_runs(tag="50%")) == ["tag30000"]
        assert store.list_flow_runs(tag="et") == []  # whole tags only, no substrings
        assert ids(store.list_flow_runs(created_after=102.0, created_before=104.0)) == [
            "tag30000", "tag20000"]
        assert store.count_flow_runs() == 6
        assert store.count_flow_runs(tag="etl", state_types=[S.FAILED]) == 1
        assert store.count_flow_runs(flow_name="b", created_after=104.0) == 2
        assert store.count_flow_runs(state_types=[]) == 0

    def test_list_flows_and_dashboard_aggregates(self, store):
        fr_a = [flow_run(created_ts=t, flow_name="a", state_type=st)
                for t, st in ((1000.0, S.COMPLETED), (1030.0, S.FAILED), (1070.0, S.FAILED))]
        fr_b = [flow_run(created_ts=1065.0, flow_name="b", state_type=S.COMPLETED),
                flow_run(created_ts=10.0, flow_name="b", state_type=S.COMPLETED)]
        tasks = [task_run(fr_a[0].id, created_ts=1000.0, task_name="load", start_ts=1.0,
                          end_ts=5.0),
                 task_run(fr_a[0].id, created_ts=1001.0, task_name="load", start_ts=1.0,
                          end_ts=3.0),
                 task_run(fr_a[0].id, created_ts=1002.0, task_name="extract", start_ts=1.0,
                          end_ts=2.0),
                 task_run(fr_a[0].id, created_ts=1003.0, task_name="never_ran"),
                 task_run(fr_a[0].id, created_ts=5.0, task_name="old", start_ts=0.0,
                          end_ts=99.0)]
        write(store, *fr_a, *fr_b, *tasks)
        assert [(f.name, f.run_count, f.last_run_ts) for f in store.list_flows()] == [
            ("a", 3, 1070.0), ("b", 2, 1065.0)]
        assert [f.name for f in store.list_flows(limit=1, offset=1)] == ["b"]
        counts = [(c.bucket_ts, c.state_type, c.count)
                  for c in store.flow_run_counts(since=1000.0, bucket_seconds=60.0)]
        # 1000 -> [960, 1020); 1030, 1065 and 1070 -> [1020, 1080); 10 is before `since`
        assert counts == [(960.0, S.COMPLETED, 1), (1020.0, S.COMPLETED, 1),
                          (1020.0, S.FAILED, 2)]
        slow = store.slowest_tasks(since=1000.0)
        assert [(t.task_name, t.runs, t.mean_seconds, t.max_seconds) for t in slow] == [
            ("load", 2, 3.0, 4.0), ("extract", 1, 1.0, 1.0)]
        assert len(store.slowest_tasks(since=0.0, limit=1)) == 1
        assert store.count_task_runs(flow_run_id=fr_a[0].id) == 5
        assert store.count_task_runs(state_types=[S.RUNNING]) == 0

    def test_nul_characters_in_text_are_stored(self, store):
        """A NUL in a log line or traceback must not make the batch fail (PostgreSQL's
        text cannot hold one: it is stored as U+FFFD there)."""
        fr = flow_run(failure_traceback="Trace\x00back")
        write(store, fr, logs=[LogLine(fr.id, None, 1.0, 20, "x", "a\x00b")],
              states=[StateRecord(fr.id, "flow", S.PENDING, "Pending", 1.0, "m\x00")])
        assert store.read_logs(fr.id)[0].message in ("a\x00b", "a\ufffdb")
        assert store.read_flow_run(fr.id).failure_traceback in ("Trace\x00back",
                                                                "Trace\ufffdback")
        assert store.read_states(fr.id)[0].message in ("m\x00", "m\ufffd")

    def test_list_task_runs_in_creation_order_within_a_flow_run(self, store):
        fr, other = flow_run(), flow_run()
        tasks = [task_run(fr.id, f"t{i}", created_ts=50.0 + i,
                          state_type=S.COMPLETED if i % 2 else S.FAILED) for i in range(5)]
        tie = [task_run(fr.id, "t9b", created_ts=60.0), task_run(fr.id, "t9a", created_ts=60.0)]
        foreign = task_run(other.id, "u0", created_ts=55.5)
        write(store, fr, other, *tasks, *tie, foreign)
        ids = lambda rs: [r.id for r in rs]  # noqa: E731
        assert ids(store.list_task_runs(flow_run_id=fr.id)) == [
            "t0", "t1", "t2", "t3", "t4", "t9a", "t9b"]
        assert ids(store.list_task_runs(flow_run_id=fr.id, state_types=[S.COMPLETED])) == [
            "t1", "t3"]
        assert ids(store.list_task_runs(flow_run_id=fr.id, limit=2, offset=2)) == ["t2", "t3"]
        assert ids(store.list_task_runs()) == [
            "t9b", "t9a", "u0", "t4", "t3", "t2", "t1", "t0"]

    # -- state history -------------------------------------------------------------------

    def test_state_history_is_oldest_first(self, store):
        fr = flow_run()
        other = flow_run()
        first = [StateRecord(fr.id, "flow", S.PENDING, "Pending", 1.0),
                 StateRecord(other.id, "flow", S.PENDING, "Pending", 1.0),
                 StateRecord(fr.id, "flow", S.RUNNING, "Running", 2.0, "started")]
        write(store, fr, other, states=first)
        write(store, states=[StateRecord(fr.id, "flow", S.COMPLETED, "Completed", 2.0)])
        history = store.read_states(fr.id)
        assert [(h.type, h.name, h.ts, h.message, h.run_kind) for h in history] == [
            (S.PENDING, "Pending", 1.0, None, "flow"),
            (S.RUNNING, "Running", 2.0, "started", "flow"),
            (S.COMPLETED, "Completed", 2.0, None, "flow"),
        ]
        assert [h.id for h in history] == sorted(h.id for h in history)
        assert all(isinstance(h.type, StateType) for h in history)
        assert store.read_states(new_id()) == []

    # -- set_state -----------------------------------------------------------------------

    def test_set_state_moves_a_flow_run_and_records_it(self, store):
        fr = flow_run()
        write(store, fr)
        running = store.set_state(fr.id, "flow", Running(ts=110.0), ENGINE_POLICY)
        assert isinstance(running, FlowRun)
        assert (running.state_type, running.state_name, running.state_ts) == (
            S.RUNNING, "Running", 110.0)
        done = store.set_state(fr.id, "flow", Completed(ts=120.0, message="ok"), ENGINE_POLICY)
        assert (done.state_type, done.state_message, done.end_ts) == (S.COMPLETED, "ok", 120.0)
        assert store.read_flow_run(fr.id) == done
        assert [(h.type, h.ts) for h in store.read_states(fr.id)] == [
            (S.RUNNING, 110.0), (S.COMPLETED, 120.0)]

    def test_set_state_rerun_clears_end_time(self, store):
        fr = flow_run(state_type=S.FAILED, state_name="Failed", end_ts=130.0)
        write(store, fr)
        rerun = store.set_state(fr.id[:8], "flow", Pending(ts=140.0), RERUN_POLICY)
        assert (rerun.id, rerun.state_type, rerun.end_ts) == (fr.id, S.PENDING, None)

    def test_set_state_on_a_task_run(self, store):
        tr = task_run(None, state_type=S.PENDING)
        write(store, tr)
        cached = store.set_state(tr.id, "task", Cached(ts=105.0, result_ref="db:x"),
                                 ENGINE_POLICY)
        assert isinstance(cached, TaskRun)
        assert (cached.state_type, cached.state_name, cached.end_ts, cached.result_ref) == (
            S.COMPLETED, "Cached", 105.0, "db:x")
        assert [h.run_kind for h in store.read_states(tr.id)] == ["task"]

    def test_manual_policy_marks_from_anywhere(self, store):
        fr = flow_run(state_type=S.COMPLETED, state_name="Completed")
        write(store, fr)
        marked = store.set_state(fr.id, "flow", Failed(ts=150.0, message="by hand"),
                                 MANUAL_POLICY)
        assert (marked.state_type, marked.state_message) == (S.FAILED, "by hand")

    def test_illegal_transition_is_rejected_and_writes_nothing(self, store):
        fr = flow_run(state_type=S.COMPLETED, state_name="Completed", end_ts=120.0)
        write(store, fr, states=[StateRecord(fr.id, "flow", S.COMPLETED, "Completed", 120.0)])
        with pytest.raises(InvalidStateTransition):
            store.set_state(fr.id, "flow", Running(ts=200.0), ENGINE_POLICY)
        pending = flow_run(state_type=S.PENDING)
        write(store, pending)
        with pytest.raises(InvalidStateTransition):  # a rule, not an edge
            store.set_state(pending.id, "flow", Completed(ts=200.0), ENGINE_POLICY)
        assert store.read_flow_run(fr.id) == fr
        assert store.read_flow_run(pending.id) == pending
        assert len(store.read_states(fr.id)) == 1
        assert store.read_states(pending.id) == []

    def test_a_reapers_crash_older_than_the_current_state_is_refused(self, store):
        """The reaper's policy goes by name ("reap-orphan"): a remote store's server
        rebuilds it and refuses the same."""
        from orkest.services.reaper import REAPER_POLICY

        fr = flow_run(state_type=S.RUNNING, state_name="Running", state_ts=200.0)
        write(store, fr)
        with pytest.raises(InvalidStateTransition, match="changed since it was read"):
            store.set_state(fr.id, "flow", Crashed(ts=150.0, message="old view"),
                            REAPER_POLICY)
        assert store.read_flow_run(fr.id) == fr
        crashed = store.set_state(fr.id, "flow", Crashed(ts=200.0), REAPER_POLICY)
        assert crashed.state_type is S.CRASHED

    def test_set_state_on_missing_run_raises(self, store):
        with pytest.raises(ObjectNotFound):
            store.set_state(new_id(), "flow", Running(), ENGINE_POLICY)
        with pytest.raises(ValueError, match="run_kind"):
            store.set_state(new_id(), "dag", Running(), ENGINE_POLICY)

    # -- requests and heartbeats ---------------------------------------------------------

    def test_requests_are_taken_once(self, store):
        a, b, quiet = flow_run(), flow_run(), flow_run()
        write(store, a, b, quiet)
        store.request_action(a.id, "cancel")
        store.request_action(b.id, "resume", {"input": {"ok": True}})
        store.request_action(b.id[:6], "resume", {"input": {"ok": False}})  # latest wins
        taken = store.take_requests([a.id, b.id, quiet.id, new_id()])
        assert taken == {a.id: ("cancel", None), b.id: ("resume", {"input": {"ok": False}})}
        assert store.take_requests([a.id, b.id]) == {}
        assert store.read_flow_run(b.id).requested_action is None
        assert store.take_requests([]) == {}

    def test_request_on_missing_run_raises(self, store):
        with pytest.raises(ObjectNotFound):
            store.request_action(new_id(), "cancel")

    def test_heartbeat_touches_only_the_given_runs(self, store):
        a, b = flow_run(), flow_run()
        write(store, a, b)
        store.heartbeat(iter([a.id, new_id()]), 500.5)
        store.heartbeat([], 600.0)
        assert store.read_flow_run(a.id).heartbeat_ts == 500.5
        assert store.read_flow_run(b.id).heartbeat_ts is None

    # -- logs ----------------------------------------------------------------------------

    def test_logs_page_with_a_cursor(self, store):
        fr, other = flow_run(), flow_run()
        t1, t2 = new_id(), new_id()
        for i in range(25):
            write(store, logs=[
                LogLine(fr.id, t1 if i % 2 else t2, float(i), 20, "orkest.task", f"line {i}",
                        "print" if i == 3 else "logger"),
                LogLine(other.id, None, float(i), 30, "x", f"other {i}"),
            ])
        seen: list[LogLine] = []
        cursor = 0
        while page := store.read_logs(fr.id, after_id=cursor, limit=10):
            assert len(page) <= 10
            seen.extend(page)
            cursor = page[-1].id
        assert [line.message for line in seen] == [f"line {i}" for i in range(25)]
        assert seen[3].source == "print" and seen[0].source == "logger"
        assert (seen[1].task_run_id, seen[1].level, seen[1].logger) == (t1, 20, "orkest.task")
        only_t1 = store.read_logs(fr.id, task_run_id=t1)
        assert [line.message for line in only_t1] == [f"line {i}" for i in range(1, 25, 2)]
        assert store.read_logs(fr.id, after_id=seen[-1].id) == []

    def test_logs_of_a_standalone_task_run(self, store):
        standalone, in_flow = new_id(), new_id()
        write(store, logs=[LogLine(None, standalone, 1.0, 20, "t", "alone"),
                           LogLine(flow_run().id, in_flow, 2.0, 20, "t", "in a flow")])
        assert [x.message for x in store.read_logs(None, task_run_id=standalone)] == ["alone"]
        assert [x.message for x in store.read_logs(None, task_run_id=in_flow)] == ["in a flow"]
        with pytest.raises(ValueError, match="flow_run_id or a task_run_id"):
            store.read_logs(None)

    # -- results and cache ---------------------------------------------------------------

    def test_results_round_trip_and_upsert_by_key(self, store):
        blob = ResultBlob("db:r1", "pickle", b"\x00\x80binary\xff", 10.0)
        write(store, results=[blob])
        assert store.read_result("db:r1") == blob
        newer = ResultBlob("db:r1", "json", b"[1]", 11.0)
        write(store, results=[newer])
        assert store.read_result("db:r1") == newer
        assert store.read_result("db:nope") is None

    def test_cache_lookup_returns_newest_unexpired_entry(self, store):
        write(store, cache=[
            CacheEntry("k", "ref-old", created_ts=1.0),
            CacheEntry("k", "ref-new", created_ts=2.0, expires_ts=10.0, task_run_id="t1"),
            CacheEntry("other", "ref-other", created_ts=3.0),
        ])
        assert store.lookup_cache("k", now=5.0) == CacheEntry("k", "ref-new", 2.0, 10.0, "t1")
        assert store.lookup_cache("k", now=10.0).result_ref == "ref-old"  # expired at 10
        write(store, cache=[CacheEntry("gone", "r", created_ts=1.0, expires_ts=2.0)])
        assert store.lookup_cache("gone", now=3.0) is None
        assert store.lookup_cache("missing", now=0.0) is None

    def test_cache_tie_goes_to_the_later_write(self, store):
        write(store, cache=[CacheEntry("k", "first", created_ts=5.0)])
        write(store, cache=[CacheEntry("k", "second", created_ts=5.0)])
        assert store.lookup_cache("k", now=6.0).result_ref == "second"


def test_state_record_round_trips_named_states(store):
    """Named states (Late, TimedOut...) keep their names through the store."""
    fr = flow_run(state_type=S.SCHEDULED, state_name="Late")
    state = State(S.SCHEDULED, "Late", ts=3.0)
    write(store, fr, states=[StateRecord.of(fr.id, "flow", state)])
    assert store.read_flow_run(fr.id).state.name == "Late"
    assert store.read_states(fr.id)[0].name == "Late"

