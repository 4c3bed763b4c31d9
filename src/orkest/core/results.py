"""Result serialization, and the port through which a stored result is read back.

Default serializer "cloudpickle": stdlib pickle first (fast, C), cloudpickle when pickle
cannot handle the object (lambdas, local classes). Both load with pickle.loads.
"json" is selectable for results that other tools should read.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

from orkest.errors import SerializationError

SERIALIZERS = ("cloudpickle", "json")

# Results at most this large are stored in the database with the run; larger go to files.
INLINE_LIMIT_BYTES = 64 * 1024

_loader: Callable[[str], Any] | None = None


def install_loader(loader: Callable[[str], Any]) -> None:
    """The engine installs how a result reference is read (store, files, pending writes)."""
    global _loader
    _loader = loader


def load(result_ref: str) -> Any:
    if _loader is None:
        from orkest.core.context import get_engine

        get_engine()  # building the engine installs the loader
    if _loader is None:
        raise SerializationError("No result store is configured to read " + result_ref)
    return _loader(result_ref)


def check_serializer(name: str) -> str:
    if name not in SERIALIZERS:
        raise ValueError(
            f"result_serializer must be one of {', '.join(SERIALIZERS)}, not {name!r}"
        )
    return name


def dumps(value: Any, serializer: str) -> bytes:
    """Serialize or raise SerializationError naming the type that could not be stored."""
    if serializer == "json":
        try:
            return json.dumps(value).encode()
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"a {type(value).__qualname__} is not JSON-serializable ({exc})"
            ) from exc
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    try:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise SerializationError(
            f"a {type(value).__module__}.{type(value).__qualname__} cannot be pickled ({exc})"
        ) from exc


def loads(data: bytes, serializer: str) -> Any:
    try:
        if serializer == "json":
            return json.loads(data)
        return pickle.loads(data)
    except Exception as exc:
        raise SerializationError(f"stored result cannot be read back ({exc})") from exc
