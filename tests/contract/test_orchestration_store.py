"""The OrchestrationStore contract: one suite on SQLite, PostgreSQL and the HTTP client.

The remote backend is RemoteRunStore against a real server subprocess (conftest.py's
live_server). The memory store holds no deployments, so it is not a backend here.
Races use several store objects at once (as separate processes would), each with its own
connections: two schedulers creating the same slots, four workers claiming one pool.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orkest.core.deployments import ConcurrencyLimit, Deployment, Event, Worker, WorkPool
from orkest.core.records import FlowRun, WriteBatch
from orkest.core.states import StateType
from orkest.errors import ObjectNotFound
from orkest.triggers import Webhook

S = StateType
BACKENDS = ["sqlite", "postgresql", "remote"]
RUN_TABLES = ("flow_runs", "task_runs", "state_history", "logs", "results", "cache_entries")
ORCHESTRATION_TABLES = ("deployments", "work_pools", "workers", "events",
                        "concurrency_limits", "concurrency_slots")

OpenStore = Callable[[], Any]


def _empty(engine: Any, tables: tuple[str, ...]) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=BACKENDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[OpenStore]:
    """open_store(): a new store object on this test's (empty) database; all closed after."""
    from orkest.store.sql.store import SqlRunStore

    opened: list[Any] = []
    if request.param == "remote":
        from orkest.client import RemoteRunStore

        server = request.getfixturevalue("live_server")
        server.truncate()
        _empty(server._direct._engine, ORCHESTRATION_TABLES)

        def make() -> Any:
            return RemoteRunStore(server.url)
    else:
        url = (f"sqlite:///{tmp_path / 'orkest.db'}" if request.param == "sqlite"
               else request.getfixturevalue("postgres_url"))

        def make() -> Any:
            return SqlRunStore(url)

        if request.param == "postgresql":
            first = make()
            opened.append(first)
            _empty(first._engine, RUN_TABLES + ORCHESTRATION_TABLES)

    def open_one() -> Any:
        store = make()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> Any:
    return open_store()


def new_id() -> str:
    return uuid.uuid4().hex


def deployment(flow_name: str = "etl", name: str = "nightly", **kw: Any) -> Deployment:
    fields: dict[str, Any] = dict(id=new_id(), entrypoint="flows/etl.py:etl",
                                  created_ts=100.0, updated_ts=100.0)
    fields.update(kw)
    return Deployment(flow_name=flow_name, name=name, **fields)


def scheduled(pool: str = "default", due: float = 50.0, **kw: Any) -> FlowRun:
    run_id = kw.pop("id", None) or new_id()
    fields: dict[str, Any] = dict(flow_name="etl", name="brave-otter",
                                  state_type=S.SCHEDULED, state_name="Scheduled",
                                  state_ts=10.0, created_ts=10.0, work_pool=pool,
                                  scheduled_ts=due)
    fields.update(kw)
    return FlowRun(id=run_id, **fields)


def in_state(store: Any, run: FlowRun, state: StateType) -> None:
    """Move a run to `state` as an engine would record it (a snapshot)."""
    moved = dataclasses.replace(store.read_flow_run(run.id), state_type=state,
                                state_name=state.value.title(), state_ts=200.0)
    store.write(WriteBatch(flow_runs={moved.id: moved}))


