"""Cache key functions for `@task(cache_key_fn=...)`.

A key function gets (task run context, parameters) and returns a string, or None for
"do not cache this call". Equal keys within `cache_expiration` reuse the stored result,
across flow runs and processes.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Any


def hash_objects(*objects: Any) -> str | None:
    """A stable hex digest of the objects (JSON first, pickle second); None if neither."""
    try:
        data = json.dumps(objects, sort_keys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError):
        try:
            import cloudpickle

            data = cloudpickle.dumps(objects, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an unhashable input means "no cache"
            return None
    return hashlib.sha256(data).hexdigest()


def task_input_hash(context: Any, parameters: dict[str, Any]) -> str | None:
    """The same task called with the same inputs gets the same key."""
    return hash_objects(context.task.task_key, getattr(context.task.fn, "__code__", None)
                        and context.task.fn.__code__.co_code.hex(), parameters)
