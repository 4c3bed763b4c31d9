"""Notification blocks against real servers on loopback: HTTP (http.server) and SMTP
(aiosmtpd). Delivery failures are retried and logged, and never change a run's outcome."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from helpers import free_port, wait_for
from orkest import flow, task
from orkest._internal import masking
from orkest.config import SmtpNotification, WebhookNotification, deliver, render_run_message
from orkest.core.states import StateType
from orkest.errors import NotificationError
from orkest.store import open_store

UI = "http://ui.example:4200"


@pytest.fixture(autouse=True)
def ui_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_UI_URL", UI)
    masking.reset()
    yield
    masking.reset()


class Webhook:
    """A real HTTP server that records each POST and fails the first `fail_first` with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                owner.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "json": json.loads(self.rfile.read(length))})
                failing = len(owner.requests) <= owner.fail_first
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"try later" if failing else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}/"


def fail_run(message: str) -> None:
    raise RuntimeError(message)


def test_flow_failure_hook_posts_name_state_reason_and_link(webhook: Webhook) -> None:
    WebhookNotification(url=webhook.url, token="bearer-canary-77").save("ops")

    @flow(name="nightly-load", on_failure=[WebhookNotification.load("ops")])
    def nightly() -> None:
        fail_run("warehouse is read-only")

    state = nightly(return_state=True)
    assert state.type is StateType.FAILED
    run = open_store().list_flow_runs()[0]
    assert len(webhook.requests) == 1
    sent = webhook.requests[0]
    assert sent["headers"]["Authorization"] == "Bearer bearer-canary-77"
    body = sent["json"]["body"]
    assert f"Flow run {run.name} of flow nightly-load is Failed" in body
    assert "Reason: RuntimeError: warehouse is read-only" in body
    assert f"{UI}/#/runs/{run.id}" in body
    assert sent["json"]["subject"] == f"[orkest] flow run {run.name} of nightly-load is Failed"
    assert sent["json"]["text"].startswith(sent["json"]["subject"])


def test_task_failure_hook_names_task_and_links_its_flow_run(webhook: Webhook) -> None:
    hook = WebhookNotification(url=webhook.url)

    @task(on_failure=[hook])
    def extract() -> None:
        fail_run("source gone")

    @flow(name="etl")
    def etl() -> None:
        extract()

    assert etl(return_state=True).type is StateType.FAILED
    run = open_store().list_flow_runs()[0]
    body = webhook.requests[0]["json"]["body"]
    assert "Task run extract" in body and "of flow etl is Failed" in body
    assert "Task: extract" in body and "source gone" in body
    assert f"{UI}/#/runs/{run.id}" in body


def test_custom_template_and_masked_secrets_in_the_message(webhook: Webhook) -> None:
    masking.register("leaked-secret-value")
    template = ("Subject: {{ flow_name }} {{ state_type }}\n"
                "{{ name }} failed because {{ reason }} -> {{ url }}")
    hook = WebhookNotification(url=webhook.url).as_hook(template)

    @flow(name="templated", on_failure=[hook])
    def templated() -> None:
        fail_run("password leaked-secret-value was rejected")

    templated(return_state=True)
    run = open_store().list_flow_runs()[0]
    sent = webhook.requests[0]["json"]
    assert sent["subject"] == "templated FAILED"
    assert sent["body"] == (f"{run.name} failed because RuntimeError: password *** was "
                            f"rejected -> {UI}/#/runs/{run.id}")


def test_retries_until_the_server_accepts() -> None:
    server = Webhook(fail_first=2)
    try:
        block = WebhookNotification(url=server.url)
        assert deliver(block, "subject", "body", attempts=3, backoff=0.01) is True
        assert len(server.requests) == 3
    finally:
        server.close()


def test_gives_up_after_the_attempts_and_logs_each_failure(
        caplog: pytest.LogCaptureFixture) -> None:
    server = Webhook(fail_first=10)
    try:
        with caplog.at_level(logging.WARNING, logger="orkest.notifications"):
            ok = deliver(WebhookNotification(url=server.url), "s", "b", attempts=2,
                         backoff=0.01)
        assert ok is False and len(server.requests) == 2
        failures = [r for r in caplog.records if r.name == "orkest.notifications"]
        assert [r.levelno for r in failures] == [logging.WARNING, logging.ERROR]
        assert all(f"Webhook {server.url} answered HTTP 500: try later" in r.getMessage()
                   for r in failures)
        assert "giving up" in failures[-1].getMessage()
    finally:
        server.close()


