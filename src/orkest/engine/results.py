"""Persisting results and reading them back by reference.

A reference is "LOCATION:SERIALIZER:KEY":
- "inline:json:<json>"  small scalars (None, bool, int, float, short str) live in the ref
                        itself: no row, no file;
- "db:<serializer>:<key>"   up to INLINE_LIMIT_BYTES, batched into the store with the run;
- "file:<serializer>:<key>" larger results, written to ORKEST_HOME/results/<key>.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from orkest._internal.ids import new_key
from orkest.core import results as codec
from orkest.core.records import ResultBlob
from orkest.engine.context import ResultSettings
from orkest.engine.recorder import RecordSink
from orkest.errors import SerializationError

_MAX_INLINE_STR = 100


def persist(value: Any, settings: ResultSettings, sink: RecordSink, owner: str) -> str | None:
    """Store `value`; its reference, or None when not persisted.

    With persist=None (the default) a value that cannot be serialized is simply not
    persisted; with persist=True it is an error naming `owner` and the type.
    """
    if settings.persist is False:
        return None
    inline = _inline(value)
    if inline is not None:
        return inline
    try:
        data = codec.dumps(value, settings.serializer)
    except SerializationError as exc:
        if settings.persist is None:
            return None
        raise SerializationError(
            f"{owner} returned a result that cannot be persisted: {exc}. Return something "
            f"serializable, choose another result_serializer, or set persist_result=False"
        ) from exc
    key = new_key()
    if len(data) <= codec.INLINE_LIMIT_BYTES:
        sink.result(ResultBlob(key, settings.serializer, data, time.time()))
        return f"db:{settings.serializer}:{key}"
    from orkest.store import result_files

    result_files(settings.results_dir).put(key, data)
    return f"file:{settings.serializer}:{key}"


def _inline(value: Any) -> str | None:
    """The reference that holds a small scalar itself (json.dumps is 10x slower here)."""
    kind = type(value)
    if kind is int:
        return "inline:json:" + int.__repr__(value)
    if value is None:
        return "inline:json:null"
    if kind is bool:
        return "inline:json:true" if value else "inline:json:false"
    if kind is float and math.isfinite(value):
        return "inline:json:" + float.__repr__(value)
    if kind is str and len(value) <= _MAX_INLINE_STR:
        return "inline:json:" + encode_basestring_ascii(value)
    return None


def make_loader(get_recorder: Callable[[], Any]) -> Callable[[str], Any]:
    """A loader for `orkest.core.results.load`, bound to the current store."""

    def load(ref: str) -> Any:
        location, _, rest = ref.partition(":")
        serializer, _, key = rest.partition(":")
        if location == "inline":
            return json.loads(key)
        if location == "db":
            recorder = get_recorder()
            blob = recorder.pending_result(key) or recorder.store.read_result(key)
            if blob is None:
                raise SerializationError(f"Result {ref} is not in the store (deleted?)")
            return codec.loads(blob.data, blob.serializer)
        if location == "file":
            from orkest.store import result_files

            return codec.loads(result_files().get(key), serializer)
        raise SerializationError(f"Unknown result reference {ref!r}")

    return load
