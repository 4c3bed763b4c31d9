"""Pure ASGI middleware in front of every route: the API key, body size and request hygiene.

They are ASGI rather than FastAPI dependencies so that nothing under /api (including a
path no route knows) and /metrics can be reached without the key, and so that an
oversized body is refused while it is read, before any route or validator sees it.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Reachable without the key: the health check, and the API's description.
PUBLIC_PATHS = frozenset({"/api/health", "/api/openapi.json", "/api/docs"})


async def send_json(send: Send, status: int, detail: str,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def is_protected(path: str) -> bool:
    """Everything under /api (but the public paths) and /metrics needs the key."""
    if path in PUBLIC_PATHS:
        return False
    return path == "/api" or path.startswith("/api/") or path.rstrip("/") == "/metrics"


class ApiKeyMiddleware:
    """`Authorization: Bearer <key>` on protected paths, compared in constant time."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = _bearer(scope)
        if given is not None and hmac.compare_digest(given, self.key):
            await self.app(scope, receive, send)
            return
        if given is None:
            detail = ("This server needs an API key: send the header "
                      "'Authorization: Bearer <key>' (the server's ORKEST_API_KEY).")
            challenge = b'Bearer realm="orkest"'
        else:
            detail = "The API key is not valid for this server."
            challenge = b'Bearer realm="orkest", error="invalid_token"'
        await send_json(send, 401, detail, [(b"www-authenticate", challenge)])


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return None
    return None


class BodyLimitMiddleware:
    """Refuse a request body over `limit` bytes with 413, counting what is actually read.

    A declared Content-Length over the limit is refused at once; a body that arrives in
    chunks (or lies about its length) is refused as soon as it passes the limit. The body
    is read here in full and handed on, so a route never sees more than `limit` bytes.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await send_json(send, 413, self._too_large(declared))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await send_json(send, 413, self._too_large(None))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, declared: int | None) -> str:
        size = f" of {declared} bytes" if declared is not None else ""
        return (f"Request body{size} is larger than this server accepts "
                f"({self.limit} bytes, ORKEST_API_MAX_BODY_BYTES); send it in smaller parts.")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestHygieneMiddleware:
    """A NUL character in the path or query is malformed input (422), not a database error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or _has_nul(scope.get("query_string", b""))
        ):
            await send_json(send, 422, "The path or query contains a NUL character.")
            return
        await self.app(scope, receive, send)


def _has_nul(query: bytes) -> bool:
    return b"%00" in query or b"\x00" in query


class SpecSpellingMiddleware:
    """SPEC §8 spells resources with hyphens (/api/flow-runs), docs/api.md and its
    clients with underscores (/api/flow_runs): both reach the same routes."""

    ALIASES = (("/api/flow-runs", "/api/flow_runs"), ("/api/task-runs", "/api/task_runs"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        for alias, name in self.ALIASES if "-runs" in path else ():
            if path == alias or path.startswith(alias + "/"):
                raw = scope.get("raw_path") or path.encode()
                scope = {**scope, "path": name + path[len(alias):],
                         "raw_path": raw.replace(alias.encode(), name.encode(), 1)}
                break
        await self.app(scope, receive, send)
