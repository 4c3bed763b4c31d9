"""The automation service on a real SQLite store, notifying a real HTTP server on loopback.

Runs are written straight into the store in the states the service looks for (a failed
run, a run RUNNING since some time), so each test says exactly which run should notify.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from helpers import free_port, wait_for
from orkest._internal.ids import new_id
from orkest.config import WebhookNotification
from orkest.core.deployments import Deployment
from orkest.core.records import FlowRun
from orkest.core.states import StateType
from orkest.errors import ObjectNotFound
from orkest.services.automations import AutomationService, create_automation, set_enabled
from orkest.store import open_store

UI = "http://orkest.example:4200"
POSTGRES_URL = os.environ.get("ORKEST_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Receiver:
    """A webhook endpoint on loopback that records every JSON body it is sent."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server convention
                length = int(self.headers.get("Content-Length", 0))
                receiver.messages.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def store() -> Any:
    return open_store()


def deployment(store: Any, flow: str = "etl", name: str = "nightly") -> Deployment:
    now = time.time()
    return store.save_deployment(Deployment(id=new_id(), flow_name=flow, name=name,
                                            entrypoint=f"flows.py:{flow}", created_ts=now,
                                            updated_ts=now))


def add_run(store: Any, state: StateType, *, deployment: Deployment | None = None,
            flow: str = "etl", since: float = 0.0, message: str | None = None,
            name: str | None = None) -> FlowRun:
    """A run of `deployment` (or of `flow`) that entered `state` `since` seconds ago."""
    at = time.time() - since
    run = FlowRun(id=new_id(), flow_name=deployment.flow_name if deployment else flow,
                  name=name or f"run-{new_id()[:6]}", state_type=state,
                  state_name=state.value.capitalize(), state_ts=at, created_ts=at - 1,
                  state_message=message, start_ts=at - 1, run_count=1,
                  end_ts=at if state is not StateType.RUNNING else None,
                  deployment_id=deployment.id if deployment else None)
    store.create_flow_runs([run])
    return run


def webhook(store: Any, url: str, name: str = "ops") -> str:
    WebhookNotification(url=url, timeout=2).save(name, overwrite=True, store=store)
    return f"webhook-notification/{name}"


def service(store: Any, **options: Any) -> AutomationService:
    options.setdefault("ui_url", UI)
    options.setdefault("backoff", 0.01)
    return AutomationService(store, **options)


def test_a_failed_run_notifies_once_with_name_state_reason_and_link(
        store: Any, receiver: Receiver) -> None:
    etl = deployment(store)
    create_automation(store, "etl-failures", deployment="etl/nightly",
                      notify=webhook(store, receiver.url), now=time.time() - 5)
    run = add_run(store, StateType.FAILED, deployment=etl, name="brisk-otter",
                  message="Flow run failed: ValueError: bad row 17")
    add_run(store, StateType.COMPLETED, deployment=etl)
    watcher = service(store)

    assert len(watcher.tick()) == 1
    assert len(watcher.tick()) == 0  # the next tick does not send it again
    assert len(receiver.messages) == 1
    text = receiver.messages[0]["text"]
    assert "brisk-otter" in text and "FAILED" in text
    assert "ValueError: bad row 17" in text
    assert f"{UI}/#/runs/{run.id}" in text


def test_a_custom_message_template_is_used(store: Any, receiver: Receiver) -> None:
    etl = deployment(store)
    create_automation(store, "custom", deployment=etl.id, notify=webhook(store, receiver.url),
                      message="Subject: {{ name }} {{ state_type }}\n{{ reason }} {{ url }}",
                      now=time.time() - 5)
    run = add_run(store, StateType.CRASHED, deployment=etl, message="worker died")
    service(store).tick()
    assert receiver.messages[0]["subject"] == f"{run.name} CRASHED"
    assert receiver.messages[0]["body"] == f"worker died {UI}/#/runs/{run.id}"


