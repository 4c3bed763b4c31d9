"""A short, safe-to-show text of a stored result, for the UI's result previews.

References are the engine's (orkest/engine/results.py): "inline:json:<json>",
"db:<serializer>:<key>" (a blob in the store) and "file:<serializer>:<key>" (a file under
ORKEST_HOME/results). Results are written by orkest's own engines, and loading one runs
pickle on it, as any reader of the result would; the server bounds what it loads (files
up to MAX_FILE_BYTES) and how much text it returns (PREVIEW_CHARS).
"""

from __future__ import annotations

import json
import reprlib
from dataclasses import dataclass
from typing import Any

from orkest.core import results as codec
from orkest.core.ports import RunStore
from orkest.errors import ObjectNotFound, SerializationError, StoreError
from orkest.store.results import FileResultFiles

PREVIEW_CHARS = 2000
MAX_FILE_BYTES = 256 * 2**20

_repr = reprlib.Repr()
_repr.maxlevel = 6
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 200
_repr.maxdict = 100
_repr.maxstring = _repr.maxother = _repr.maxlong = PREVIEW_CHARS + 1


@dataclass(frozen=True, slots=True)
class Preview:
    ref: str
    type: str
    preview: str
    truncated: bool


def preview(ref: str, store: RunStore, files: FileResultFiles) -> Preview:
    """ObjectNotFound when the result is gone; SerializationError when it cannot be read.

    Small results (inline, or in the database: at most 64 KiB pickled) are shown with
    repr(); a result file may hold anything, so its value gets reprlib's bounded repr.
    """
    value = load(ref, store, files)
    large = ref.startswith("file:")
    try:
        text = _repr.repr(value) if large else repr(value)
    except Exception as exc:  # noqa: BLE001 - a user type's __repr__ may raise anything
        raise SerializationError(
            f"the result loaded, but its repr() failed: {type(exc).__name__}: {exc}") from exc
    truncated = len(text) > PREVIEW_CHARS or (large and "..." in text)
    return Preview(ref, type_name(value), text[:PREVIEW_CHARS], truncated)


def type_name(value: Any) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def load(ref: str, store: RunStore, files: FileResultFiles) -> Any:
    location, _, rest = ref.partition(":")
    serializer, _, key = rest.partition(":")
    if not key:
        raise SerializationError(
            f"{ref!r} is not a result reference (inline:json:..., db:SERIALIZER:KEY or "
            "file:SERIALIZER:KEY)")
    if location == "inline":
        try:
            return json.loads(key)
        except (ValueError, RecursionError) as exc:
            raise SerializationError(f"inline result is not valid JSON ({exc})") from exc
    if location == "db":
        blob = store.read_result(key)
        if blob is None:
            raise ObjectNotFound(f"Result {ref} is not in the store (deleted?).")
        return _loads(blob.data, blob.serializer)
    if location == "file":
        return _loads(_read_file(files, key, ref), serializer)
    raise SerializationError(f"Unknown result location {location!r} in {ref!r}")


def _read_file(files: FileResultFiles, key: str, ref: str) -> bytes:
    try:
        path = files.path(key)
    except StoreError as exc:  # a key that would leave the results root
        raise SerializationError(str(exc)) from exc
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ObjectNotFound(f"Result {ref} is gone: {path} does not exist.") from None
    except OSError as exc:
        raise SerializationError(f"Result file {path} cannot be read: {exc}") from exc
    if size > MAX_FILE_BYTES:
        raise SerializationError(f"Result {ref} is {size} bytes, too large to preview "
                                 f"(the limit is {MAX_FILE_BYTES} bytes).")
    try:
        return files.get(key)
    except StoreError as exc:
        raise SerializationError(str(exc)) from exc


def _loads(data: bytes, serializer: str) -> Any:
    """SerializationError for anything loading raises (a module missing here, bad data)."""
    if serializer not in codec.SERIALIZERS:
        raise SerializationError(f"Unknown result serializer {serializer!r}")
    return codec.loads(data, serializer)
