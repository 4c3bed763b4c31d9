"""Load a flow (or any object) from "path/to/file.py:name" or "package.module:name"."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from orkest.errors import TargetNotFound


def split_target(target: str) -> tuple[str, str | None]:
    path, sep, name = target.rpartition(":")
    if not sep or (len(path) == 1 and path.isalpha()):  # no ":" (or a Windows drive)
        return target, None
    return path, name or None


def load_module_from_path(path: Path) -> Any:
    """Import a .py file under a stable module name, so keys derived from it repeat."""
    path = path.resolve()
    if not path.is_file():
        raise TargetNotFound(f"No such file: {path}")
    module_name = f"orkest_user_{path.stem}_{abs(hash(str(path))) % 10**8}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TargetNotFound(f"Cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    parent = str(path.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)  # let the flow file import its sibling modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_object(target: str) -> Any:
    """The object named by a target; TargetNotFound with a useful message otherwise."""
    location, name = split_target(target)
    if name is None:
        raise TargetNotFound(
            f"Target {target!r} names no object: use 'file.py:flow_name' or 'module:flow_name'"
        )
    if location.endswith(".py") or "/" in location or "\\" in location:
        module = load_module_from_path(Path(location))
    else:
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            raise TargetNotFound(f"Cannot import module {location!r}: {exc}") from exc
    obj: Any = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            available = sorted(
                n for n, v in vars(module).items()
                if not n.startswith("_") and hasattr(v, "fn") and hasattr(v, "name")
            )
            hint = f"; flows and tasks there: {', '.join(available)}" if available else ""
            raise TargetNotFound(f"{location} has no {name!r}{hint}") from None
    return obj
