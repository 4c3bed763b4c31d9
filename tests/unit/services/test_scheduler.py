"""The scheduler creates each slot's run once, honours pause, catchup and schedule changes,
and names late runs; backfill fills a range. Real SQLite (and two real processes)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.unit.services.sched_flows import needs_region, report

from orkest.core.states import StateType
from orkest.errors import DeploymentError, ObjectNotFound
from orkest.schedules import Cron, Interval
from orkest.services.deployments import build_deployment, run_deployment, save
from orkest.services.scheduler import Scheduler, backfill
from orkest.store.sql.store import SqlRunStore

T0 = dt.datetime(2026, 3, 2, 10, 0, 30, tzinfo=dt.UTC).timestamp()


@pytest.fixture()
def store(tmp_path: Path):
    opened = SqlRunStore(f"sqlite:///{tmp_path / 'sched.db'}")
    yield opened
    opened.close()


def deploy(store, flow=report, name="every-minute", now=T0, **options):
    options.setdefault("schedules", [Cron("* * * * *")])
    return save(store, build_deployment(flow, name, now=now, **options), now=now)


def runs_of(store, deployment_id):
    runs = store.list_flow_runs(limit=10_000)
    return sorted((r for r in runs if r.deployment_id == deployment_id),
                  key=lambda r: r.logical_ts)


def test_tick_creates_one_run_per_slot_in_the_horizon(store) -> None:
    deployment = deploy(store)
    report_ = Scheduler(store, horizon=180).tick(T0)
    runs = runs_of(store, deployment.id)
    assert len(report_.created) == 3 == len(runs)
    slots = [dt.datetime.fromtimestamp(r.logical_ts, dt.UTC).strftime("%H:%M") for r in runs]
    assert slots == ["10:01", "10:02", "10:03"]
    first = runs[0]
    assert first.state_type is StateType.SCHEDULED and first.state_name == "Scheduled"
    assert first.scheduled_ts == first.logical_ts
    assert first.work_pool == "default" and first.entrypoint.endswith("sched_flows.py:report")
    assert first.parameters == {}  # defaults apply when the run starts
    assert [s.type for s in store.read_states(first.id)] == [StateType.SCHEDULED]


def test_ticks_and_schedulers_never_create_a_slot_twice(store) -> None:
    deployment = deploy(store)
    Scheduler(store, horizon=180).tick(T0)
    Scheduler(store, horizon=180).tick(T0 + 1)  # a second scheduler, cursor already moved
    store.update_deployment(deployment.id, last_slot_ts=None)  # as if the cursor was lost
    again = Scheduler(store, horizon=180).tick(T0 + 2)
    assert again.created == []
    assert len(runs_of(store, deployment.id)) == 3


def test_two_scheduler_processes_at_once_create_each_slot_once(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    store = SqlRunStore(f"sqlite:///{db}")
    deployments = [deploy(store, name=f"d{i}", schedules=[Interval(dt.timedelta(seconds=10))])
                   for i in range(20)]
    script = textwrap.dedent(f"""
        import sys, time
        from orkest.services.scheduler import Scheduler
        from orkest.store.sql.store import SqlRunStore
        store = SqlRunStore("sqlite:///{db}")
        scheduler = Scheduler(store, horizon=600)
        for i in range(8):
            for d in store.list_deployments():  # forget cursors: both race on every slot
                store.update_deployment(d.id, last_slot_ts=None)
            scheduler.tick({T0} + i)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=Path.cwd())
             for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    for deployment in deployments:
        runs = runs_of(store, deployment.id)
        slots = [r.logical_ts for r in runs]
        assert len(slots) == len(set(slots)) >= 60
    store.close()


def test_paused_deployments_get_no_runs_and_resume_skips_the_gap(store) -> None:
    deployment = deploy(store)
    store.update_deployment(deployment.id, paused=True)
    assert Scheduler(store, horizon=120).tick(T0).created == []
    store.update_deployment(deployment.id, paused=False)
    created = Scheduler(store, horizon=120).tick(T0 + 3600).created
    times = sorted(store.read_flow_run(i).logical_ts for i in created)
    assert times[0] > T0 + 3600  # no catchup: the hour while paused is skipped


def test_catchup_creates_the_missed_slots(store) -> None:
    deployment = deploy(store, catchup=True, schedules=[Cron("0 * * * *")])
    Scheduler(store, horizon=60).tick(T0)  # cursor None: starts from now
    store.update_deployment(deployment.id, last_slot_ts=T0 - 5 * 3600 - 30)
    created = Scheduler(store, horizon=60).tick(T0)
    hours = sorted(dt.datetime.fromtimestamp(store.read_flow_run(i).logical_ts, dt.UTC).hour
                   for i in created.created)
    assert hours == [6, 7, 8, 9, 10]