def test_a_run_running_too_long_fires_once_and_a_short_one_not(
        store: Any, receiver: Receiver) -> None:
    etl = deployment(store)
    create_automation(store, "slow", deployment="etl/nightly", states=(),
                      running_longer_than=30, notify=webhook(store, receiver.url))
    slow = add_run(store, StateType.RUNNING, deployment=etl, since=45, name="slow-yak")
    add_run(store, StateType.RUNNING, deployment=etl, since=5)
    add_run(store, StateType.FAILED, deployment=etl)  # states=(): endings do not fire
    watcher = service(store)
    for _ in range(3):
        watcher.tick()
    assert len(receiver.messages) == 1
    text = receiver.messages[0]["text"]
    assert "slow-yak" in text and "RUNNING" in text and "longer than 30s" in text
    assert f"/#/runs/{slow.id}" in text
    # A restarted service (a new instance) knows it was sent already.
    assert service(store).tick() == []
    assert len(receiver.messages) == 1


def test_an_automation_of_another_deployment_does_not_fire(
        store: Any, receiver: Receiver) -> None:
    etl, other = deployment(store), deployment(store, name="hourly")
    create_automation(store, "hourly-failures", deployment="etl/hourly",
                      notify=webhook(store, receiver.url), now=time.time() - 5)
    add_run(store, StateType.FAILED, deployment=etl)
    assert service(store).tick() == []
    add_run(store, StateType.FAILED, deployment=other)
    assert len(service(store).tick()) == 1
    assert len(receiver.messages) == 1


def test_a_flow_automation_watches_every_run_of_the_flow(
        store: Any, receiver: Receiver) -> None:
    etl = deployment(store)
    create_automation(store, "any-etl", flow_name="etl", notify=webhook(store, receiver.url),
                      now=time.time() - 5)
    add_run(store, StateType.FAILED, deployment=etl)
    add_run(store, StateType.FAILED, flow="etl")
    add_run(store, StateType.FAILED, flow="other")
    assert len(service(store).tick()) == 2


def test_runs_ended_before_it_existed_or_while_disabled_do_not_fire(
        store: Any, receiver: Receiver) -> None:
    etl = deployment(store)
    add_run(store, StateType.FAILED, deployment=etl, since=30)
    found = create_automation(store, "late", deployment="etl/nightly",
                              notify=webhook(store, receiver.url), enabled=False)
    add_run(store, StateType.FAILED, deployment=etl)
    assert service(store).tick() == []  # disabled
    found.enabled = True
    store.save_automation(found)
    assert len(service(store).tick()) == 1  # the one that ended after it was created


