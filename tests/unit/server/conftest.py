"""A real server app on a real SQLite store (the test's own ORKEST_HOME), through httpx."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orkest.core.ports import RunStore

TESTCLIENT_NOTICE = "Using `httpx` with `starlette.testclient` is deprecated"


def testclient_class() -> Any:
    """Starlette's TestClient, imported without its deprecation notice about httpx (the
    notice is for Starlette's own future; httpx is what this project uses)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=TESTCLIENT_NOTICE)
        from fastapi.testclient import TestClient
    return TestClient


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """make_client(**create_app_kwargs): a started TestClient; closed after the test."""
    from orkest.server import create_app

    opened: list[Any] = []

    def make(**kwargs: Any) -> Any:
        client = testclient_class()(create_app(**kwargs))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """The API over the SQLite database of this test's ORKEST_HOME, without a key."""
    return make_client(api_key="")


@pytest.fixture
def store(client: Any) -> RunStore:
    """The server's own store: what a test writes here, the API reads."""
    return client.app.state.store
