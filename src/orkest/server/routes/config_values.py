"""Variables and secrets (values never listed: only a running flow reveals one).

Every answer about a secret shows its value as "***": the list, the answer to PUT, errors.
The one route that returns plaintext is `POST /api/secrets/{name}/reveal`, which exists
for `Secret(name).get()` in a flow run through ORKEST_API_URL (orkest.client); the web UI
never calls it. Like every route it needs the API key when the server has one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from orkest.core.config_records import SecretInfo, VariableRecord
from orkest.core.ports import ConfigStore
from orkest.errors import ConfigurationError
from orkest.server import models_config as cm
from orkest.server.respond import Offset, answer, known_total, limit_type, no_content

router = APIRouter(tags=["config values"])

MAX_VARIABLE_PAGE = 1000
MAX_COUNT = 1_000_000
VariableLimit = limit_type(MAX_VARIABLE_PAGE)
NameInPath = Annotated[str, Path(min_length=1, max_length=256)]


class HasConfig(ConfigStore, Protocol):
    """A store that holds variables, secrets and blocks (SQL, or the HTTP client)."""


def config_of(request: Request) -> HasConfig:
    """The server's store, if it can hold configuration (the memory store cannot): 501."""
    store = request.app.state.store
    if not hasattr(store, "set_variable"):
        raise HTTPException(501, "This server's store holds no variables, secrets or blocks: "
                                 "start it on SQLite or PostgreSQL (ORKEST_DATABASE_URL).")
    return store  # type: ignore[no-any-return]


Config = Annotated[HasConfig, Depends(config_of)]


def checked(kind: str, name: str) -> str:
    """The name if valid, else a 422 naming it (orkest.config.values.check_name)."""
    from orkest.config.values import check_name

    return check_name(kind, name)


def check_json(value: Any, what: str) -> None:
    """NaN and infinities parse from a request body but are not JSON: 422."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON (no NaN or Infinity): {exc}") from None


@contextmanager
def key_errors() -> Iterator[None]:
    """A missing, malformed or wrong secret key is a 409 saying so (nothing decrypted,
    nothing changed): the request was fine, the server's key is not."""
    try:
        yield
    except ConfigurationError as exc:
        raise HTTPException(409, str(exc)) from None


def variable_view(record: VariableRecord) -> dict[str, Any]:
    return {"name": record.name, "value": record.value, "created_ts": record.created_ts,
            "updated_ts": record.updated_ts}


def secret_view(info: SecretInfo) -> dict[str, Any]:
    return {"name": info.name, "value": cm.MASK, "created_ts": info.created_ts,
            "updated_ts": info.updated_ts, "key_id": info.key_id}


# -- variables -----------------------------------------------------------------------------

@router.get("/variables", response_model=None, responses={200: {"model": cm.VariablePage}})
def list_variables(store: Config, limit: VariableLimit = 200,
                   offset: Offset = 0) -> Response:
    """Variables by name, with their values."""
    found = store.list_variables(limit=limit, offset=offset)
    total = known_total(found, limit, offset)
    if total is None:  # variables are few: counting them by listing their names is cheap
        total = offset + len(found) + len(store.list_variables(
            limit=MAX_COUNT, offset=offset + len(found)))
    return answer({"items": [variable_view(v) for v in found], "total": total,
                   "limit": limit, "offset": offset})


@router.get("/variables/{name}", response_model=None,
            responses={200: {"model": cm.VariableView}})
def read_variable(store: Config, name: NameInPath) -> Response:
    return answer(variable_view(store.read_variable(checked("variable", name))))


@router.put("/variables/{name}", response_model=None,
            responses={200: {"model": cm.VariableView}})
def set_variable(store: Config, name: NameInPath, body: cm.VariableIn) -> Response:
    """Create or replace a variable; `value` is any JSON value."""
    checked("variable", name)
    check_json(body.value, f"The value of variable {name!r}")
    return answer(variable_view(store.set_variable(name, body.value, time.time())))


@router.delete("/variables/{name}", status_code=204, response_class=Response)
def delete_variable(store: Config, name: NameInPath) -> Response:
    store.delete_variable(checked("variable", name))
    return no_content()


# -- secrets -------------------------------------------------------------------------------

@router.get("/secrets", response_model=None, responses={200: {"model": cm.SecretPage}})
def list_secrets(store: Config) -> Response:
    """Secrets by name: when each changed, never a value ("***")."""
    found = store.list_secrets()
    return answer({"items": [secret_view(s) for s in found], "total": len(found)})


@router.put("/secrets/{name}", response_model=None, responses={200: {"model": cm.SecretView}})
def set_secret(store: Config, name: NameInPath, body: cm.SecretIn) -> Response:
    """Create or replace a secret's value (encrypted at rest); the answer shows "***"."""
    checked("secret", name)
    with key_errors():
        info = store.set_secret(name, body.value, time.time())
    return answer(secret_view(info))


@router.delete("/secrets/{name}", status_code=204, response_class=Response)
def delete_secret(store: Config, name: NameInPath) -> Response:
    store.delete_secret(checked("secret", name))
    return no_content()


@router.post("/secrets/rotate-key", response_model=None, responses={200: {"model": cm.Rotated}})
def rotate_key(store: Config, body: cm.RotateIn | None = None) -> Response:
    """Re-encrypt every secret value and block secret field with a new key, on the server,
    in one transaction. How many values were re-encrypted."""
    from orkest.store import crypto

    new_key = None
    with key_errors():
        if body is not None and body.new_key is not None:
            if not os.environ.get(crypto.KEY_ENV):
                raise ValueError(f"new_key is only for a server whose key comes from "
                                 f"{crypto.KEY_ENV}; this server's key file is rotated "
                                 "without it (leave new_key out)")
            new_key = crypto.decode_key(body.new_key, "new_key")
        count = store.rotate_secret_key(new_key)
    return answer({"reencrypted": count})


@router.post("/secrets/{name}/reveal", response_model=None,
             responses={200: {"model": cm.RevealedSecret}})
def reveal_secret(store: Config, name: NameInPath) -> Response:
    """The plaintext, for `Secret(name).get()` in a running flow that talks to this server
    (never called by the web UI). 404 says how to set a missing secret; 409 when the
    server's key cannot decrypt it."""
    with key_errors():
        value = store.read_secret_value(checked("secret", name))
    return answer({"value": value})
