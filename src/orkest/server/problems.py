"""orkest's errors as HTTP answers: one JSON shape, `{"detail": "..."}`, never a 500 for input.

    ObjectNotFound                404  (an ambiguous id prefix: 409, the id needs more characters)
    InvalidStateTransition        409
    ValueError, SerializationError, request validation   422
    StoreError (database down or locked for too long)     503  (clients retry later)
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from orkest.errors import (
    InvalidStateTransition,
    ObjectNotFound,
    SerializationError,
    StoreError,
)

log = logging.getLogger("orkest.server")


def is_ambiguous(exc: ObjectNotFound) -> bool:
    """The stores say "The id prefix 'ab12' matches 3 flow runs" for an ambiguous prefix."""
    text = str(exc)
    return "id prefix" in text and " matches " in text


def problem(status: int, detail: str, **extra: object) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ObjectNotFound)
    return problem(409 if is_ambiguous(exc) else 404, str(exc))


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return problem(409, str(exc))


async def _unprocessable(_request: Request, exc: Exception) -> JSONResponse:
    return problem(422, str(exc) or type(exc).__name__)


async def _store_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return problem(503, str(exc))


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors, summed up in one readable `detail` line."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    if len(errors) > 5:
        summary += f"; and {len(errors) - 5} more"
    return problem(422, summary or "Invalid request", errors=errors[:50])


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(500, f"Internal server error ({type(exc).__name__}); see the server log.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ObjectNotFound, _not_found)
    app.add_exception_handler(InvalidStateTransition, _conflict)
    app.add_exception_handler(SerializationError, _unprocessable)
    app.add_exception_handler(ValueError, _unprocessable)
    app.add_exception_handler(StoreError, _store_down)
    app.add_exception_handler(Exception, _unexpected)
