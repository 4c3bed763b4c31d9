"""Soak tests: a fresh PostgreSQL database per test, and the figures printed at the end.

PostgreSQL: ORKEST_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/
test) names a server to connect to; each test creates its own database there and drops it
afterwards. An unreachable server skips with the reason, unless ORKEST_REQUIRE_POSTGRES=1,
which makes it a failure (CI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from helpers import fresh_postgres_database

_figures: list[str] = []


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test (dropped afterwards, connections and all)."""
    with fresh_postgres_database("orkest_soak") as url:
        yield url


@pytest.fixture
def record_figure() -> Callable[[str], None]:
    """Print a measured figure now (visible with -s) and again in the terminal summary."""
    def record(line: str) -> None:
        print(line)  # noqa: T201 - the soak's figures are its output
        _figures.append(line)

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _figures:
        terminalreporter.write_sep("-", "soak measurements")
        for line in _figures:
            terminalreporter.write_line(line)
