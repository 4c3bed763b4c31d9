"""A Linux network namespace joined to this host by a veth pair, for tests of hosts apart.

`isolated_host()` creates `orkest-<random>`, a veth pair whose host end holds
10.213.X.1/30 and whose namespace end holds 10.213.X.2/30 (X chosen free), brings both
ends and the namespace's loopback up, and always removes all of it on the way out, even
when the test fails. Nothing is routed or forwarded: the namespace reaches only the host
end's address, so a server there is reachable and the host's 127.0.0.1 is not.

Where namespaces cannot be made (not Linux, not root, no `ip`, EPERM in a container) the
tests skip saying exactly why; ORKEST_REQUIRE_NETNS=1 (CI) turns that skip into a failure.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

REQUIRE_ENV = "ORKEST_REQUIRE_NETNS"
SUBNET = "10.213"


@dataclass(frozen=True)
class IsolatedHost:
    """A namespace and the addresses on either side of its veth pair."""

    namespace: str
    host_link: str
    inner_link: str
    host_address: str  # on this host's side: what the namespace dials
    inner_address: str

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside the namespace (same filesystem, same user, its own network)."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where the environment promises namespaces (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but network namespaces are unavailable: {reason}")
    pytest.skip(f"network namespaces are unavailable here: {reason}")


def run_ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`ip ARGS`; with check, a failure raises RuntimeError quoting ip's stderr."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({done.returncode}): "
                           f"{done.stderr.strip()}")
    return done


def _free_third_octet() -> int:
    """An X for which no address on this host (or another test's veth) is 10.213.X.*."""
    used = run_ip("-o", "-4", "addr", "show").stdout
    choices = [x for x in range(256) if f" {SUBNET}.{x}." not in used]
    if not choices:
        raise RuntimeError(f"every {SUBNET}.X.0/24 is in use on this host")
    return random.choice(choices)


def _preflight() -> None:
    if not sys.platform.startswith("linux"):
        unavailable(f"network namespaces are Linux-only (this is {sys.platform})")
    if shutil.which("ip") is None:
        unavailable("the `ip` command (iproute2) is not installed")
    if os.geteuid() != 0:
        unavailable(f"`ip netns add` needs root (this runs as uid {os.geteuid()})")


def _kill_leftovers(namespace: str) -> None:
    """SIGKILL processes still inside the namespace: ours, started by the test."""
    pids = run_ip("netns", "pids", namespace, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            continue


@contextmanager
def isolated_host() -> Iterator[IsolatedHost]:
    """Create the namespace and veth pair; remove both however the block ends."""
    _preflight()
    token = uuid.uuid4().hex[:8]
    namespace = f"orkest-{token}"
    host_link, inner_link = f"ok{token[:6]}h", f"ok{token[:6]}n"  # <= 15 chars
    added = run_ip("netns", "add", namespace, check=False)
    if added.returncode != 0:
        run_ip("netns", "delete", namespace, check=False)  # a half-made one, if any
        unavailable(f"`ip netns add {namespace}` failed ({added.returncode}): "
                    f"{added.stderr.strip() or 'no message'}")
    try:
        x = _free_third_octet()
        host = IsolatedHost(namespace, host_link, inner_link,
                            f"{SUBNET}.{x}.1", f"{SUBNET}.{x}.2")
        run_ip("link", "add", host_link, "type", "veth", "peer", "name", inner_link)
        run_ip("link", "set", inner_link, "netns", namespace)
        run_ip("addr", "add", f"{host.host_address}/30", "dev", host_link)
        run_ip("link", "set", host_link, "up")
        inside = ("netns", "exec", namespace, "ip")
        run_ip(*inside, "addr", "add", f"{host.inner_address}/30", "dev", inner_link)
        run_ip(*inside, "link", "set", inner_link, "up")
        run_ip(*inside, "link", "set", "lo", "up")
        yield host
    finally:
        _kill_leftovers(namespace)
        run_ip("netns", "delete", namespace, check=False)  # takes its veth end, and the pair
        run_ip("link", "delete", host_link, check=False)  # in case it was never moved
        leftover = run_ip("link", "show", host_link, check=False)
        assert leftover.returncode != 0, f"veth {host_link} survived the cleanup"
        assert namespace not in run_ip("netns", "list", check=False).stdout, \
            f"namespace {namespace} survived the cleanup"
