"""Results: a readable preview for the UI, and the stored blob for remote engines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from orkest.server import models
from orkest.server.preview import preview
from orkest.server.respond import Store, answer
from orkest.store import wire

router = APIRouter(tags=["results"])


@router.get("/results/preview", response_model=None, responses={200: {"model": models.Preview}})
def preview_result(request: Request, store: Store,
                   ref: Annotated[str, Query(min_length=1, max_length=4096)]) -> Response:
    """The result's type and repr (at most 2000 characters); 404 when it is gone, 422 when
    it cannot be read here (a module missing on the server, a malformed reference)."""
    shown = preview(ref, store, request.app.state.result_files)
    return answer({"ref": shown.ref, "type": shown.type, "preview": shown.preview,
                   "truncated": shown.truncated})


@router.get("/results/{key:path}", response_model=None,
            responses={200: {"model": models.ResultBlobOut}})
def read_result(store: Store,
                key: Annotated[str, Path(min_length=1, max_length=1024)]) -> Response:
    """A result kept in the database, its bytes base64 (the `db:` references)."""
    blob = store.read_result(key)
    if blob is None:
        raise HTTPException(404, f"No result with key {key!r}.")
    return answer(wire.dump(blob))
