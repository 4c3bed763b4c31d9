"""Fuzz every operation of the API from its own OpenAPI document: no answer is a 5xx.

Schemathesis generates valid ("positive") and invalid ("negative") requests for each
operation: paths, queries and bodies, on SQLite. The writes (POST bodies) are fuzzed on
PostgreSQL too, whose text columns refuse what SQLite takes (a NUL character); without a
reachable server those cases skip and say why (ORKEST_REQUIRE_POSTGRES=1 fails instead).
A bounded number of examples keeps the file under a minute. (Schemathesis' own pytest
decorators do not run on this pytest, so its strategies are driven with Hypothesis.)
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from orkest.core.records import FlowRun, LogLine, ResultBlob, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.store.memory import MemoryRunStore

NOTICE = "Using `httpx` with `starlette.testclient`"  # Starlette's wish for httpx2 one day
pytestmark = pytest.mark.filterwarnings(f"ignore:{NOTICE}")

EXAMPLES = 25
POSTGRES_EXAMPLES = 15
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


def _operations() -> list[tuple[str, str]]:
    from orkest.server import create_app

    document = create_app(MemoryRunStore(), api_key="", ui_dir=None).openapi()
    return [(method.upper(), path) for path, ops in document["paths"].items() for method in ops]


def _cases() -> list[Any]:
    cases = []
    for method, path in _operations():
        for mode in (POSITIVE, NEGATIVE):
            cases.append(pytest.param("sqlite", method, path, mode,
                                      id=f"sqlite {method} {path} {mode}"))
        if method == "POST":
            cases.append(pytest.param("postgresql", method, path, POSITIVE,
                                      id=f"postgresql {method} {path} {POSITIVE}"))
    return cases


def _seed(store: Any) -> None:
    """A few records with known ids, so some requests reach past the 404s."""
    run = FlowRun("abcd" + "0" * 28, "etl", "brave-otter", StateType.COMPLETED, "Completed",
                  10.0, 5.0, start_ts=6.0, end_ts=10.0, result_ref="db:json:k1")
    task = TaskRun("dcba" + "0" * 28, run.id, "extract", "extract-1", "0", "extract-0",
                   StateType.FAILED, "Failed", 9.0, 6.0, start_ts=7.0, end_ts=9.0)
    store.write(WriteBatch(flow_runs={run.id: run}, task_runs={task.id: task},
                           logs=[LogLine(run.id, task.id, 8.0, 40, "t", "boom")],
                           results=[ResultBlob("k1", "json", b"[1, 2]", 5.0)]))


def _schema(database_url: str) -> tuple[Any, Any]:
    from orkest.server import create_app

    app = create_app(api_key="", database_url=database_url, ui_dir=None)
    app.state.max_claim_wait = 0.1  # nothing is ever due here: do not wait 30 s per case
    _seed(app.state.store)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOTICE)
        return app, schemathesis.openapi.from_asgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app and database for the whole file (the fuzzed writes land there too)."""
    db: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    app, schema = _schema(f"sqlite:///{db}")
    yield schema
    app.state.store.close()


@pytest.fixture(scope="module")
def postgresql_schema() -> Iterator[Any]:
    """The app over a database of its own on the PostgreSQL server (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    base = make_url(os.environ.get("ORKEST_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    admin = create_engine(base.set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"orkest_fuzz_{uuid.uuid4().hex[:12]}"
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            reason = f"PostgreSQL unreachable at {base.render_as_string()} ({exc.orig})"
            if os.environ.get("ORKEST_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"ORKEST_REQUIRE_POSTGRES=1 but {reason}")
            pytest.skip(reason)
        url = base.set(drivername="postgresql+psycopg", database=name)
        app, schema = _schema(url.render_as_string(hide_password=False))
        yield schema
        app.state.store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.mark.parametrize(("backend", "method", "path", "mode"), _cases())
def test_no_request_makes_the_server_fail(request: pytest.FixtureRequest, backend: str,
                                          method: str, path: str,
                                          mode: GenerationMode) -> None:
    operation = request.getfixturevalue(f"{backend}_schema")[path][method]
    examples = EXAMPLES if backend == "sqlite" else POSTGRES_EXAMPLES

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    try:
        check()
    except Unsatisfiable:
        # Nothing about this operation can be made invalid (no parameters, no body).
        assert mode is NEGATIVE
