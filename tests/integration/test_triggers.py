"""Each trigger end to end with the real thing, on a real SQLite store (ORKEST_HOME):
a file written in two parts, HTTP requests to `orkest server start`, inserts into another
SQLite database (and PostgreSQL with LISTEN/NOTIFY when it is up), a flow run finishing,
and `orkest event emit`. The runs triggered are SCHEDULED runs of deployments; no worker
is needed to check them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orkest._internal.loading import load_object
from orkest.core.states import StateType
from orkest.services import deployments
from orkest.services.triggers import TriggerService, emit_event
from orkest.store import open_store
from orkest.triggers import DbChange, Event, FileArrival, FlowRunFinished, Webhook

COMMAND = [sys.executable, "-m", "orkest.cli.main"]
POSTGRES_URL = os.environ.get("ORKEST_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")

FLOWS = '''
from typing import Any

import orkest


@orkest.flow
def ingest(path: str = "", size: int = 0, rows: Any = None, source: str = "") -> str:
    return path


@orkest.flow
def extract(fail: bool = False) -> int:
    if fail:
        raise RuntimeError("extract is told to fail")
    return 1
'''


def wait_for(predicate: Callable[[], Any], timeout: float = 15, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def store() -> Any:
    return open_store()


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "trigger_flows.py"
    path.write_text(FLOWS)
    return path


def deploy(store: Any, flows: Path, flow: str, name: str, *triggers: Any) -> Any:
    loaded = load_object(f"{flows}:{flow}")
    return deployments.save(store, deployments.build_deployment(
        loaded, name, entrypoint=f"{flows}:{flow}", triggers=list(triggers)))


def runs_of(store: Any, deployment: Any) -> list[Any]:
    return [r for r in store.list_flow_runs(flow_name=deployment.flow_name, limit=100)
            if r.deployment_id == deployment.id]


@pytest.fixture
def service(store: Any) -> Iterator[Callable[..., TriggerService]]:
    """A TriggerService running in a thread (made when the test asks, after deploying)."""
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(**options: Any) -> TriggerService:
        options.setdefault("interval", 0.05)
        trigger_service = TriggerService(store, **options)
        stop = threading.Event()
        thread = threading.Thread(target=trigger_service.run, args=(stop,), daemon=True)
        thread.start()
        started.append((thread, stop))
        return trigger_service

    yield start
    for thread, stop in started:
        stop.set()
        thread.join(timeout=10)


# -- FileArrival ----------------------------------------------------------------------------

def test_a_file_fires_once_when_complete_with_its_path(store: Any, flows: Path,
                                                        tmp_path: Path, service: Any) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    deployment = deploy(store, flows, "ingest", "on-file", FileArrival(
        inbox, pattern="*.csv",
        parameters={"path": "{{ event.path }}", "size": "{{ event.size }}"}))
    watcher = service(quiet_seconds=0.3)
    wait_for(lambda: watcher.files.watching == [str(inbox.resolve())], what="the watch")

    target = inbox / "orders.csv"
    with target.open("w") as handle:
        handle.write("id,amount\n1,10\n")
        handle.flush()
        os.fsync(handle.fileno())
        # Still open, still being written: several quiet periods pass without a run.
        time.sleep(1.0)
        assert runs_of(store, deployment) == []
        handle.write("2,20\n")
    (inbox / "notes.txt").write_text("not a csv")

    run = wait_for(lambda: runs_of(store, deployment), what="the triggered run")[0]
    assert run.state_type is StateType.SCHEDULED
    assert run.parameters["path"] == str(target.resolve())
    assert run.parameters["size"] == len("id,amount\n1,10\n2,20\n")
    event = store.read_event(run.event_id)
    assert event.name == "file/arrived" and event.source == "file"
    assert event.flow_run_ids == [run.id]
    assert [e.name for e in store.list_events()] == ["file/arrived"]  # not notes.txt

    time.sleep(0.8)  # more quiet periods: the complete file does not fire again
    assert len(runs_of(store, deployment)) == 1


def test_a_file_moved_in_fires_and_a_paused_deployment_does_not(
        store: Any, flows: Path, tmp_path: Path, service: Any) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    live = deploy(store, flows, "ingest", "live", FileArrival(
        inbox, parameters={"path": "{{ event.path }}"}))
    paused = deploy(store, flows, "ingest", "paused", FileArrival(inbox))
    store.update_deployment(paused.id, paused=True)
    watcher = service(quiet_seconds=0.2)
    wait_for(lambda: watcher.files.watching, what="the watch")
    staging = tmp_path / "staging.json"
    staging.write_text("{}")
    staging.rename(inbox / "data.json")
    run = wait_for(lambda: runs_of(store, live), what="the triggered run")[0]
    assert run.parameters["path"] == str((inbox / "data.json").resolve())
    assert runs_of(store, paused) == []


# -- Webhook and POST /api/events, on a real server -----------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(orkest_home: Path) -> Iterator[str]:
    """`orkest server start` on a free loopback port, on the test's ORKEST_HOME."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
    env["ORKEST_HOME"] = str(orkest_home)
    log = orkest_home.parent / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen([*COMMAND, "server", "start", "--port", str(port),
                                    "--log-level", "warning"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            return httpx.get(f"{base}/api/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout=30, what="the server to answer")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_webhook_request_runs_the_deployment_with_the_body(store: Any, flows: Path,
                                                               server: str) -> None:
    deployment = deploy(store, flows, "ingest", "on-hook", Webhook(
        "orders-in", parameters={"rows": "{{ event.body.rows }}",
                                 "source": "hook {{ event.body.origin }}"}))
    answer = httpx.post(f"{server}/api/events/webhook/orders-in",
                        content=json.dumps({"rows": [1, 2, 3], "origin": "shop"}),
                        headers={"content-type": "application/json"}, timeout=10)
    assert answer.status_code == 201, answer.text
    event = answer.json()
    assert event["name"] == "webhook/orders-in" and event["source"] == "webhook"
    assert event["payload"] == {"rows": [1, 2, 3], "origin": "shop"}
    [run_id] = event["flow_run_ids"]
    run = store.read_flow_run(run_id)
    assert run.deployment_id == deployment.id and run.event_id == event["id"]
    assert run.parameters["rows"] == [1, 2, 3] and run.parameters["source"] == "hook shop"
    assert run.state_type is StateType.SCHEDULED

    detail = httpx.get(f"{server}/api/events/{event['id']}", timeout=10).json()
    assert [r["id"] for r in detail["flow_runs"]] == [run_id]
    assert detail["flow_runs"][0]["flow_name"] == "ingest"


def test_a_webhook_with_invalid_json_is_a_400_that_triggers_nothing(
        store: Any, flows: Path, server: str) -> None:
    deployment = deploy(store, flows, "ingest", "on-hook", Webhook("orders-in"))
    answer = httpx.post(f"{server}/api/events/webhook/orders-in", content=b"{not json",
                        headers={"content-type": "application/json"}, timeout=10)
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["detail"]
    assert store.list_events() == [] and runs_of(store, deployment) == []


def test_a_webhook_of_an_unknown_name_is_a_404(store: Any, flows: Path, server: str) -> None:
    deploy(store, flows, "ingest", "on-hook", Webhook("orders-in"))
    answer = httpx.post(f"{server}/api/events/webhook/nobody-has-this", json={"a": 1},
                        timeout=10)
    assert answer.status_code == 404
    assert "'nobody-has-this'" in answer.json()["detail"]
    assert store.list_events() == []


def test_post_events_and_list_them_newest_first(store: Any, flows: Path,
                                                server: str) -> None:
    deployment = deploy(store, flows, "ingest", "on-order", Event(
        "orders/created", match={"region": "eu"},
        parameters={"path": "order {{ event.payload.id }}"}))
    first = httpx.post(f"{server}/api/events", json={"name": "orders/created",
                                                     "payload": {"region": "us", "id": 1}})
    second = httpx.post(f"{server}/api/events", json={"name": "orders/created",
                                                      "payload": {"region": "eu", "id": 2}})
    assert first.status_code == second.status_code == 201
    assert first.json()["flow_run_ids"] == []
    [run_id] = second.json()["flow_run_ids"]
    assert store.read_flow_run(run_id).parameters["path"] == "order 2"
    assert [r.id for r in runs_of(store, deployment)] == [run_id]

    listed = httpx.get(f"{server}/api/events", params={"name": "orders/created"}).json()
    assert [e["id"] for e in listed["items"]] == [second.json()["id"], first.json()["id"]]
    assert listed["total"] == 2
    assert httpx.post(f"{server}/api/events", json={"name": ""}).status_code == 422
    assert httpx.get(f"{server}/api/events/no-such-event").status_code == 404

    # `orkest event emit` in remote mode: the server emits it.
    env = {**os.environ, "ORKEST_API_URL": f"{server}/api", "COLUMNS": "200"}
    done = subprocess.run([*COMMAND, "event", "emit", "orders/created", "--payload",
                           '{"region": "eu", "id": 3}', "--json"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    emitted = json.loads(done.stdout)
    assert emitted["source"] == "api" and len(emitted["flow_run_ids"]) == 1
    assert len(runs_of(store, deployment)) == 2


# -- DbChange -------------------------------------------------------------------------------

def test_a_sqlite_insert_fires_once_per_change(store: Any, flows: Path,
                                               tmp_path: Path) -> None:
    source = tmp_path / "shop.db"
    with sqlite3.connect(source) as conn:
        conn.execute("create table orders (id integer primary key, amount int)")
        conn.execute("insert into orders (amount) values (10)")
    conn.close()
    deployment = deploy(store, flows, "ingest", "on-orders", DbChange(
        f"sqlite:///{source}", "select count(*), max(id) from orders", poll_seconds=0.05,
        parameters={"rows": "{{ event.rows }}"}))
    watcher = TriggerService(store)
    try:
        assert watcher.tick() == []  # the first poll is the baseline
        time.sleep(0.06)
        assert watcher.tick() == []  # polled again, the same rows
        assert runs_of(store, deployment) == []

        def insert() -> None:
            with sqlite3.connect(source) as writer:
                writer.execute("insert into orders (amount) values (20)")
            writer.close()

        insert()
        [event] = wait_for(watcher.tick, what="the change event")
        assert event.name == "db/changed" and event.source == "db"
        assert event.payload["rows"] == [[2, 2]]
        assert event.payload["previous_rows"] == [[1, 1]]
        [run] = runs_of(store, deployment)
        assert run.parameters["rows"] == [[2, 2]] and run.event_id == event.id

        time.sleep(0.1)
        assert watcher.tick() == []  # unchanged: nothing more
        insert()
        wait_for(watcher.tick, what="the second change event")
        assert len(runs_of(store, deployment)) == 2
    finally:
        watcher.close()


@pytest.fixture
def postgres() -> Iterator[Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}); start it "
                    "to test DbChange with LISTEN/NOTIFY")
    yield engine
    engine.dispose()


def test_a_postgres_insert_with_notify_fires_at_once(store: Any, flows: Path,
                                                     postgres: Any) -> None:
    from sqlalchemy import text

    table = f"orders_{uuid.uuid4().hex[:10]}"
    channel = f"{table}_changed"
    with postgres.connect() as conn:
        conn.execute(text(f"create table {table} (id serial primary key)"))
    try:
        # A poll every minute: only the NOTIFY can make it fire within the test.
        deployment = deploy(store, flows, "ingest", "on-pg", DbChange(
            POSTGRES_URL, f"select count(*) from {table}", poll_seconds=60, channel=channel,
            parameters={"source": "{{ event.notification }}"}))
        watcher = TriggerService(store)
        try:
            watcher.tick()
            [watch] = watcher._db_watches.values()  # noqa: SLF001 - wait for the baseline
            wait_for(lambda: watcher.tick() == [] and watch._digest is not None  # noqa: SLF001
                     and watch.listening.is_set(), what="the baseline poll and LISTEN")
            watcher.tick()  # the poll LISTEN asks for on connecting: nothing changed yet
            with postgres.connect() as conn:
                conn.execute(text(f"insert into {table} default values"))
                conn.execute(text(f"notify {channel}, 'order 1'"))
            [event] = wait_for(watcher.tick, what="the NOTIFY to fire")
            assert event.payload["rows"] == [[1]]
            [run] = runs_of(store, deployment)
            assert run.parameters["source"] == "order 1"
        finally:
            watcher.close()
    finally:
        with postgres.connect() as conn:
            conn.execute(text(f"drop table {table}"))


# -- FlowRunFinished ------------------------------------------------------------------------

def test_a_finished_run_of_a_flow_runs_the_next_deployment(store: Any, flows: Path,
                                                            service: Any) -> None:
    downstream = deploy(store, flows, "ingest", "after-extract", FlowRunFinished(
        "extract", parameters={"path": "{{ event.flow_run_id }}",
                               "source": "{{ event.state }}"}))
    deploy(store, flows, "ingest", "after-extract-failed",
           FlowRunFinished("extract", states=["FAILED"]))
    service(runs_poll_seconds=0.1)
    extract = load_object(f"{flows}:extract")
    extract()  # a real run of the upstream flow, recorded in the same store
    upstream = wait_for(lambda: store.list_flow_runs(flow_name="extract",
                                                     state_types=[StateType.COMPLETED]),
                        what="the upstream run")[0]
    run = wait_for(lambda: runs_of(store, downstream), what="the downstream run")[0]
    assert run.parameters == {"path": upstream.id, "source": "COMPLETED"}
    event = store.read_event(run.event_id)
    assert event.name == "flow-run/extract/COMPLETED" and event.resource == upstream.id
    time.sleep(0.3)  # more polls: the same ending fires once
    assert len(runs_of(store, downstream)) == 1
    assert len(store.list_events()) == 1  # the FAILED trigger saw nothing

    # A second trigger service (say `orkest scheduler start` beside the server) sees the
    # same ending: its event is stored, but the run exists once (idempotency key).
    second = TriggerService(store)
    second.finished.since = upstream.state_ts - 1
    [again] = second.tick()
    assert again.flow_run_ids == [] and len(runs_of(store, downstream)) == 1
    second.close()


# -- Event and `orkest event emit` ----------------------------------------------------------

def orkest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_orkest_event_emit_runs_matching_deployments(store: Any, flows: Path) -> None:
    deployment = deploy(store, flows, "ingest", "on-order", Event(
        "orders/created", match={"region": "eu"},
        parameters={"path": "{{ event.payload.file }}"}))
    done = orkest("event", "emit", "orders/created", "--payload",
                  '{"region": "eu", "file": "/data/7.csv"}')
    assert done.returncode == 0, done.stderr
    [run] = runs_of(store, deployment)
    assert run.parameters["path"] == "/data/7.csv"
    assert run.id in done.stdout and run.event_id in done.stdout
    assert "started 1 run(s)" in done.stdout

    other = orkest("event", "emit", "orders/created", "--payload", '{"region": "us"}')
    assert other.returncode == 0 and "started 0 run(s)" in other.stdout
    assert len(runs_of(store, deployment)) == 1

    bad = orkest("event", "emit", "orders/created", "--payload", "{oops")
    assert bad.returncode == 2 and "--payload is not valid JSON" in bad.stderr

    listed = json.loads(orkest("event", "ls", "--json").stdout)
    assert [e["source"] for e in listed] == ["cli", "cli"]
    assert listed[1]["flow_run_ids"] == [run.id]
    table = orkest("event", "ls").stdout
    assert "orders/created" in table and run.id[:8] in table


def test_a_bad_template_skips_its_trigger_and_keeps_the_event(store: Any,
                                                              flows: Path) -> None:
    good = deploy(store, flows, "ingest", "good", Event("ping"))
    bad = deploy(store, flows, "ingest", "bad", Event(
        "ping", parameters={"path": "{{ event.payload.missing }}"}))
    event = emit_event(store, "ping", {"here": 1})
    assert [r.id for r in runs_of(store, good)] == event.flow_run_ids
    assert runs_of(store, bad) == []
    assert store.read_event(event.id).flow_run_ids == event.flow_run_ids
