"""What every route shares: the store, query parameter types, id lookups and JSON answers.

Answers are encoded here directly from the records (orkest.store.wire), not through
FastAPI's generic encoder: a page of 20,000 task runs must leave in well under a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from orkest.core.ports import RunStore
from orkest.core.states import StateType
from orkest.errors import ObjectNotFound
from orkest.server.problems import is_ambiguous
from orkest.store import semantics, wire

MAX_OFFSET = 1_000_000_000
MAX_ID_LENGTH = 256

_encoder = json.JSONEncoder(allow_nan=False, default=str, separators=(",", ":"))


def store_of(request: Request) -> RunStore:
    return request.app.state.store


async def body_has_nul(request: Request) -> bool:
    """Whether the JSON body escapes a NUL character anywhere (rare: then check fields)."""
    return b"\\u0000" in await request.body()


Store = Annotated[RunStore, Depends(store_of)]
NulInBody = Annotated[bool, Depends(body_has_nul)]
RunId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH,
                            description="An id, or a unique prefix of at least 4 characters")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
States = Annotated[list[StateType] | None, Query(
    alias="state", description="Only runs in these state types (repeat the parameter)")]
Timestamp = Annotated[float | None, Query(allow_inf_nan=False,
                                          description="Unix seconds")]
Text = Annotated[str | None, Query(max_length=1000)]


def limit_type(maximum: int) -> Any:
    """A `limit` query parameter of 0..maximum (the default goes in the signature)."""
    return Annotated[int, Query(ge=0, le=maximum, description=f"At most {maximum}")]


def encode(data: Any) -> bytes:
    try:
        return _encoder.encode(data).encode()
    except (TypeError, ValueError, RecursionError):
        return semantics.to_json(data).encode()


def answer(data: Any, status_code: int = 200) -> Response:
    return Response(encode(data), status_code=status_code, media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)


def dump_all(records: Iterable[Any]) -> list[dict[str, Any]]:
    return [wire.dump(r) for r in records]


def page(records: Iterable[Any], *, limit: int, offset: int,
         total: int | None = None) -> Response:
    data: dict[str, Any] = {"items": dump_all(records)}
    if total is not None:
        data["total"] = total
    data.update(limit=limit, offset=offset)
    return answer(data)


def state_filter(states: list[StateType] | None) -> list[StateType] | None:
    """The `state` query values without repeats; None (no filter) when none were given."""
    return list(dict.fromkeys(states)) if states else None


def known_total(items: list[Any], limit: int, offset: int) -> int | None:
    """The total a short page implies (it reached the end), else None: count it then."""
    if len(items) < limit and (items or offset == 0):
        return offset + len(items)
    return None


def flow_run_id_or_given(store: RunStore, ident: str) -> str:
    """The full id of the flow run `ident` names, or `ident` itself when no run has it.

    Logs and states may be stored before (or without) their run, as the stores allow; an
    ambiguous prefix is still an error (409).
    """
    try:
        return store.read_flow_run(ident).id
    except ObjectNotFound as exc:
        if is_ambiguous(exc):
            raise
        return ident


def task_run_id_or_given(store: RunStore, ident: str) -> tuple[str, str | None]:
    """(full id, its flow run id) of the task run `ident` names, else (`ident`, None)."""
    try:
        run = store.read_task_run(ident)
    except ObjectNotFound as exc:
        if is_ambiguous(exc):
            raise
        return ident, None
    return run.id, run.flow_run_id
