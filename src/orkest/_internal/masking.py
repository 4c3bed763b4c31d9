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
from collections.abc import Iterable
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


def adopt(values: Iterable[str]) -> None:
    """Mask exactly these strings (variants included) that another process registered."""
    global _pattern
    fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH} - _values
    if not fresh:
        return
    with _lock:
        _values.update(fresh)
        ordered = sorted(_values, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def registered() -> frozenset[str]:
    """The values masked in this process, variants included (to hand to another process)."""
    return frozenset(_values)


def count() -> int:
    """How many strings are masked: a cheap test for "something new was registered"."""
    return len(_values)


def active() -> bool:
    return _pattern is not None


def mask(text: str) -> str:
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def mask_value(value: Any) -> Any:
    """`mask` applied to every string inside lists, tuples and dicts (keys too).

    Returns `value` itself when nothing in it changed, so `result is value` tells whether
    it held a secret (and unchanged structures are not copied).
    """
    if _pattern is None:
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list | tuple):
        items = [mask_value(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if type(value) in (list, tuple) else items
    if isinstance(value, dict):
        pairs = [(mask_value(k), mask_value(v)) for k, v in value.items()]
        if all(mk is k and mv is v for (mk, mv), (k, v) in zip(pairs, value.items(),
                                                               strict=True)):
            return value
        return dict(pairs)
    return value


def reset() -> None:
    """Forget every value (tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None
