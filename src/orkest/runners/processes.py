"""Placeholder: replaced by the real process pool runner."""

from __future__ import annotations

from orkest.runners.sequential import SequentialRunner


class ProcessPoolRunner(SequentialRunner):
    name = "processes"

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
