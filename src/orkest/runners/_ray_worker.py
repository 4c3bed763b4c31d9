"""The Ray side of RayRunner: one task run as a plain Ray task with two returns.

Its first return is the report: the process runner's messages (see processes.py) that the
flow has not had yet, ending with "done" or "error". Its second is the task's value (None
unless it completed), which stays in Ray's object store for a downstream task to take.

A task that runs past a live tick (LIVE_SECONDS) announces itself and ships its records
while it runs by posting them to the session's Mailbox actor; a shorter one posts nothing,
so it costs Ray what a bare task costs. Before it returns, a task that posted waits until
the Mailbox has all it posted: the flow, which drains the Mailbox before it reads a report
saying so, sees every message in order.
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from typing import Any

import ray

from orkest.runners import _remote_jobs as remote
from orkest.runners._process_worker import _ChildSink

REPORT_KEEP_SECONDS = 30.0  # how long a task waits for the Mailbox to take its posts
MAILBOX_NAMESPACE = "orkest"
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_mailboxes: dict[str, Any] = {}  # on a worker: name -> actor handle, looked up once


class Mailbox:
    """Live messages of running tasks, per runner (box), until the flow process drains them.

    A Ray actor: one per Ray session of a flow process, created when a RayRunner starts.
    Calls from one worker run in the order it made them.
    """

    def __init__(self) -> None:
        self.boxes: defaultdict[str, list[tuple[int, bytes]]] = defaultdict(list)

    def post(self, box: str, slot: int, data: bytes) -> None:
        self.boxes[box].append((slot, data))

    def drain(self, box: str) -> list[tuple[int, bytes]]:
        return self.boxes.pop(box, [])


class _Transport:
    """Posts to the Mailbox while the job runs; collects the final messages for the report."""

    def __init__(self, mailbox: str, box: str, slot: int) -> None:
        self.mailbox_name, self.box, self.slot = mailbox, box, slot
        self.report: list[bytes] | None = None  # collecting, once the final ship begins
        self.posted: list[bytes] = []  # kept until the Mailbox is known to have them
        self.last_post: Any = None
        self.lost = False  # a post failed: the Mailbox may lack some; the report has all

    def send_bytes(self, data: bytes) -> None:
        if self.report is not None:
            self.report.append(data)
            return
        self.posted.append(data)
        if self.lost:
            return
        try:
            mailbox = _mailboxes.get(self.mailbox_name)
            if mailbox is None:
                mailbox = _mailboxes[self.mailbox_name] = ray.get_actor(
                    self.mailbox_name, namespace=MAILBOX_NAMESPACE)
            self.last_post = mailbox.post.remote(self.box, self.slot, data)
        except Exception:  # noqa: BLE001 - the Mailbox is gone: the report carries it all
            self.lost = True
            _mailboxes.pop(self.mailbox_name, None)

    def collect(self) -> None:
        self.report = []

    def finish(self) -> bytes:
        """The report: pickled (posted anything, its messages, how many of those were
        posted first), one bytes object, which Ray stores cheapest; waits for the posts to
        be taken."""
        messages = self.report or []
        if self.posted and not self.lost:
            try:
                ray.get(self.last_post, timeout=REPORT_KEEP_SECONDS)
            except Exception:  # noqa: BLE001 - the Mailbox is gone: all goes in the report
                self.lost = True
                _mailboxes.pop(self.mailbox_name, None)
        if self.lost:  # the flow skips those of the posted ones it did get
            return pickle.dumps((False, self.posted + messages, len(self.posted)),
                                protocol=_PROTOCOL)
        return pickle.dumps((bool(self.posted), messages, 0), protocol=_PROTOCOL)


def run_on_worker(envelope: bytes, *values: Any) -> tuple[bytes, Any]:
    """The Ray task of one task run: (report, value).

    `envelope` holds the job, where to post and the task's bytes; a task too large to
    travel inline comes from the object store as the first of `values` instead.
    """
    payload, mailbox, box, slot, task_token, task_bytes = pickle.loads(envelope)
    inputs = list(values)
    if task_bytes is None:
        task_bytes = inputs.pop(0)
    transport = _Transport(mailbox, box, slot)
    sink = _ChildSink(transport, lazy_running=True)  # type: ignore[arg-type]
    with remote.ticker.live(sink):
        value = remote.run_job(payload, task_token, task_bytes, inputs, sink, "Ray",
                               check_value=True, on_final=transport.collect)
    return transport.finish(), value
