"""Named functions a higher layer lends to a lower one (Flow.deploy and Flow.serve live in
core, their work in services): `orkest/__init__.py` registers them, lazily imported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_hooks: dict[str, Callable[..., Any]] = {}


def register(name: str, function: Callable[..., Any]) -> None:
    _hooks[name] = function


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    function = _hooks.get(name)
    if function is None:
        raise RuntimeError(f"orkest is not fully imported: no {name!r} hook (import orkest)")
    return function(*args, **kwargs)