def run_together(workers: list[Callable[[], Any]]) -> list[Any]:
    """Call each function in its own thread, all released at once; their results."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)
    errors: list[BaseException] = []

    def main(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = workers[i]()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


class TestDeployments:
    def test_save_and_read_by_id_prefix_and_full_name(self, store: Any) -> None:
        d = deployment(parameters={"day": "2026-01-01", "n": 3},
                       parameter_schema={"properties": {"day": {"type": "string"},
                                                        "n": {"type": "integer"}}},
                       schedules=[{"cron": "0 2 * * *", "timezone": "Europe/Paris"}],
                       triggers=[Webhook("go").to_dict()], work_pool="gpu", concurrency_limit=2,
                       catchup=True, tags=["a", "b"], description="Nightly", priority=5,
                       retries=2, grace_seconds=30.0, code_hash="abc123")
        saved = store.save_deployment(d)
        assert saved == d
        assert store.read_deployment(d.id) == d
        assert store.read_deployment(d.id[:8]) == d
        assert store.read_deployment("etl/nightly") == d
        for missing in ("etl/other", "nope/nightly", "ffffffffffff"):
            with pytest.raises(ObjectNotFound):
                store.read_deployment(missing)

    def test_saving_again_updates_but_keeps_id_pause_and_cursor(self, store: Any) -> None:
        first = store.save_deployment(deployment(entrypoint="old.py:etl"))
        store.update_deployment(first.id, paused=True, last_slot_ts=1234.5)
        again = deployment(entrypoint="new.py:etl", created_ts=500.0, updated_ts=500.0,
                           schedules=[{"interval_seconds": 60}])
        saved = store.save_deployment(again)
        assert (saved.id, saved.created_ts, saved.paused, saved.last_slot_ts) == (
            first.id, 100.0, True, 1234.5)
        assert (saved.entrypoint, saved.updated_ts, saved.schedules) == (
            "new.py:etl", 500.0, [{"interval_seconds": 60}])
        assert store.read_deployment("etl/nightly") == saved
        assert store.count_deployments() == 1

    def test_list_filters_order_and_pages(self, store: Any) -> None:
        for flow, name, pool, paused in [("b", "x", "p1", False), ("a", "z", "p2", True),
                                         ("a", "y", "p1", False), ("c", "w", "p1", True)]:
            store.save_deployment(deployment(flow, name, work_pool=pool, paused=paused))

        def names(**kw: Any) -> list[str]:
            return [d.full_name for d in store.list_deployments(**kw)]

        assert names() == ["a/y", "a/z", "b/x", "c/w"]
        assert names(flow_name="a") == ["a/y", "a/z"]
        assert names(work_pool="p1") == ["a/y", "b/x", "c/w"]
        assert names(paused=True) == ["a/z", "c/w"]
        assert names(paused=False, work_pool="p1") == ["a/y", "b/x"]
        assert names(limit=2, offset=1) == ["a/z", "b/x"]
        assert names(limit=0) == []
        assert store.count_deployments() == 4
        assert store.count_deployments(paused=True, work_pool="p1") == 1
        assert store.count_deployments(flow_name="none") == 0

    def test_update_changes_only_the_given_fields(self, store: Any) -> None:
        d = store.save_deployment(deployment(tags=["t"]))
        updated = store.update_deployment(d.id, paused=True, schedules=[{"interval_seconds": 30}],
                                          concurrency_limit=3)
        assert updated == dataclasses.replace(d, paused=True, schedules=[{"interval_seconds": 30}],
                                              concurrency_limit=3)
        assert store.read_deployment(d.id) == updated
        with pytest.raises(ValueError, match="name"):
            store.update_deployment(d.id, name="renamed")
        with pytest.raises(ObjectNotFound):
            store.update_deployment("f" * 32, paused=False)

    def test_cursors_of_many_deployments(self, store: Any) -> None:
        a = store.save_deployment(deployment("a", "one"))
        b = store.save_deployment(deployment("b", "two"))
        store.set_deployment_cursors({a.id: 60.0, b.id: 120.5})
        assert store.read_deployment(a.id).last_slot_ts == 60.0
        assert store.read_deployment(b.id).last_slot_ts == 120.5
        store.set_deployment_cursors({})

    def test_delete_forgets_it_and_its_waiting_runs_only(self, store: Any) -> None:
        d = store.save_deployment(deployment())
        waiting = scheduled(deployment_id=d.id, idempotency_key=f"{d.id}@1", due=50.0)
        claimed = scheduled(deployment_id=d.id, idempotency_key=f"{d.id}@2", due=40.0)
        store.create_flow_runs([waiting, claimed])
        assert [r.id for r in store.claim_flow_runs("default", "w1", limit=1,
                                                    now=60.0)] == [claimed.id]
        store.delete_deployment(d.id)
        with pytest.raises(ObjectNotFound):
            store.read_deployment(d.id)
        assert [r.id for r in store.list_flow_runs()] == [claimed.id]
        store.delete_deployment(d.id)  # an unknown id: nothing to do


class TestCreatingRuns:
    def test_created_once_per_idempotency_key(self, store: Any) -> None:
        first = scheduled(idempotency_key="d@2026-01-01T00:00:00Z", parameters={"x": 1})
        second = scheduled(idempotency_key="d@2026-01-01T00:00:00Z")
        free = [scheduled(), scheduled()]  # no key: always created
        assert store.create_flow_runs([first, *free]) == [first, *free]
        assert store.create_flow_runs([second]) == []
        assert store.create_flow_runs([]) == []
        assert store.count_flow_runs() == 3
        assert store.read_flow_run(first.id) == first
        history = store.read_states(first.id)
        assert [(s.type, s.name) for s in history] == [(S.SCHEDULED, "Scheduled")]

    def test_two_schedulers_racing_create_each_slot_once(self,
                                                         open_store: OpenStore) -> None:
        keys = [f"dep@slot-{i}" for i in range(20)]
        stores = [open_store(), open_store()]

        def scheduler(store: Any) -> Callable[[], list[FlowRun]]:
            return lambda: store.create_flow_runs([scheduled(idempotency_key=k)
                                                   for k in keys])

        created = run_together([scheduler(s) for s in stores])
        assert sum(len(c) for c in created) == len(keys)
        found = stores[0].list_flow_runs(limit=100)
        assert sorted(r.idempotency_key for r in found) == sorted(keys)

    def test_delete_scheduled_keeps_claimed_and_kept_runs(self, store: Any) -> None:
        d = store.save_deployment(deployment())
        runs = [scheduled(deployment_id=d.id, idempotency_key=f"{d.id}@{i}", due=float(i))
                for i in range(4)]
        other = scheduled(deployment_id="another", idempotency_key="another@0")
        store.create_flow_runs([*runs, other])
        claimed = store.claim_flow_runs("default", "w1", limit=1, now=0.5)
        assert [r.id for r in claimed] == [runs[0].id]
        assert store.delete_scheduled_runs(d.id, keep=[f"{d.id}@2"]) == 2
        left = {r.id for r in store.list_flow_runs()}
        assert left == {runs[0].id, runs[2].id, other.id}
        assert store.delete_scheduled_runs(d.id) == 1
        assert store.delete_scheduled_runs("unknown") == 0


class TestClaims:
    def test_due_runs_by_priority_then_time(self, store: Any) -> None:
        low_early = scheduled(due=10.0)
        high_late = scheduled(due=20.0, priority=5)
        low_late = scheduled(due=30.0)
        future = scheduled(due=1000.0, priority=9)
        elsewhere = scheduled(pool="gpu", due=1.0)
        store.create_flow_runs([low_late, future, low_early, elsewhere, high_late])
        claimed = store.claim_flow_runs("default", "w1", limit=10, now=100.0)
        assert [r.id for r in claimed] == [high_late.id, low_early.id, low_late.id]
        for run in claimed:
            stored = store.read_flow_run(run.id)
            assert (stored.state_type, stored.worker_id, stored.state_ts) == (
                S.PENDING, "w1", 100.0)
            assert store.read_states(run.id)[-1].type is S.PENDING
        assert store.claim_flow_runs("default", "w2", limit=10, now=100.0) == []
        assert store.claim_flow_runs("default", "w2", limit=0, now=2000.0) == []
        assert [r.id for r in store.claim_flow_runs("default", "w2", limit=10,
                                                    now=2000.0)] == [future.id]

    def test_limit_caps_one_claim(self, store: Any) -> None:
        store.create_flow_runs([scheduled(due=float(i)) for i in range(5)])
        assert len(store.claim_flow_runs("default", "w1", limit=2, now=100.0)) == 2
        assert len(store.claim_flow_runs("default", "w1", limit=5, now=100.0)) == 3

    def test_concurrent_claimers_never_share_a_run(self, open_store: OpenStore) -> None:
        runs = [scheduled(due=float(i)) for i in range(40)]
        open_store().create_flow_runs(runs)

        def worker(store: Any, name: str) -> Callable[[], list[str]]:
            def claim_all() -> list[str]:
                mine: list[str] = []
                while batch := store.claim_flow_runs("default", name, limit=3, now=100.0):
                    mine.extend(r.id for r in batch)
                return mine
            return claim_all

        results = run_together([worker(open_store(), f"w{i}") for i in range(4)])
        claimed = [run_id for mine in results for run_id in mine]
        assert len(claimed) == len(set(claimed)) == len(runs)
        check = open_store()
        for name, mine in zip([f"w{i}" for i in range(4)], results, strict=True):
            assert {check.read_flow_run(i).worker_id for i in mine} <= {name}

    def test_pool_concurrency_limit_counts_claimed_and_running(self, store: Any) -> None:
        store.save_work_pool(WorkPool("default", 1.0, concurrency_limit=2))
        store.create_flow_runs([scheduled(due=float(i)) for i in range(5)])
        first = store.claim_flow_runs("default", "w1", limit=10, now=100.0)
        assert len(first) == 2
        assert store.claim_flow_runs("default", "w2", limit=10, now=100.0) == []
        in_state(store, first[0], S.RUNNING)
        assert store.claim_flow_runs("default", "w2", limit=10, now=100.0) == []
        in_state(store, first[0], S.COMPLETED)
        assert len(store.claim_flow_runs("default", "w2", limit=10, now=100.0)) == 1

    def test_deployment_concurrency_limit(self, store: Any) -> None:
        limited = store.save_deployment(deployment("etl", "one", concurrency_limit=1))
        free = store.save_deployment(deployment("etl", "two"))
        store.create_flow_runs([scheduled(deployment_id=limited.id, due=float(i))
                                for i in range(3)])
        store.create_flow_runs([scheduled(deployment_id=free.id, due=float(10 + i))
                                for i in range(2)])
        claimed = store.claim_flow_runs("default", "w1", limit=10, now=100.0)
        by_deployment = [r.deployment_id for r in claimed]
        assert by_deployment.count(limited.id) == 1 and by_deployment.count(free.id) == 2
        assert store.claim_flow_runs("default", "w1", limit=10, now=100.0) == []

    def test_paused_pool_claims_nothing(self, store: Any) -> None:
        store.save_work_pool(WorkPool("default", 1.0, paused=True))
        store.create_flow_runs([scheduled()])
        assert store.claim_flow_runs("default", "w1", limit=5, now=100.0) == []
        store.save_work_pool(WorkPool("default", 1.0, paused=False))
        assert len(store.claim_flow_runs("default", "w1", limit=5, now=100.0)) == 1

    def test_release_hands_back_a_run_that_has_not_started(self, store: Any) -> None:
        a, b = scheduled(due=1.0), scheduled(due=2.0)
        store.create_flow_runs([a, b])
        store.claim_flow_runs("default", "w1", limit=2, now=100.0)
        assert store.release_flow_run(a.id, "w2", 101.0) is False  # not its run
        assert store.release_flow_run(a.id, "w1", 101.0) is True
        back = store.read_flow_run(a.id)
        assert (back.state_type, back.state_name, back.worker_id) == (
            S.SCHEDULED, "Scheduled", None)
        in_state(store, b, S.RUNNING)
        assert store.release_flow_run(b.id, "w1", 102.0) is False  # started already
        again = store.claim_flow_runs("default", "w3", limit=5, now=103.0)
        assert [r.id for r in again] == [a.id]

    def test_reschedule_puts_a_crashed_run_back(self, store: Any) -> None:
        run = scheduled()
        store.create_flow_runs([run])
        store.claim_flow_runs("default", "w1", limit=1, now=100.0)
        assert store.reschedule_flow_run(run.id, 150.0, "worker gone") is False
        in_state(store, run, S.CRASHED)
        assert store.reschedule_flow_run(run.id, 150.0, "worker gone") is True
        back = store.read_flow_run(run.id)
        assert (back.state_type, back.state_name, back.state_message, back.scheduled_ts,
                back.worker_id) == (S.SCHEDULED, "AwaitingRetry", "worker gone", 150.0, None)
        assert [r.id for r in store.claim_flow_runs("default", "w2", limit=1,
                                                    now=150.0)] == [run.id]

    def test_mark_late_names_runs_past_their_grace(self, store: Any) -> None:
        d = store.save_deployment(deployment(grace_seconds=60.0))
        run = scheduled(deployment_id=d.id, due=100.0)
        manual = scheduled(due=100.0)  # no deployment: never late
        store.create_flow_runs([run, manual])
        assert store.mark_late_runs(150.0) == []
        assert store.mark_late_runs(161.0) == [run.id]
        late = store.read_flow_run(run.id)
        assert (late.state_type, late.state_name) == (S.SCHEDULED, "Late")
        assert store.mark_late_runs(300.0) == []  # named once
        claimed = store.claim_flow_runs("default", "w1", limit=5, now=300.0)
        assert {r.id for r in claimed} == {run.id, manual.id}  # late runs still run


class TestPoolsAndWorkers:
    def test_work_pools(self, store: Any) -> None:
        saved = store.save_work_pool(WorkPool("gpu", 10.0, concurrency_limit=4,
                                              description="GPUs"))
        assert saved == WorkPool("gpu", 10.0, 4, False, "GPUs")
        updated = store.save_work_pool(WorkPool("gpu", 99.0, paused=True))
        assert updated == WorkPool("gpu", 10.0, None, True, None)  # created_ts kept
        store.save_work_pool(WorkPool("cpu", 20.0))
        assert store.read_work_pool("gpu") == updated
        assert [p.name for p in store.list_work_pools()] == ["cpu", "gpu"]
        with pytest.raises(ObjectNotFound):
            store.read_work_pool("tpu")

    def test_worker_heartbeats(self, store: Any) -> None:
        def worker(id: str, pool: str, beat: float, **kw: Any) -> Worker:
            return Worker(id, f"worker-{id}", pool, "host", 42, started_ts=beat,
                          heartbeat_ts=beat, **kw)

        store.worker_heartbeat(worker("a", "p1", 10.0))
        store.worker_heartbeat(worker("b", "p2", 20.0))
        store.worker_heartbeat(worker("c", "p1", 30.0, concurrency=4))
        store.worker_heartbeat(worker("a", "p1", 40.0, running=2, status="stopped"))
        found = store.list_workers()
        assert [w.id for w in found] == ["a", "c", "b"]
        assert found[0] == Worker("a", "worker-a", "p1", "host", 42, started_ts=10.0,
                                  heartbeat_ts=40.0, running=2, status="stopped")
        assert [w.id for w in store.list_workers(work_pool="p1")] == ["a", "c"]
        assert [w.id for w in store.list_workers(limit=1)] == ["a"]


class TestEvents:
    def test_save_read_and_list(self, store: Any) -> None:
        events = [Event(f"e{i}", "file" if i % 2 else "hook", float(i), "api",
                        payload={"i": i, "path": "/x"}, resource="res",
                        flow_run_ids=[f"r{i}"]) for i in range(5)]
        for event in events:
            assert store.save_event(event) == event
        assert store.read_event("e3") == events[3]
        with pytest.raises(ObjectNotFound):
            store.read_event("nope")
        assert [e.id for e in store.list_events()] == ["e4", "e3", "e2", "e1", "e0"]
        assert [e.id for e in store.list_events(name="file")] == ["e3", "e1"]
        assert [e.id for e in store.list_events(since=2.0)] == ["e4", "e3", "e2"]
        assert [e.id for e in store.list_events(limit=2, offset=1)] == ["e3", "e2"]
        store.save_event(dataclasses.replace(events[0], flow_run_ids=["r0", "r9"]))
        assert store.read_event("e0").flow_run_ids == ["r0", "r9"]


class TestConcurrencyLimits:
    def test_set_list_delete(self, store: Any) -> None:
        assert store.set_concurrency_limit("db", 2, 10.0) == ConcurrencyLimit("db", 2, 10.0)
        store.set_concurrency_limit("api", 5, 11.0)
        assert store.set_concurrency_limit("db", 3, 12.0) == ConcurrencyLimit("db", 3, 10.0)
        assert [(x.tag, x.limit) for x in store.list_concurrency_limits(20.0)] == [
            ("api", 5), ("db", 3)]
        store.delete_concurrency_limit("api")
        assert [x.tag for x in store.list_concurrency_limits(20.0)] == ["db"]
        with pytest.raises(ObjectNotFound):
            store.delete_concurrency_limit("api")

    def test_slots_are_taken_released_renewed_and_expire(self, store: Any) -> None:
        store.set_concurrency_limit("db", 2, 0.0)

        def active(now: float) -> int:
            return store.list_concurrency_limits(now)[0].active

        assert store.acquire_concurrency_slots(["db"], "h1", "run-1", 100.0, 10.0)
        assert store.acquire_concurrency_slots(["db", "free-tag"], "h2", "run-2", 100.0,
                                               10.0)
        assert not store.acquire_concurrency_slots(["db"], "h3", "run-3", 101.0, 10.0)
        assert store.acquire_concurrency_slots(["db"], "h1", "run-1", 102.0, 10.0)  # again
        assert active(105.0) == 2
        store.renew_concurrency_slots(["run-1"], 108.0, 10.0)  # h1 until 118; h2 until 110
        assert active(111.0) == 1
        assert store.acquire_concurrency_slots(["db"], "h3", "run-3", 111.0, 10.0)
        assert not store.acquire_concurrency_slots(["db"], "h4", None, 112.0, 10.0)
        store.release_concurrency_slots("h1")
        assert store.acquire_concurrency_slots(["db"], "h4", None, 112.0, 10.0)
        assert active(112.0) == 2
        store.renew_concurrency_slots([], 112.0, 10.0)

    def test_all_tags_or_none(self, store: Any) -> None:
        store.set_concurrency_limit("a", 1, 0.0)
        store.set_concurrency_limit("b", 1, 0.0)
        assert store.acquire_concurrency_slots(["b"], "h1", None, 10.0, 60.0)
        assert not store.acquire_concurrency_slots(["a", "b"], "h2", None, 10.0, 60.0)
        assert {x.tag: x.active for x in store.list_concurrency_limits(10.0)} == {
            "a": 0, "b": 1}
        assert store.acquire_concurrency_slots(["unlimited"], "h2", None, 10.0, 60.0)
        assert store.acquire_concurrency_slots([], "h2", None, 10.0, 60.0)


@pytest.mark.parametrize("open_store", ["remote"], indirect=True)
class TestRemoteLongPoll:
    """Beyond the port: a worker's claim over HTTP waits for a run instead of polling."""

    def test_a_waiting_claim_gets_a_new_run_at_once(self, open_store: OpenStore) -> None:
        worker, scheduler = open_store(), open_store()
        run = scheduled(due=time.time() - 1)
        timer = threading.Timer(0.3, scheduler.create_flow_runs, args=([run],))
        started = time.monotonic()
        timer.start()
        try:
            claimed = worker.claim_flow_runs("default", "w1", limit=1, wait_seconds=10.0)
        finally:
            timer.join()
        waited = time.monotonic() - started
        assert [r.id for r in claimed] == [run.id]
        assert 0.25 < waited < 2.0

    def test_a_claim_with_nothing_due_waits_then_answers_empty(
            self, open_store: OpenStore) -> None:
        store = open_store()
        started = time.monotonic()
        assert store.claim_flow_runs("default", "w1", limit=1, wait_seconds=0.4) == []
        assert 0.35 < time.monotonic() - started < 3.0
