"""One pooled HTTP/1.1 connection pool to the API server, and its errors as orkest errors.

Status codes map onto the exceptions the other stores raise, so callers cannot tell a
remote store from a local one: 404 ObjectNotFound, 409 InvalidStateTransition (or
ObjectNotFound for an ambiguous id prefix, as SqlRunStore raises), 401/403
ConfigurationError naming ORKEST_API_KEY, and "not reachable now" (refused, timed out,
5xx) StoreUnavailable, which the recorder retries with backoff.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from orkest.errors import (
    ConfigurationError,
    InvalidStateTransition,
    ObjectNotFound,
    StoreError,
    StoreUnavailable,
)
from orkest.store import semantics

# Connect fast (a dead server should not stall a run), but let a big batch take its time.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=8, keepalive_expiry=30.0)
JSON_HEADERS = {"content-type": "application/json"}

# Compact separators: ~10% fewer bytes than json.dumps' default, same speed.
_encoder = json.JSONEncoder(allow_nan=False, default=str, separators=(",", ":"))


def encode(value: Any) -> bytes:
    """JSON bytes of a wire value; odd values are stored as best they can be, as locally."""
    try:
        return _encoder.encode(value).encode()
    except (TypeError, ValueError, RecursionError):  # NaN, non-string keys, cycles
        return semantics.to_json(value).encode()


def normalize_api_url(url: str) -> str:
    """`http://host:4200` and `http://host:4200/api/` both mean the API root `.../api`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"ORKEST_API_URL={url!r} is not an http(s) URL; use e.g. http://127.0.0.1:4200/api"
        )
    path = parts.path.rstrip("/") or "/api"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def segment(value: str) -> str:
    """An id or key as one URL path segment."""
    return quote(value, safe="")


class ApiSession:
    """Requests to one API server over a keep-alive pool, shared by every thread."""

    def __init__(self, api_url: str, api_key: str | None = None, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = normalize_api_url(api_url)
        headers = {"accept": "application/json", "user-agent": "orkest-client"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._has_key = bool(api_key)
        self._client = httpx.Client(base_url=self.api_url, headers=headers, timeout=TIMEOUT,
                                    limits=LIMITS, http1=True, http2=False,
                                    follow_redirects=False, trust_env=False,
                                    transport=transport)
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"ApiSession({self.api_url!r})"

    def request(self, method: str, path: str, *, params: Any = None, body: bytes | None = None,
                missing_ok: bool = False) -> Any:
        """The decoded JSON answer (None for 204, or for 404 when `missing_ok`)."""
        try:
            response = self._client.request(method, path, params=params, content=body,
                                            headers=JSON_HEADERS if body is not None else None)
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"Cannot reach the orkest server at {self.api_url} ({type(exc).__name__}: "
                f"{exc or 'no answer'}); is `orkest server start` running there?"
            ) from exc
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise self._error(method, path, response)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise StoreError(f"The orkest server sent invalid JSON for {method} {path}") from exc

    def get(self, path: str, params: Any = None, *, missing_ok: bool = False) -> Any:
        return self.request("GET", path, params=params, missing_ok=missing_ok)

    def post(self, path: str, value: Any = None, *, body: bytes | None = None) -> Any:
        return self.request("POST", path, body=body if body is not None else encode(value))

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._client.close()

    def _error(self, method: str, path: str, response: httpx.Response) -> Exception:
        status = response.status_code
        detail = _detail(response)
        if status in (401, 403):
            hint = ("ORKEST_API_KEY is not set here" if not self._has_key
                    else "the ORKEST_API_KEY set here is not the server's key")
            return ConfigurationError(
                f"The orkest server at {self.api_url} refused the request ({status}: {detail}):"
                f" {hint}. Set ORKEST_API_KEY to the key the server was started with."
            )
        if status == 404:
            return ObjectNotFound(detail)
        if status == 409:
            if "id prefix" in detail:  # ambiguous prefix: the local stores' ObjectNotFound
                return ObjectNotFound(detail)
            return InvalidStateTransition(detail)
        if status >= 500:
            return StoreUnavailable(
                f"The orkest server at {self.api_url} failed on {method} {path} "
                f"({status}: {detail}); retry later"
            )
        return StoreError(
            f"The orkest server at {self.api_url} rejected {method} {path} ({status}: {detail})"
        )


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail)[:500]
    return str(data)[:500]
