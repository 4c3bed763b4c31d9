"""The app factory: the REST API under /api, metrics at /metrics, the web UI at /.

Routes are plain `def`: the stores are synchronous, and FastAPI runs such routes in its
thread pool, so a slow query never blocks the event loop. Middleware, outermost first:
CORS (only listed origins), NUL hygiene, SPEC spellings, the API key, the body size
limit.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware import Middleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware

from orkest.core.ports import RunStore
from orkest.errors import ConfigurationError
from orkest.server import problems
from orkest.server.config import ServerConfig, load_config
from orkest.server.metrics import ServerMetrics
from orkest.server.middleware import (
    PUBLIC_PATHS,
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    RequestHygieneMiddleware,
    SpecSpellingMiddleware,
)
from orkest.server.pages import PageCache
from orkest.server.routes import (
    automations,
    blocks,
    config_values,
    control,
    deployments,
    events,
    flow_runs,
    logs,
    results,
    stats,
    task_runs,
    work_pools,
    writes,
)

UI_DIR = Path(__file__).parent / "ui"
API_PREFIX = "/api"


def open_database(url: str) -> RunStore:
    """The server's own store for `url`: never the API client (that would be itself)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "memory":
        from orkest.store.memory import MemoryRunStore

        return MemoryRunStore()
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            f"The server needs a database, not {url.split('@')[-1]!r}: set "
            "ORKEST_DATABASE_URL to sqlite:///path/orkest.db or postgresql+psycopg://..., "
            "or leave it unset for the SQLite file under ORKEST_HOME.")
    from orkest.store.sql.store import SqlRunStore

    return SqlRunStore(url)


def create_app(
    store: RunStore | None = None,
    *,
    api_key: str | None = None,
    database_url: str | None = None,
    cors_origins: list[str] | tuple[str, ...] | None = None,
    max_body_bytes: int | None = None,
    ui_dir: Path | None = UI_DIR,
    reap_interval: float | None = None,
    services: bool = False,
) -> FastAPI:
    """The orkest API server as an ASGI app.

    Settings left as None come from the environment (ORKEST_DATABASE_URL / ORKEST_HOME,
    ORKEST_API_KEY, ORKEST_API_CORS_ORIGINS, ORKEST_API_MAX_BODY_BYTES); `api_key=""`
    turns the key off. `store` replaces the database (tests); `database_url` still names
    the database a retry process should use. `reap_interval` (seconds) marks runs whose
    process died CRASHED in the background, as `orkest flow-run ls` does. `services`
    runs the scheduler and the event triggers in this process (`orkest server start`).
    """
    config = load_config(database_url=database_url, api_key=api_key,
                         cors_origins=cors_origins, max_body_bytes=max_body_bytes)
    owned = store is None
    run_store = open_database(config.database_url) if store is None else store
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threads = [threading.Thread(target=metrics.seed, args=(run_store,),
                                    name="orkest-metrics-seed", daemon=True)]
        if reap_interval:
            threads.append(threading.Thread(target=_reap_loop,
                                            args=(run_store, reap_interval, metrics.stopping),
                                            name="orkest-reaper", daemon=True))
        for thread in threads:
            thread.start()
        if services:
            from orkest.services.runner import start_services

            background = start_services(run_store, metrics.stopping, reaper=False)
            threads.extend(background.threads)
        try:
            yield
        finally:
            metrics.stopping.set()
            for thread in threads:
                thread.join(timeout=5)
            if owned:
                run_store.close()

    from orkest import __version__

    app = FastAPI(
        title="orkest API", version=__version__, lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
        description="REST API of the orkest server: see docs/api.md.",
        middleware=_middleware(config),
    )
    app.state.store = run_store
    app.state.config = config
    app.state.metrics = metrics
    app.state.pages = PageCache()
    from orkest.store import result_files

    app.state.result_files = result_files(config.home / "results")
    problems.install(app)
    _include_routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if ui_dir is not None and ui_dir.is_dir():
        app.mount("/", StaticFiles(directory=ui_dir, html=True), name="ui")
    return app


def _middleware(config: ServerConfig) -> list[Middleware]:
    stack = []
    if config.cors_origins:
        stack.append(Middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                                allow_headers=["Authorization", "Content-Type"],
                                allow_credentials=False, max_age=600))
    stack += [Middleware(RequestHygieneMiddleware), Middleware(SpecSpellingMiddleware),
              Middleware(ApiKeyMiddleware, api_key=config.api_key),
              Middleware(BodyLimitMiddleware, limit=config.max_body_bytes)]
    return stack


def _include_routes(app: FastAPI) -> None:
    from orkest.server import api_docs

    api = APIRouter()
    for module in (stats, flow_runs, task_runs, logs, control, results, writes, deployments,
                   work_pools, events, config_values, blocks, automations, api_docs):
        api.include_router(module.router)
    app.include_router(api, prefix=API_PREFIX)
    app.include_router(stats.metrics_router)

    @app.api_route(API_PREFIX + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH",
                                                         "DELETE"], include_in_schema=False)
    def unknown(request: Request, rest: str) -> JSONResponse:
        return JSONResponse({"detail": f"No API route for {request.method} {API_PREFIX}/{rest}"
                                       f" (see {API_PREFIX}/docs)"}, status_code=404)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the bearer scheme on every route that needs the key."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    _add_batch_schema(schema)
    if app.state.config.api_key:
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer",
            "description": "The server's ORKEST_API_KEY"}
        for path, operations in schema.get("paths", {}).items():
            if path in PUBLIC_PATHS:
                continue
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
    app.openapi_schema = schema
    return schema


def _add_batch_schema(schema: dict[str, Any]) -> None:
    """POST /api/batches parses its body itself (fast path), so FastAPI does not list the
    body's model: add it and the models it refers to."""
    from orkest.server.models import BatchIn

    batch = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in batch.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault("BatchIn", batch)


def _reap_loop(store: RunStore, interval: float, stopping: threading.Event) -> None:
    from orkest.services.runner import reap_loop

    reap_loop(store, stopping, interval)