"""A Dask cluster shared by a test module, and a DaskRunner connected to it by address.

Import the two *_fixture functions into a test module to run it on Dask (one cluster
start per module, not per test). Without the `dask` extra they skip, naming it; CI
installs it (`.[dev]`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from orkest.runners import TaskRunner


@pytest.fixture(scope="module", name="dask_address")
def dask_address_fixture() -> Iterator[str]:
    """Two worker processes of one thread each: a 2-core machine's worth."""
    pytest.importorskip("distributed", reason="DaskRunner needs the `dask` extra")
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(name="dask_runner")
def dask_runner_fixture(dask_address: str) -> TaskRunner:
    from orkest.runners import DaskRunner

    return DaskRunner(address=dask_address)
