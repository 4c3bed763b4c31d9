"""Blocks: typed configuration documents; secret fields are shown as ***.

Lists and inspections never decrypt: a block's secret fields appear as "***". Only
`POST /api/blocks/{type}/{name}/load` returns them in plaintext, for `Cls.load(name)` in a
flow run through ORKEST_API_URL (the web UI never calls it).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from orkest.core.config_records import BlockRecord
from orkest.errors import BlockError
from orkest.server import models_config as cm
from orkest.server.respond import answer, no_content
from orkest.server.routes.config_values import Config, check_json, checked, key_errors

router = APIRouter(tags=["blocks"])

Segment = Annotated[str, Path(min_length=1, max_length=256)]


def masked_view(record: BlockRecord) -> dict[str, Any]:
    """The block as it may be shown: each secret field "***", whatever it holds."""
    return {"block_type": record.block_type, "name": record.name, "data": record.data,
            "secret_fields": list(record.secret_fields),
            "secrets": {field: cm.MASK for field in record.secret_fields},
            "schema_version": record.schema_version, "created_ts": record.created_ts,
            "updated_ts": record.updated_ts}


def loaded_view(record: BlockRecord) -> dict[str, Any]:
    out = masked_view(record)
    out["secrets"] = dict(record.secrets or {})
    return out


def block_schema(block_type: str) -> dict[str, Any] | None:
    """The JSON schema of the class registered for that type (the built-in blocks, and
    any other the server process imported), or None when it knows no such class."""
    import orkest.config  # noqa: F401 - registers the built-in block classes
    from orkest.config.blocks import block_class

    try:
        return block_class(block_type).model_json_schema()
    except Exception:  # noqa: BLE001 - unknown type, or a class without a JSON schema
        return None


@router.get("/blocks", response_model=None, responses={200: {"model": cm.BlockPage}})
def list_blocks(store: Config, block_type: Annotated[str | None, Query(
        max_length=256, description="Only blocks of this type")] = None) -> Response:
    """Blocks by type, then name; secret fields as "***"."""
    found = store.list_blocks(block_type=block_type or None)
    return answer({"items": [masked_view(b) for b in found], "total": len(found)})


@router.get("/blocks/{block_type}/{name}", response_model=None,
            responses={200: {"model": cm.BlockView}})
def read_block(store: Config, block_type: Segment, name: Segment) -> Response:
    """One block, secret fields as "***", with its class's JSON schema when known."""
    record = store.read_block(checked("block type", block_type), checked("block", name))
    out = masked_view(record)
    out["block_schema"] = block_schema(block_type)
    return answer(out)


@router.put("/blocks/{block_type}/{name}", response_model=None,
            responses={200: {"model": cm.BlockView}})
def save_block(store: Config, block_type: Segment, name: Segment, body: cm.BlockIn,
               overwrite: Annotated[bool, Query(description=(
                   "Replace a block of that type and name (else 409)"))] = False) -> Response:
    """Save a block: `data` as given, `secrets` encrypted. A block that exists is a 409
    unless `overwrite=true`."""
    checked("block type", block_type)
    checked("block", name)
    check_json(body.data, f"The data of block {block_type}/{name}")
    record = BlockRecord(block_type, name, body.data, body.secret_fields, body.schema_version,
                         0.0, 0.0, secrets=body.secrets)
    try:
        with key_errors():
            saved = store.save_block(record, overwrite=overwrite, now=time.time())
    except BlockError as exc:
        raise HTTPException(409, str(exc)) from None
    return answer(masked_view(saved))


@router.delete("/blocks/{block_type}/{name}", status_code=204, response_class=Response)
def delete_block(store: Config, block_type: Segment, name: Segment) -> Response:
    store.delete_block(checked("block type", block_type), checked("block", name))
    return no_content()


@router.post("/blocks/{block_type}/{name}/load", response_model=None,
             responses={200: {"model": cm.LoadedBlock}})
def load_block(store: Config, block_type: Segment, name: Segment) -> Response:
    """The block with its secret fields in plaintext, for a running flow (`Cls.load`);
    409 when the server's key cannot decrypt them."""
    with key_errors():
        record = store.read_block(checked("block type", block_type), checked("block", name),
                                  with_secrets=True)
    return answer(loaded_view(record))
