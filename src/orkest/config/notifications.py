"""Notification blocks, the message about a run, and delivery with retries.

    ops = WebhookNotification.load("ops")
    @flow(on_failure=[ops])                     # a notification block is a hook
    subject, body = render_run_message(run, state)
    deliver(ops, subject, body)                 # True if delivered; never raises

Templates are Jinja, rendered in orkest's sandbox (orkest.templating) with strict names.
The context: `kind` ("flow run"/"task run"), `name`, `flow_name`, `task_name`, `state`
(its name, e.g. "Failed"), `state_type` ("FAILED"), `reason` (the state's message),
`flow_run_id`, `task_run_id`, `deployment_id`, `url` (the run's page in the UI), `ui_url`,
`parameters`, `tags`, `start`/`end` (ISO-8601 UTC or None) and `run` (the record). If the
rendered text starts with a line `Subject: ...`, that line is the subject, the rest the body.

Time bound: one `send` makes network calls that each time out after the block's `timeout`
(5 s for webhooks, 10 s for SMTP by default); `deliver` tries `attempts` times (3) and
sleeps backoff * 2**i between tries (0.5 s, 1 s). A hook on a flow whose endpoint hangs
therefore holds the flow's end for at most about 3 * timeout + 1.5 s, and a refused
connection for about 1.5 s. Subject and body pass through masking before they leave.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from orkest._internal import masking
from orkest.config.blocks import Block
from orkest.errors import NotificationError

logger = logging.getLogger("orkest.notifications")

DEFAULT_UI_URL = "http://127.0.0.1:4200"
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 0.5

DEFAULT_TEMPLATE = """\
Subject: [orkest] {{ kind }} {{ name }} of {{ flow_name }} is {{ state }}
{{ kind | capitalize }} {{ name }} of flow {{ flow_name }} is {{ state }}.
{% if task_name %}Task: {{ task_name }}
{% endif %}State: {{ state }} ({{ state_type }})
{% if reason %}Reason: {{ reason }}
{% endif %}Run: {{ url }}
"""


class NotificationBlock(Block):
    """A block that can send a message; its instances are flow and task hooks."""

    def send(self, subject: str, body: str) -> None:
        """One delivery attempt; NotificationError naming the target if it fails."""
        raise NotImplementedError(f"{type(self).__name__} must implement send()")

    def describe_target(self) -> str:
        """How messages and logs name where this block sends ("Webhook http://...")."""
        return type(self).__name__

    def as_hook(self, template: str | None = None, *, attempts: int = DEFAULT_ATTEMPTS,
                backoff: float = DEFAULT_BACKOFF) -> RunHook:
        """A hook with its own template or retry policy: `on_failure=[ops.as_hook(t)]`."""
        return RunHook(self, template, attempts=attempts, backoff=backoff)

    def __call__(self, owner: Any, run: Any, state: Any) -> None:
        """The hook convention `hook(flow_or_task, run, state)`: notify, never raise."""
        RunHook(self)(owner, run, state)


class RunHook:
    """A notification block bound to a template and retry policy, called as a hook."""

    def __init__(self, block: NotificationBlock, template: str | None = None, *,
                 attempts: int = DEFAULT_ATTEMPTS, backoff: float = DEFAULT_BACKOFF) -> None:
        self.block = block
        self.template = template
        self.attempts = attempts
        self.backoff = backoff
        self.__name__ = f"notify:{block.describe_target()}"

    def __call__(self, owner: Any, run: Any, state: Any) -> None:
        try:
            subject, body = render_run_message(run, state, self.template,
                                               flow_name=_flow_name_of(owner, run))
        except Exception as exc:  # noqa: BLE001 - a bad template must not stop the message
            logger.warning("Notification template failed (%s); sending the default message",
                           masking.mask(str(exc)))
            subject, body = render_run_message(run, state, flow_name=_flow_name_of(owner, run))
        deliver(self.block, subject, body, attempts=self.attempts, backoff=self.backoff)

    def __repr__(self) -> str:
        return f"RunHook({self.block!r})"


def _flow_name_of(owner: Any, run: Any) -> str | None:
    """The flow of a run: the record's for flow runs, the running flow's for task runs."""
    flow_name = getattr(run, "flow_name", None)
    if flow_name:
        return flow_name
    from orkest.engine.context import flow_run_var, task_run_var

    task_ctx = task_run_var.get()
    if task_ctx is not None and task_ctx.flow_ctx is not None:
        return task_ctx.flow_ctx.flow_run.flow_name
    flow_ctx = flow_run_var.get()
    if flow_ctx is not None:
        return flow_ctx.flow_run.flow_name
    flow_run_id = getattr(run, "flow_run_id", None)
    if flow_run_id is None:
        return None
    try:  # a task run in another process (process runner): ask the store
        from orkest.store import open_store

        return open_store().read_flow_run(flow_run_id).flow_name
    except Exception:  # noqa: BLE001 - the name is nice to have; the message goes anyway
        return None


def ui_base_url(ui_url: str | None = None) -> str:
    """`ui_url`, else ORKEST_UI_URL, else http://127.0.0.1:4200 (without a trailing /)."""
    return (ui_url or os.environ.get("ORKEST_UI_URL") or DEFAULT_UI_URL).rstrip("/")


