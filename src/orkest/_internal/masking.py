"""Secret values this process has touched, and their replacement by `***` (SPEC §7).

`Secret(name).get()` and loading a block with secret fields register the values here;
everything that stores or shows text (the engine's recorder, captured output, rendered
templates, error messages) passes it through `mask()`. With nothing registered, `mask()`
returns its argument after one truth test, so flows without secrets pay nothing.

Values shorter than MIN_LENGTH characters are not masked: replacing every "a" or "42" in
the logs would destroy them and hide nothing worth hiding (docs/configuration.md).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

MASK = "***"
MIN_LENGTH = 4

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(value: str) -> None:
    """Mask `value` from now on in this process, also as it appears JSON- or repr-escaped."""
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    variants = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}
    with _lock:
        if variants <= _values:
            return
        _values.update(v for v in variants if len(v) >= MIN_LENGTH)
        ordered = sorted(_values, key=len, reverse=True)  # longest first: no partial leftovers
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def registered() -> frozenset[str]:
    """The values masked in this process (to hand to a child process)."""
    return frozenset(_values)


def active() -> bool:
    return _pattern is not None


def mask(text: str) -> str:
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def mask_value(value: Any) -> Any:
    """`mask` applied to every string inside lists, tuples and dicts (keys too)."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    return value


def reset() -> None:
    """Forget every value (tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None