def test_changing_the_schedule_drops_future_runs_that_no_longer_match(store) -> None:
    deployment = deploy(store)
    Scheduler(store, horizon=600).tick(T0)
    assert len(runs_of(store, deployment.id)) == 10
    manual = run_deployment(store, deployment.id, now=T0)  # a run by hand stays
    deploy(store, schedules=[Cron("*/5 * * * *")])
    left = runs_of(store, deployment.id)
    minutes = sorted(dt.datetime.fromtimestamp(r.logical_ts, dt.UTC).minute
                     for r in left if r.id != manual.id)
    assert minutes == [5, 10]  # only the slots the new schedule also has
    assert manual.id in {r.id for r in left}


def test_late_runs_are_named_late_after_their_grace(store) -> None:
    deployment = deploy(store, grace_seconds=30)
    Scheduler(store, horizon=60).tick(T0)
    (run,) = runs_of(store, deployment.id)
    assert Scheduler(store, horizon=0).tick(run.scheduled_ts + 10).late == []
    late = Scheduler(store, horizon=0).tick(run.scheduled_ts + 31).late
    assert late == [run.id]
    again = store.read_flow_run(run.id)
    assert (again.state_type, again.state_name) == (StateType.SCHEDULED, "Late")
    assert [s.name for s in store.read_states(run.id)] == ["Scheduled", "Late"]


def test_backfill_creates_one_run_per_slot_with_its_logical_date(store) -> None:
    deployment = deploy(store, schedules=[Cron("0 2 * * *", timezone="Europe/Berlin")])
    start = dt.datetime(2026, 3, 27, tzinfo=dt.UTC)
    end = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    created, skipped = backfill(store, deployment.full_name, start, end, now=T0)
    assert skipped == 0
    local = [dt.datetime.fromtimestamp(r.logical_ts, dt.UTC)
             .astimezone(dt.timezone(dt.timedelta(hours=0))) for r in created]
    # 02:00 Berlin is 01:00 UTC before the spring change (29 March) and 00:00 UTC after;
    # on the 29th itself 02:00 does not exist and fires at the jump (01:00 UTC).
    assert [(t.day, t.hour) for t in local] == [(27, 1), (28, 1), (29, 1), (30, 0)]
    assert all(r.scheduled_ts == T0 for r in created)  # due now
    again, skipped = backfill(store, deployment.id, start, end, now=T0)
    assert again == [] and skipped == 4


def test_backfill_and_run_refuse_bad_input(store) -> None:
    deployment = deploy(store)
    later = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    with pytest.raises(DeploymentError, match="--end .* must be after --start"):
        backfill(store, deployment.id, later, later)
    with pytest.raises(ObjectNotFound, match="No deployment 'report/nope'"):
        run_deployment(store, "report/nope")
    with pytest.raises(DeploymentError, match="no parameter 'colour'"):
        run_deployment(store, deployment.id, {"colour": "red"})
    strict = deploy(store, flow=needs_region, name="manual", schedules=[])
    with pytest.raises(DeploymentError, match="needs parameter 'region'"):
        run_deployment(store, strict.full_name)
    run = run_deployment(store, strict.full_name, {"region": "eu"})
    assert run.parameters == {"region": "eu"} and run.retries == 2


def test_deploy_refuses_bad_definitions(store) -> None:
    with pytest.raises(DeploymentError, match="name 'a/b'"):
        build_deployment(report, "a/b")
    with pytest.raises(DeploymentError, match="concurrency_limit"):
        build_deployment(report, "x", concurrency_limit=0)
    with pytest.raises(DeploymentError, match="no parameter 'nope'"):
        build_deployment(report, "x", parameters={"nope": 1})
    with pytest.raises(ValueError, match="minute"):
        build_deployment(report, "x", schedules=["61 * * * *"])


def test_redeploying_keeps_id_pause_and_cursor(store) -> None:
    first = deploy(store)
    Scheduler(store, horizon=120).tick(T0)
    store.update_deployment(first.id, paused=True)
    cursor = store.read_deployment(first.id).last_slot_ts
    second = deploy(store, parameters={"copies": 3})
    assert second.id == first.id
    stored = store.read_deployment("report/every-minute")
    assert stored.paused and stored.last_slot_ts == cursor
    assert stored.parameters == {"copies": 3}
