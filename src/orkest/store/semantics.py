"""What every RunStore backend does the same way, so memory and SQL cannot drift apart.

Id prefixes: a run may be named by its full id or by a unique prefix of at least
MIN_ID_PREFIX characters (what a person copies from a table). JSON: parameters, tags,
upstream edges and request payloads are stored as JSON, and a value JSON cannot hold is
stored as best it can be (str() of it) rather than failing a whole batch on the engine's
background path. set_state: which columns a state change touches.
"""

from __future__ import annotations

import json
import math
from typing import Any

from orkest.core.states import TERMINAL_TYPES, State, StateType
from orkest.errors import ObjectNotFound

MIN_ID_PREFIX = 4
RUN_KINDS = {"flow": "flow run", "task": "task run"}

# NaN is not JSON (PostgreSQL's json type rejects it), so it must not slip through.
_encoder = json.JSONEncoder(allow_nan=False, default=str)


def to_json(value: Any) -> str:
    """JSON text for a stored value; never raises."""
    if not value and type(value) in _EMPTY:  # most tags, parameters, upstream lists
        return _EMPTY[type(value)]
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, RecursionError):  # NaN, cycles, non-string keys
        try:
            return _encoder.encode(_jsonable(value))
        except (TypeError, ValueError, RecursionError):
            return _encoder.encode(repr(value))


_EMPTY = {list: "[]", dict: "{}"}


def json_copy(value: Any) -> Any:
    """The value as it comes back from the database (tuples become lists, and so on)."""
    return json.loads(to_json(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def run_kind_label(run_kind: str) -> str:
    try:
        return RUN_KINDS[run_kind]
    except KeyError:
        raise ValueError(f"run_kind must be 'flow' or 'task', not {run_kind!r}") from None


def not_found(label: str, ident: str) -> ObjectNotFound:
    hint = ("" if len(ident) >= MIN_ID_PREFIX
            else f" (an id prefix needs at least {MIN_ID_PREFIX} characters)")
    return ObjectNotFound(f"No {label} with id {ident!r}{hint}.")


def ambiguous(label: str, ident: str, count: int) -> ObjectNotFound:
    return ObjectNotFound(
        f"The id prefix {ident!r} matches {count} {label}s; give more characters."
    )


def state_changes(current_type: StateType, state: State) -> dict[str, Any]:
    """Column values for moving a run from `current_type` to `state`.

    end_ts is set when the run finishes and cleared when it leaves a finished state
    (a rerun); a state that carries a result reference records it.
    """
    changes: dict[str, Any] = {
        "state_type": state.type,
        "state_name": state.name,
        "state_message": state.message,
        "state_ts": state.ts,
    }
    if state.type in TERMINAL_TYPES:
        changes["end_ts"] = state.ts
    elif current_type in TERMINAL_TYPES:
        changes["end_ts"] = None
    if state.result_ref is not None:
        changes["result_ref"] = state.result_ref
    return changes