def test_refused_connection_is_named_retried_and_never_fails_the_run(
        caplog: pytest.LogCaptureFixture) -> None:
    url = refused_url()
    with pytest.raises(NotificationError, match=f"Webhook {url} refused the connection"):
        WebhookNotification(url=url).send("s", "b")

    @flow(on_completion=[WebhookNotification(url=url)])
    def fine() -> int:
        return 42

    @flow(on_failure=[WebhookNotification(url=url)])
    def broken() -> None:
        fail_run("the real failure")

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="orkest.notifications"):
        assert fine() == 42
        state = broken(return_state=True)
    assert time.monotonic() - started < 10  # 2 hooks x (3 refused attempts + 1.5 s backoff)
    assert state.type is StateType.FAILED and "the real failure" in state.message
    refused = [r for r in caplog.records if "refused the connection" in r.getMessage()]
    assert len(refused) == 6  # 3 attempts per hook
    runs = {r.flow_name: r for r in open_store().list_flow_runs()}
    assert runs["fine"].state_type is StateType.COMPLETED


def test_a_silent_endpoint_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        started = time.monotonic()
        with pytest.raises(NotificationError, match=f"Webhook {url} did not answer within 0.3 s"):
            WebhookNotification(url=url, timeout=0.3).send("s", "b")
        assert time.monotonic() - started < 5


# -- SMTP --------------------------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = auth_data.login == b"orkest" and auth_data.password == b"smtp-canary-42"
        return AuthResult(success=ok, handled=False)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def test_smtp_failure_hook_sends_an_email(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    SmtpNotification(host="127.0.0.1", port=port, from_addr="orkest@example.com",
                     to_addrs=["ops@example.com", "oncall@example.com"], username="orkest",
                     password="smtp-canary-42").save("mail")

    @flow(name="mailer", on_failure=[SmtpNotification.load("mail")])
    def mailer() -> None:
        fail_run("disk full")

    mailer(return_state=True)
    run = open_store().list_flow_runs()[0]
    wait_for(lambda: inbox.envelopes, timeout=10, what="the e-mail")
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "orkest@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == f"[orkest] flow run {run.name} of mailer is Failed"
    text = message.get_payload(decode=True).decode()
    assert "Reason: RuntimeError: disk full" in text and f"{UI}/#/runs/{run.id}" in text


def test_smtp_wrong_password_and_refused_server_are_named(
        smtp_server: tuple[Inbox, int]) -> None:
    _, port = smtp_server
    wrong = SmtpNotification(host="127.0.0.1", port=port, from_addr="a@example.com",
                             to_addrs=["b@example.com"], username="orkest", password="nope")
    with pytest.raises(NotificationError, match=f"127.0.0.1:{port} rejected the login"):
        wrong.send("s", "b")
    closed = free_port()
    with pytest.raises(NotificationError,
                       match=f"SMTP server 127.0.0.1:{closed} refused the connection"):
        wrong.model_copy(update={"port": closed}).send("s", "b")


def test_render_run_message_for_a_stored_run(webhook: Webhook) -> None:
    @flow(name="stored")
    def stored() -> None:
        fail_run("boom")

    stored(return_state=True)
    run = open_store().list_flow_runs()[0]
    subject, body = render_run_message(run, None, ui_url="https://orkest.example/")
    assert subject == f"[orkest] flow run {run.name} of stored is Failed"
    assert "Reason: RuntimeError: boom" in body
    assert f"https://orkest.example/#/runs/{run.id}" in body


# -- CLI ---------------------------------------------------------------------------------

def orkest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orkest.cli.main", *args],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())


def test_block_ls_and_inspect_mask_secret_fields() -> None:
    WebhookNotification(url="http://hooks.example/x", token="cli-canary-token",
                        secret_headers={"X-Key": "cli-canary-header"}).save("ops")
    outputs = [orkest("block", "ls"), orkest("block", "ls", "--json"),
               orkest("block", "ls", "--type", "webhook-notification"),
               orkest("block", "inspect", "webhook-notification/ops"),
               orkest("block", "inspect", "webhook-notification/ops", "--json")]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert "cli-canary" not in result.stdout + result.stderr
    assert "webhook-notification" in outputs[0].stdout and "ops" in outputs[0].stdout
    assert "secret_headers.X-Key, token" in outputs[0].stdout
    inspected = json.loads(outputs[4].stdout)
    assert inspected["data"]["token"] == "***"
    assert inspected["data"]["secret_headers"] == {"X-Key": "***"}
    assert inspected["data"]["url"] == "http://hooks.example/x"
    assert 'token: "***"' in outputs[3].stdout
    assert json.loads(orkest("block", "ls", "--type", "nope", "--json").stdout) == []
    missing = orkest("block", "inspect", "webhook-notification/absent")
    assert missing.returncode == 1 and "No block webhook-notification/absent" in missing.stderr
    assert orkest("block", "inspect", "no-slash").returncode == 2


def test_a_broken_template_still_sends_the_default_message(
        webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    hook = WebhookNotification(url=webhook.url).as_hook("{{ no_such_name }}")

    @flow(name="typo", on_failure=[hook])
    def typo() -> None:
        fail_run("x")

    with caplog.at_level(logging.WARNING, logger="orkest.notifications"):
        assert typo(return_state=True).type is StateType.FAILED
    assert "of flow typo is Failed" in webhook.requests[0]["json"]["body"]
    assert any("no_such_name" in r.getMessage() for r in caplog.records)
