"""Loading a deployment's flow in the worker's child: what is found, and what is said when
the source is gone or renamed (errors, never exits)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orkest.core.flows import Flow
from orkest.errors import SourceChanged, TargetNotFound
from orkest.worker.loading import load_flow

SOURCE = """
    from orkest import DAG, flow
    from orkest.operators import EmptyOperator

    @flow(name="greeting")
    def greet(name: str = "world"):
        return f"hello {name}"

    with DAG("nightly-etl") as pipeline:
        EmptyOperator(task_id="start")
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "worker_flows.py"
    path.write_text(textwrap.dedent(SOURCE))
    before = set(sys.modules)
    yield path
    for name in set(sys.modules) - before:
        if "worker_flows" in name:
            del sys.modules[name]


def test_a_flow_by_attribute_a_dag_by_attribute_or_dag_id(flows_file: Path) -> None:
    assert load_flow(f"{flows_file}:greet").name == "greeting"
    assert isinstance(load_flow(f"{flows_file}:pipeline"), Flow)
    assert load_flow(f"{flows_file}:nightly-etl").name == load_flow(
        f"{flows_file}:pipeline").name


def test_a_missing_file_is_source_changed_naming_the_path(tmp_path: Path) -> None:
    gone = tmp_path / "moved_away.py"
    with pytest.raises(SourceChanged, match="moved_away.py does not exist"):
        load_flow(f"{gone}:greet")
    with pytest.raises(SourceChanged, match="flow.yaml does not exist"):
        load_flow(str(tmp_path / "flow.yaml"))


def test_a_renamed_flow_lists_what_is_there(flows_file: Path) -> None:
    with pytest.raises(TargetNotFound, match="has no flow or DAG 'old_name'.*greet.*renamed"):
        load_flow(f"{flows_file}:old_name")


def test_a_missing_module_is_source_changed() -> None:
    with pytest.raises(SourceChanged, match="no_such_module_here"):
        load_flow("no_such_module_here:flow")


def test_a_declarative_flow_file(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent("""
        name: from-yaml
        tasks:
          - id: hello
            shell: "echo hi"
    """))
    assert load_flow(str(path)).name == "from-yaml"