def test_enabled_again_it_skips_what_ended_long_before(store: Any, receiver: Receiver) -> None:
    etl = deployment(store)
    found = create_automation(store, "paused", deployment="etl/nightly",
                              notify=webhook(store, receiver.url), now=time.time() - 600)
    set_enabled(store, "paused", False)
    add_run(store, StateType.FAILED, deployment=etl, since=300)  # while it was off
    add_run(store, StateType.FAILED, deployment=etl, since=5, name="just-now")
    assert set_enabled(store, found.id[:8], True).enabled is True
    assert len(service(store).tick()) == 1
    assert "just-now" in receiver.messages[0]["text"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards); skip when none runs."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    name = f"orkest_automations_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc.orig}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_services_ticking_at_once_send_once(backend: str, receiver: Receiver,
                                                 request: pytest.FixtureRequest) -> None:
    from orkest.store.sql.store import SqlRunStore

    url = (request.getfixturevalue("postgres_url") if backend == "postgresql"
           else str(open_store().url))
    stores = [SqlRunStore(url) for _ in range(2)]
    store = stores[0]
    etl = deployment(store)
    create_automation(store, "once", deployment="etl/nightly",
                      notify=webhook(store, receiver.url), now=time.time() - 5)
    for _ in range(5):
        add_run(store, StateType.FAILED, deployment=etl)
    services = [service(s) for s in stores]
    start = threading.Barrier(2)
    fired: list[int] = []

    def tick(watcher: AutomationService) -> None:
        start.wait()
        fired.append(len(watcher.tick()))

    threads = [threading.Thread(target=tick, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for opened in stores:
        opened.close()
    assert sum(fired) == 5
    assert len(receiver.messages) == 5
    assert len({m["text"] for m in receiver.messages}) == 5


def test_a_refusing_webhook_is_retried_and_logged_and_the_service_lives_on(
        store: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    etl = deployment(store)
    refused = f"http://127.0.0.1:{free_port()}/hook"
    create_automation(store, "refused", deployment="etl/nightly",
                      notify=webhook(store, refused, "dead"), now=time.time() - 5)
    create_automation(store, "working", deployment="etl/nightly",
                      notify=webhook(store, receiver.url), now=time.time() - 5)
    caplog.set_level(logging.INFO, logger="orkest")
    watcher = service(store, interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        add_run(store, StateType.FAILED, deployment=etl, name="first-run")
        wait_for(lambda: len(receiver.messages) == 1, timeout=10, what="the working hook")
        wait_for(lambda: "giving up" in caplog.text, timeout=10, what="the refusal logged")
        assert "attempt 1 of 3" in caplog.text and "attempt 3 of 3" in caplog.text
        assert "refused the connection" in caplog.text
        add_run(store, StateType.FAILED, deployment=etl, name="second-run")
        wait_for(lambda: len(receiver.messages) == 2, timeout=10, what="the next run")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert caplog.text.count("attempt 3 of 3, giving up") == 2  # once per run, not per tick


def test_a_missing_block_holds_the_firing_until_it_exists(
        store: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    etl = deployment(store)
    create_automation(store, "later", deployment="etl/nightly",
                      notify=webhook(store, receiver.url), now=time.time() - 5)
    store.delete_block("webhook-notification", "ops")
    add_run(store, StateType.FAILED, deployment=etl)
    watcher = service(store)
    assert watcher.tick() == [] and watcher.tick() == []
    assert caplog.text.count("No block webhook-notification/ops") == 1  # said once
    webhook(store, receiver.url)
    assert len(watcher.tick()) == 1
    assert len(receiver.messages) == 1


# -- creating: each mistake names itself ----------------------------------------------------

def test_create_checks_every_argument(store: Any, receiver: Receiver) -> None:
    deployment(store)
    ops = webhook(store, receiver.url)
    with pytest.raises(ObjectNotFound, match="etl/weekly"):
        create_automation(store, "a", deployment="etl/weekly", notify=ops)
    with pytest.raises(ObjectNotFound, match="notify: no block webhook-notification/nope"):
        create_automation(store, "a", deployment="etl/nightly",
                          notify="webhook-notification/nope")
    with pytest.raises(ValueError, match="TYPE/NAME"):
        create_automation(store, "a", deployment="etl/nightly", notify="ops")
    with pytest.raises(ValueError, match=r"states: 'FAILD', 'RUNNING' not a final state"):
        create_automation(store, "a", deployment="etl/nightly", notify=ops,
                          states=["FAILD", "failed", "RUNNING"])
    with pytest.raises(ValueError, match="deployment .* or flow_name"):
        create_automation(store, "a", notify=ops)
    with pytest.raises(ValueError, match="not both"):
        create_automation(store, "a", deployment="etl/nightly", flow_name="etl", notify=ops)
    with pytest.raises(ValueError, match="running_longer_than"):
        create_automation(store, "a", flow_name="etl", notify=ops, running_longer_than=-1)
    with pytest.raises(ValueError, match="Nothing to watch"):
        create_automation(store, "a", flow_name="etl", notify=ops, states=())
    with pytest.raises(ValueError, match="message: the template does not render"):
        create_automation(store, "a", flow_name="etl", notify=ops,
                          message="{{ no_such_name }}")
    assert store.list_automations() == []
    made = create_automation(store, "a", flow_name="etl", notify=ops,
                             states=["failed", "CANCELLED"], running_longer_than=60)
    assert made.states == ["FAILED", "CANCELLED"] and made.running_longer_than == 60.0
    assert [a.id for a in store.list_automations()] == [made.id]
