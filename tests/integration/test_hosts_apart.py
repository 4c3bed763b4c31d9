"""Hosts apart: a worker in its own network namespace reaches the server only by address.

The test builds the network itself (tests/netns.py): a namespace `orkest-<random>` joined
to this host by a veth pair with private addresses. The server binds the host end
(10.213.X.1) with ORKEST_API_KEY, as a non-loopback address requires; the worker runs
inside the namespace with ORKEST_API_URL pointing there, the key, and an ORKEST_HOME of its
own. From the namespace the host's 127.0.0.1 is unreachable, so everything the worker does
goes over that link.

Code distribution is out of scope: the namespace shares this machine's filesystem, so the
worker loads the flow file from the same path the deployment names (a real second host
would need the code shipped to it, e.g. in an image; see docs/kubernetes.md).

Where namespaces cannot be made the tests skip saying why; CI sets ORKEST_REQUIRE_NETNS=1,
which makes that a failure instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from helpers import free_port, wait_for
from netns import IsolatedHost, isolated_host, run_ip

COMMAND = [sys.executable, "-m", "orkest.cli.main"]
FAST = ["--poll-interval", "0.05", "--heartbeat-interval", "0.2", "--reap-interval", "0.5"]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

FLOWS = """
    import socket

    import orkest

    @orkest.flow
    def where_am_i(word: str = "hello") -> list[str]:
        links = sorted(name for _, name in socket.if_nameindex())
        orkest.get_run_logger().info("%s from %s", word, ",".join(links))
        return links
"""


@dataclass
class Server:
    """`orkest server start` bound to the host end of the veth pair."""

    url: str
    key: str
    home: Path
    proc: subprocess.Popen

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, trust_env=False,
                            headers={"authorization": f"Bearer {self.key}"})


@pytest.fixture
def host() -> Iterator[IsolatedHost]:
    with isolated_host() as made:
        yield made


@pytest.fixture
def server(host: IsolatedHost, tmp_path: Path) -> Iterator[Server]:
    port, key = free_port(), os.urandom(16).hex()
    home = tmp_path / "server-home"
    env = {**os.environ, "ORKEST_HOME": str(home), "ORKEST_API_KEY": key}
    env.pop("ORKEST_API_URL", None)
    env.pop("ORKEST_DATABASE_URL", None)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*COMMAND, "server", "start", "--host", host.host_address,
                                 "--port", str(port), "--reap-interval", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    running = Server(f"http://{host.host_address}:{port}/api", key, home, proc)

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{running.url}/health", timeout=1,
                             trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout=30, what=f"the server on {running.url}", interval=0.05)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def inside_env(server: Server, home: Path, key: str | None) -> dict[str, str]:
    """The environment of a process in the namespace: the server's address and a key."""
    env = {**os.environ, "ORKEST_API_URL": server.url, "ORKEST_HOME": str(home)}
    env.pop("ORKEST_DATABASE_URL", None)
    env.pop("ORKEST_API_KEY", None)
    if key is not None:
        env["ORKEST_API_KEY"] = key
    return env


def deploy(server: Server, tmp_path: Path, pool: str) -> str:
    """Deploy the flow file through the server (from this host); the deployment's name."""
    flows = tmp_path / "flows.py"
    flows.write_text(textwrap.dedent(FLOWS))
    env = {**os.environ, "ORKEST_API_URL": server.url, "ORKEST_API_KEY": server.key,
           "ORKEST_HOME": str(tmp_path / "deployer-home")}
    done = subprocess.run([*COMMAND, "deploy", f"{flows}:where_am_i", "--name", "apart",
                           "--pool", pool], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return "where-am-i/apart"


def test_a_worker_in_its_own_network_namespace_runs_a_flow_through_the_server(
        host: IsolatedHost, server: Server, tmp_path: Path) -> None:
    name = deploy(server, tmp_path, "apart")
    worker_home = tmp_path / "worker-home"
    out_path = tmp_path / "worker.log"
    with out_path.open("w") as out:
        worker = subprocess.Popen(
            host.command(*COMMAND, "worker", "start", "--pool", "apart", *FAST),
            env=inside_env(server, worker_home, server.key), stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: "started" in out_path.read_text() or worker.poll() is not None,
                 what="the worker's banner", interval=0.05)
        assert worker.poll() is None, out_path.read_text()
        with server.api() as api:
            created = api.post(f"/deployments/{name}/runs",
                               json={"parameters": {"word": "ahoy"}})
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]

            def finished() -> dict | None:
                run = api.get(f"/flow_runs/{run_id}").json()
                return run if run["state_type"] in FINAL else None

            run = wait_for(finished, timeout=30, what=f"flow run {run_id} to finish",
                           interval=0.05)
            assert run["state_type"] == "COMPLETED", run
            states = [s["type"] for s in api.get(f"/flow_runs/{run_id}/states").json()]
            assert states == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]
            logs = [line["message"] for line in
                    api.get(f"/flow_runs/{run_id}/logs").json()["items"]]
            # The run saw the namespace's links (its veth end and lo), not the host's.
            assert f"ahoy from lo,{host.inner_link}" in logs, logs
            (record,) = api.get("/workers", params={"work_pool": "apart"}).json()["items"]
            assert record["id"] == run["worker_id"] and record["status"] == "online"
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            code = worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            code = worker.wait(10)
    output = out_path.read_text()
    assert code == 0, output
    assert f"store RemoteRunStore('{server.url}')" in output
    assert "Finished flow run" in output and "COMPLETED" in output
    assert not (worker_home / "orkest.db").exists()  # it never opened a database itself
    assert (server.home / "orkest.db").exists()


@pytest.mark.parametrize(("key", "hint"), [
    ("not-the-key", "the ORKEST_API_KEY set here is not the server's key"),
    (None, "ORKEST_API_KEY is not set here"),
], ids=["wrong-key", "no-key"])
def test_a_worker_with_a_wrong_key_fails_clearly(host: IsolatedHost, server: Server,
                                                 tmp_path: Path, key: str | None,
                                                 hint: str) -> None:
    worker_home = tmp_path / "worker-home"
    done = subprocess.run(host.command(*COMMAND, "worker", "start", "--pool", "apart", *FAST),
                          env=inside_env(server, worker_home, key), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"The orkest server at {server.url} refused the request (401" in done.stderr
    assert hint in done.stderr
    assert "Traceback" not in done.stderr
    assert server.key not in done.stdout + done.stderr
    assert not (worker_home / "orkest.db").exists()
    with server.api() as api:  # it never got in: no worker was recorded
        assert api.get("/workers").json()["items"] == []


def test_the_namespace_and_veth_are_removed_even_when_the_test_fails() -> None:
    with pytest.raises(RuntimeError, match="the test failed"), isolated_host() as made:
        assert run_ip("netns", "exec", made.namespace, "ip", "-o", "-4", "addr", "show",
                      made.inner_link).stdout.count(made.inner_address) == 1
        raise RuntimeError("the test failed")
    assert made.namespace not in run_ip("netns", "list").stdout
    assert run_ip("link", "show", made.host_link, check=False).returncode != 0
    assert made.host_address not in run_ip("-o", "-4", "addr", "show").stdout
