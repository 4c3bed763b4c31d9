"""Encoded task-run pages of finished flow runs, kept so that opening a large run again is
instant (reading and encoding 10,000 task runs takes about a second).

A finished flow run's task runs change only when the run itself changes (a retry or a
hand mark moves its state first), so a page is keyed by the flow run's id *and* its
state and state time. Writes that pass through this API and touch a flow run's task runs
drop its pages too (a batch split in parts, a task run's state set over HTTP).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable

DEFAULT_MAX_BYTES = 64 * 2**20
# Pages smaller than this are cheap to build again: not worth the memory.
MIN_BYTES = 256 * 1024


class PageCache:
    """Least recently used encoded pages, at most `max_bytes` in all."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple[str, Hashable], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, flow_run_id: str, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._pages.get((flow_run_id, key))
            if body is not None:
                self._pages.move_to_end((flow_run_id, key))
            return body

    def put(self, flow_run_id: str, key: Hashable, body: bytes) -> None:
        if not MIN_BYTES <= len(body) <= self.max_bytes // 4:
            return
        with self._lock:
            old = self._pages.pop((flow_run_id, key), None)
            self._size += len(body) - (len(old) if old is not None else 0)
            self._pages[(flow_run_id, key)] = body
            while self._size > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._size -= len(dropped)

    def drop(self, flow_run_ids: Iterable[str | None]) -> None:
        ids = {i for i in flow_run_ids if i is not None}
        if not ids:
            return
        with self._lock:
            if not self._pages:
                return
            for cached in [k for k in self._pages if k[0] in ids]:
                self._size -= len(self._pages.pop(cached))
