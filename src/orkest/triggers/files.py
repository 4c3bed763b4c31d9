"""FileArrival: run a deployment when a file arrives in a directory."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orkest.errors import InvalidTrigger
from orkest.triggers.base import Trigger, require_flag, require_text

# The event a complete new file gives; its payload has "path", "name" and "size".
FILE_EVENT = "file/arrived"


class FileArrival(Trigger):
    """When a file whose name matches `pattern` arrives in the directory `path` (or below
    it, with `recursive=True`) and is complete: its size and time stay still for a quiet
    moment, so a file still being written does not fire. Templates get `{{ event.path }}`.
    """

    type_name = "file_arrival"

    def __init__(self, path: str | os.PathLike[str], pattern: str = "*",
                 recursive: bool = False,
                 parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        if not isinstance(path, str | os.PathLike):
            raise InvalidTrigger(f"Trigger 'file_arrival' field 'path' must be a directory "
                                 f"path, not {path!r}")
        watched = Path(path).expanduser()
        if not watched.exists():
            raise InvalidTrigger(f"Trigger 'file_arrival' watch path {str(path)!r} does not "
                                 "exist: create the directory first, or fix the path")
        if not watched.is_dir():
            raise InvalidTrigger(
                f"Trigger 'file_arrival' watch path {str(path)!r} is a file, not a directory: "
                f"watch its directory with pattern={watched.name!r}")
        self.path = str(watched.resolve())
        self.pattern = require_text(pattern, self.type_name, "pattern")
        self.recursive = require_flag(recursive, self.type_name, "recursive")

    def fields(self) -> dict[str, Any]:
        return {"path": self.path, "pattern": self.pattern, "recursive": self.recursive}

    def watches(self, file_path: str) -> bool:
        """Whether a file at `file_path` (absolute) is one this trigger is about."""
        parent, _, name = file_path.rpartition(os.sep)
        if not fnmatch.fnmatchcase(name, self.pattern):
            return False
        if parent == self.path:
            return True
        return self.recursive and parent.startswith(self.path.rstrip(os.sep) + os.sep)

    def matches(self, name: str, payload: Any) -> bool:
        if name != FILE_EVENT or not isinstance(payload, Mapping):
            return False
        path = payload.get("path")
        return isinstance(path, str) and self.watches(path)

    def describe(self) -> str:
        where = f"{self.path} or below" if self.recursive else self.path
        return f"When a file matching {self.pattern} arrives in {where}"
