"""Watching directories for FileArrival triggers, with watchdog.

A file fires once it is complete: on Linux (inotify reports opens and closes) no process
may have it open, and on every platform its size and modification time must stay still
for a quiet period (`quiet_seconds`). A file still being written, even slowly, does not
fire; a file moved into the directory (the atomic-rename pattern) is complete at once.
Each file fires once; it fires again only after it was removed (or moved away) and came
back. Files already there when watching starts do not fire.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orkest.triggers import FileArrival

logger = logging.getLogger("orkest.triggers")

DEFAULT_QUIET_SECONDS = 0.5


@dataclass(slots=True)
class _Pending:
    size: int = -1
    mtime_ns: int = -1
    still_since: float = 0.0


@dataclass(frozen=True, slots=True)
class Arrival:
    """A complete new file."""

    path: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        """Names this version of the file (two services create its runs once)."""
        return f"{self.path}:{self.size}:{self.mtime_ns}"

    def payload(self) -> dict[str, Any]:
        return {"path": self.path, "name": os.path.basename(self.path),
                "directory": os.path.dirname(self.path), "size": self.size,
                "mtime": self.mtime_ns / 1e9}


class FileWatcher:
    """One watchdog observer over the directories of the armed FileArrival triggers."""

    def __init__(self, quiet_seconds: float = DEFAULT_QUIET_SECONDS) -> None:
        self.quiet_seconds = quiet_seconds
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._fired: set[str] = set()
        # path -> how many opens of it have not been closed yet (inotify only).
        self._open: dict[str, int] = {}
        self._observer: Any = None
        self._watches: dict[tuple[str, bool], Any] = {}

    def watch(self, triggers: Iterable[FileArrival]) -> None:
        """Watch exactly the directories these triggers need (recursively if one asks)."""
        wanted: dict[str, bool] = {}
        for trigger in triggers:
            wanted[trigger.path] = wanted.get(trigger.path, False) or trigger.recursive
        wanted_keys = set(wanted.items())
        if not wanted_keys and self._observer is None:
            return
        observer = self._start_observer()
        for key in set(self._watches) - wanted_keys:
            try:
                observer.unschedule(self._watches.pop(key))
            except (KeyError, OSError):  # its directory is gone: nothing to unschedule
                pass
        for path, recursive in wanted_keys - set(self._watches):
            try:
                self._watches[(path, recursive)] = observer.schedule(
                    _handler(self), path, recursive=recursive)
            except OSError as exc:
                logger.warning("Cannot watch %s for file triggers: %s", path, exc)

    @property
    def watching(self) -> list[str]:
        """The directories watched now."""
        return sorted(path for path, _recursive in self._watches)

    def arrivals(self, now: float | None = None) -> list[Arrival]:
        """Files that became complete since the last call (each file once)."""
        now = time.monotonic() if now is None else now
        complete: list[Arrival] = []
        with self._lock:
            for path, pending in list(self._pending.items()):
                try:
                    stat = os.stat(path)
                except OSError:  # gone again before it was complete
                    del self._pending[path]
                    continue
                if (stat.st_size, stat.st_mtime_ns) != (pending.size, pending.mtime_ns):
                    pending.size, pending.mtime_ns = stat.st_size, stat.st_mtime_ns
                    pending.still_since = now
                    continue
                if self._open.get(path) or now - pending.still_since < self.quiet_seconds:
                    continue
                del self._pending[path]
                self._fired.add(path)
                complete.append(Arrival(path, stat.st_size, stat.st_mtime_ns))
        return complete

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
            self._watches.clear()

    # -- what watchdog reports (from its own thread) --------------------------------------

    def note_written(self, path: str) -> None:
        with self._lock:
            if path not in self._fired:
                self._pending.setdefault(path, _Pending(still_since=time.monotonic()))

    def note_opened(self, path: str) -> None:
        with self._lock:
            self._open[path] = self._open.get(path, 0) + 1

    def note_closed(self, path: str) -> None:
        with self._lock:
            left = self._open.pop(path, 0) - 1
            if left > 0:
                self._open[path] = left

    def note_removed(self, path: str) -> None:
        with self._lock:
            self._pending.pop(path, None)
            self._fired.discard(path)
            self._open.pop(path, None)

    def _start_observer(self) -> Any:
        if self._observer is None:
            from watchdog.observers import Observer

            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        return self._observer


def _handler(watcher: FileWatcher) -> Any:
    """A watchdog handler that turns its events into the watcher's pending files."""
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_created(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_written(_text(event.src_path))

        def on_modified(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_written(_text(event.src_path))

        def on_opened(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_opened(_text(event.src_path))

        def on_closed(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_closed(_text(event.src_path))

        def on_closed_no_write(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_closed(_text(event.src_path))

        def on_moved(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_removed(_text(event.src_path))
                watcher.note_removed(_text(event.dest_path))  # replaced: a new arrival
                watcher.note_written(_text(event.dest_path))

        def on_deleted(self, event: Any) -> None:
            if not event.is_directory:
                watcher.note_removed(_text(event.src_path))

    return Handler()


def _text(path: str | bytes) -> str:
    return os.fsdecode(path)
