"""Declarative flows (SPEC §3): YAML or JSON flow files, validated, run as DAGs.

`load_flow(path)` gives a runnable DAG; `load_flow_spec(path)` only the validated data.
Every problem raises FlowFileError naming the file, the field path and the line. Loading
needs pydantic and jinja2, which are imported only when a file is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orkest.declarative.loader import load_flow, load_flow_spec

if TYPE_CHECKING:
    from orkest.declarative.build import FlowFileDag
    from orkest.declarative.spec import FlowSpec

SCHEMA_FILE = "flow.schema.json"

__all__ = ["SCHEMA_FILE", "FlowFileDag", "FlowSpec", "load_flow", "load_flow_spec"]


def __getattr__(name: str) -> Any:
    if name == "FlowSpec":
        from orkest.declarative.spec import FlowSpec

        return FlowSpec
    if name == "FlowFileDag":
        from orkest.declarative.build import FlowFileDag

        return FlowFileDag
    raise AttributeError(f"module 'orkest.declarative' has no attribute {name!r}")