def run_context(run: Any, state: Any = None, ui_url: str | None = None, *,
                flow_name: str | None = None) -> dict[str, Any]:
    """The names a message template can use (see the module docstring)."""
    is_task = hasattr(run, "task_name")
    if state is None:
        state_name, state_type, reason = run.state_name, run.state_type, run.state_message
    elif isinstance(state, str):
        state_name, state_type, reason = state, run.state_type, run.state_message
    else:
        state_name, state_type, reason = state.name, state.type, state.message
    flow_run_id = run.flow_run_id if is_task else run.id
    base = ui_base_url(ui_url)
    return {
        "kind": "task run" if is_task else "flow run",
        "name": run.name,
        "flow_name": flow_name or getattr(run, "flow_name", None) or "?",
        "task_name": run.task_name if is_task else None,
        "state": state_name,
        "state_type": getattr(state_type, "value", state_type),
        "reason": reason,
        "flow_run_id": flow_run_id,
        "task_run_id": run.id if is_task else None,
        "deployment_id": getattr(run, "deployment_id", None),
        "url": f"{base}/#/runs/{flow_run_id}" if flow_run_id else f"{base}/",
        "ui_url": base,
        "parameters": getattr(run, "parameters", {}),
        "tags": getattr(run, "tags", []),
        "start": _iso(getattr(run, "start_ts", None)),
        "end": _iso(getattr(run, "end_ts", None)),
        "run": run,
    }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat()


def render_run_message(run: Any, state: Any = None, template: str | None = None,
                       ui_url: str | None = None, *,
                       flow_name: str | None = None) -> tuple[str, str]:
    """(subject, body) about a FlowRun or TaskRun in `state` (a State, a state name, or
    None for the run's recorded state). TemplateError if `template` cannot be rendered."""
    from orkest.templating import render

    context = run_context(run, state, ui_url, flow_name=flow_name)
    text = render(template or DEFAULT_TEMPLATE, context, name="notification message")
    subject, body = _subject_and_body(text, context)
    return masking.mask(subject), masking.mask(body)


def _subject_and_body(text: str, context: dict[str, Any]) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return first[len("subject:"):].strip(), rest.lstrip("\n")
    default = (f"[orkest] {context['kind']} {context['name']} of {context['flow_name']} is "
               f"{context['state']}")
    return default, text


def deliver(block: NotificationBlock, subject: str, body: str, *,
            attempts: int = DEFAULT_ATTEMPTS, backoff: float = DEFAULT_BACKOFF) -> bool:
    """Send with up to `attempts` tries, sleeping backoff * 2**i between them.

    Every failure is logged on the "orkest.notifications" logger; returns whether the
    message was delivered and never raises (notifications must not fail what they report).
    """
    subject, body = masking.mask(subject), masking.mask(body)
    attempts = max(1, int(attempts))
    for attempt in range(1, attempts + 1):
        try:
            block.send(subject, body)
        except Exception as exc:  # noqa: BLE001 - delivery reports, it does not raise
            reason = str(exc) if isinstance(exc, NotificationError) else (
                f"{_target(block)} failed: {type(exc).__name__}: {exc}")
            last = attempt == attempts
            logger.log(logging.ERROR if last else logging.WARNING,
                       "Notification %r not delivered (attempt %d of %d%s): %s",
                       subject, attempt, attempts, ", giving up" if last else "",
                       masking.mask(reason))
            if not last:
                time.sleep(backoff * 2 ** (attempt - 1))
        else:
            if attempt > 1:
                logger.info("Notification %r delivered on attempt %d", subject, attempt)
            return True
    return False


def _target(block: Any) -> str:
    try:
        return block.describe_target()
    except Exception:  # noqa: BLE001 - naming the target must not fail the report
        return type(block).__name__
