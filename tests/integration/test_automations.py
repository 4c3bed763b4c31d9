"""Automations end to end: `orkest automation` verbs, the API, and `orkest server start`
whose automation service notifies a real webhook on loopback when a deployment's run,
executed by a real `orkest worker start`, fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import free_port, wait_for
from orkest._internal.ids import new_id
from orkest._internal.loading import load_object
from orkest.config import WebhookNotification
from orkest.core.states import StateType
from orkest.services import deployments
from orkest.store import open_store

COMMAND = [sys.executable, "-m", "orkest.cli.main"]

FLOWS = '''
import orkest


@orkest.flow
def extract(rows: int = 3) -> int:
    raise RuntimeError(f"extract cannot read row {rows}")


@orkest.flow
def load() -> int:
    return 1
'''


class Receiver:
    """A webhook endpoint on loopback that records every JSON body it is sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server convention
                length = int(self.headers.get("Content-Length", 0))
                receiver.messages.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "automation_flows.py"
    path.write_text(FLOWS)
    return path


def deploy(store: Any, flows: Path, flow: str, name: str) -> Any:
    return deployments.save(store, deployments.build_deployment(
        load_object(f"{flows}:{flow}"), name, entrypoint=f"{flows}:{flow}"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60)


class Process:
    """A subprocess of orkest whose output goes to a file; stopped at the end."""

    def __init__(self, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen([*COMMAND, *args], stdout=out,
                                         stderr=subprocess.STDOUT, env=env)

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.log.name} exited: {self.log.read_text()}")
        return True

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_the_cli_creates_lists_and_removes_automations(flows: Path,
                                                       receiver: Receiver) -> None:
    store = open_store()
    deploy(store, flows, "extract", "nightly")
    WebhookNotification(url=receiver.url).save("ops", store=store)

    done = cli("automation", "create", "etl-failures", "--deployment", "extract/nightly",
               "--state", "failed", "--state", "CRASHED", "--running-longer-than", "600",
               "--notify", "webhook-notification/ops")
    assert done.returncode == 0, done.stderr
    assert "When a run of deployment extract/nightly ends FAILED or CRASHED, or runs " \
           "longer than 600 s: send webhook-notification/ops" in done.stdout

    bad = cli("automation", "create", "x", "--flow", "extract", "--state", "DONE",
              "--notify", "webhook-notification/ops")
    assert bad.returncode == 2 and "states: 'DONE' not a final state" in bad.stderr
    missing = cli("automation", "create", "x", "--deployment", "extract/weekly",
                  "--notify", "webhook-notification/ops")
    assert missing.returncode == 1 and "extract/weekly" in missing.stderr
    no_block = cli("automation", "create", "x", "--flow", "extract",
                   "--notify", "webhook-notification/pager")
    assert no_block.returncode == 1
    assert "no block webhook-notification/pager" in no_block.stderr

    listed = cli("automation", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)
    assert item["name"] == "etl-failures" and item["deployment"] == "extract/nightly"
    assert item["states"] == ["FAILED", "CRASHED"] and item["enabled"] is True
    table = cli("automation", "ls")
    assert "etl-failures" in table.stdout

    assert cli("automation", "disable", "etl-failures").returncode == 0
    assert store.list_automations()[0].enabled is False
    removed = cli("automation", "rm", item["id"])
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert store.list_automations() == []
    assert cli("automation", "rm", item["id"]).returncode == 1


def test_a_failing_deployment_run_notifies_through_the_server(
        flows: Path, receiver: Receiver, orkest_home: Path, tmp_path: Path) -> None:
    store = open_store()
    extract = deploy(store, flows, "extract", "nightly")
    deploy(store, flows, "load", "hourly")
    WebhookNotification(url=receiver.url).save("ops", store=store)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
    env.update(ORKEST_HOME=str(orkest_home), ORKEST_UI_URL=base)
    server = Process(tmp_path / "server.log", "server", "start", "--port", str(port),
                     "--log-level", "warning", env=env)
    worker = None
    try:
        wait_for(lambda: server.alive() and _healthy(base), what="the server")
        api = f"{base}/api/automations"

        refused = httpx.post(api, json={"name": "x", "deployment": "extract/nope",
                                        "notify": "webhook-notification/ops"})
        detail = refused.json()["detail"]
        assert refused.status_code == 422 and detail.startswith("deployment: ")
        assert "extract/nope" in detail
        refused = httpx.post(api, json={"name": "x", "flow_name": "extract",
                                        "states": ["FAILED", "BROKEN"],
                                        "notify": "webhook-notification/ops"})
        assert refused.status_code == 422 and "states: 'BROKEN'" in refused.json()["detail"]
        refused = httpx.post(api, json={"name": "x", "flow_name": "extract",
                                        "notify": "webhook-notification/gone"})
        assert refused.status_code == 422
        assert refused.json()["detail"].startswith("notify: no block webhook-notification/gone")

        created = httpx.post(api, json={"name": "extract-failures",
                                        "deployment": "extract/nightly",
                                        "notify": "webhook-notification/ops"})
        assert created.status_code == 201, created.text
        other = httpx.post(api, json={"name": "load-failures", "deployment": "load/hourly",
                                      "notify": "webhook-notification/ops"})
        assert other.status_code == 201, other.text
        listed = httpx.get(api).json()
        assert [a["name"] for a in listed["items"]] == ["extract-failures", "load-failures"]
        assert listed["items"][0]["deployment"] == "extract/nightly"

        run = deployments.run_deployment(store, extract.id, {"rows": 17})
        worker = Process(tmp_path / "worker.log", "worker", "start", "--pool", "default",
                         "--poll-interval", "0.1")
        wait_for(lambda: worker.alive() and store.read_flow_run(run.id).state_type
                 is StateType.FAILED, timeout=60, what="the run to fail")
        message = wait_for(lambda: receiver.messages, timeout=30, what="the webhook")[0]
        text = message["text"]
        assert run.name in text and "FAILED" in text
        assert "extract cannot read row 17" in text
        assert f"{base}/#/runs/{run.id}" in text

        # Only that automation fired (the unit tests show later ticks do not resend).
        firings = httpx.get(f"{api}/{created.json()['id']}/firings").json()["items"]
        assert [f["flow_run_id"] for f in firings] == [run.id]
        assert httpx.get(f"{api}/{other.json()['id']}/firings").json()["items"] == []
        assert len(receiver.messages) == 1

        disabled = httpx.patch(f"{api}/load-failures", json={"enabled": False})
        assert disabled.status_code == 200 and disabled.json()["enabled"] is False
        assert httpx.delete(f"{api}/load-failures").status_code == 204
        assert httpx.delete(f"{api}/load-failures").status_code == 404
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_two_services_through_the_api_send_once(
        flows: Path, receiver: Receiver, orkest_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ORKEST_API_URL mode (as `orkest scheduler start` runs beside a server started with
    --no-services): automations made and fired through the HTTP client; two services
    ticking at once still send each firing once."""
    from orkest.core.records import FlowRun
    from orkest.services.automations import AutomationService, create_automation
    from orkest.store import reset_stores

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
    env.update(ORKEST_HOME=str(orkest_home))
    server = Process(tmp_path / "server.log", "server", "start", "--port", str(port),
                     "--log-level", "warning", "--no-services", env=env)
    try:
        wait_for(lambda: server.alive() and _healthy(base), what="the server")
        monkeypatch.setenv("ORKEST_API_URL", base)
        reset_stores()
        remote = open_store()
        extract = deploy(remote, flows, "extract", "nightly")
        WebhookNotification(url=receiver.url).save("ops", store=remote)
        made = create_automation(remote, "remote", deployment="extract/nightly",
                                 notify="webhook-notification/ops",
                                 now=time.time() - 5)
        assert [a.id for a in remote.list_automations()] == [made.id]

        now = time.time()
        runs = [FlowRun(id=new_id(), flow_name="extract", name=f"remote-{i}",
                        state_type=StateType.FAILED, state_name="Failed", state_ts=now,
                        created_ts=now, state_message=f"failure {i}",
                        deployment_id=extract.id, run_count=1) for i in range(3)]
        remote.create_flow_runs(runs)
        services = [AutomationService(remote, ui_url=base, backoff=0.01) for _ in range(2)]
        start = threading.Barrier(2)
        fired: list[int] = []

        def tick(service: AutomationService) -> None:
            start.wait()
            fired.append(len(service.tick()))

        threads = [threading.Thread(target=tick, args=(s,)) for s in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sum(fired) == 3
        assert [services[0].tick(), services[1].tick()] == [[], []]
        assert sorted(m["subject"] for m in receiver.messages) == sorted(
            f"[orkest] flow run {r.name} of extract is Failed" for r in runs)
        firings = remote.list_automation_firings(made.id)
        assert sorted(f.flow_run_id for f in firings) == sorted(r.id for r in runs)
    finally:
        server.stop()
