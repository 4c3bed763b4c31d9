"""`orkest server start` without starting anything: the host check and its refusal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from orkest.cli.main import cli
from orkest.cli.server import is_loopback


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
    ("orkest.example.com", False), ("192.168.1.5", False),
])
def test_only_loopback_hosts_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_public_host_without_a_key_is_refused_before_binding(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORKEST_API_KEY", raising=False)
    result = CliRunner().invoke(cli, ["server", "start", "--host", "10.1.2.3"])
    assert result.exit_code == 2
    assert "Refusing to serve on 10.1.2.3 without an API key" in result.output


def test_the_verb_documents_its_options() -> None:
    result = CliRunner().invoke(cli, ["server", "start", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--insecure", "--reap-interval"):
        assert option in result.output
