"""FileSensor: wait until a file (or a glob of files) exists."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from orkest.dag.baseoperator import BaseOperator, _seconds
from orkest.errors import SensorTimeout, TaskSkipped

_STEP = 0.2  # sleep in short steps so a cancel or the task's timeout stops it promptly


class FileSensor(BaseOperator):
    """Pokes every `poke_interval` until `filepath` (a path or glob, templated) matches a
    file or a non-empty directory; after `timeout` it fails with SensorTimeout, or ends
    SKIPPED when `soft_fail` is set. Only "poke" mode exists: the sensor holds its slot."""

    template_fields: Sequence[str] = ("filepath",)
    ui_color = "#91818a"

    def __init__(self, task_id: str, filepath: str, poke_interval: timedelta | float = 60.0,
                 timeout: timedelta | float = 7 * 24 * 3600.0, soft_fail: bool = False,
                 recursive: bool = False, mode: str = "poke", **kwargs: Any) -> None:
        if mode != "poke":
            raise ValueError(f"Task {task_id!r}: only mode='poke' is supported, not {mode!r}")
        super().__init__(task_id=task_id, **kwargs)
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(f"Task {task_id!r}: filepath must be a non-empty string")
        self.filepath = filepath
        self.poke_interval = _seconds("poke_interval", task_id, poke_interval) or 0.0
        self.timeout = _seconds("timeout", task_id, timeout) or 0.0
        self.soft_fail = soft_fail
        self.recursive = recursive
        self.mode = mode

    def poke(self, context: dict[str, Any]) -> bool:
        for path in glob.glob(self.filepath, recursive=self.recursive):
            if os.path.isfile(path) or (os.path.isdir(path) and os.listdir(path)):
                context["log"].info("Found %s", path)
                return True
        return False

    def execute(self, context: dict[str, Any]) -> None:
        log = context["log"]
        deadline = time.monotonic() + self.timeout
        pokes = 0
        while True:
            pokes += 1
            if self.poke(context):
                return None
            now = time.monotonic()
            if now >= deadline:
                message = (f"Sensor {self.task_id!r}: no file matched {self.filepath!r} within "
                           f"{self.timeout:g} s ({pokes} pokes)")
                if self.soft_fail:
                    raise TaskSkipped(message + "; soft_fail is set, so the task is skipped")
                raise SensorTimeout(message)
            log.info("Poking for %s (next in %g s)", self.filepath, self.poke_interval)
            wake = min(deadline, now + self.poke_interval)
            while (left := wake - time.monotonic()) > 0:
                time.sleep(min(_STEP, left))
