"""Load the flow a deployment's entrypoint names, raising (never exiting) when it cannot.

Entrypoints are those `orkest run` takes: `file.py:name` or `module:name`, where name is a
flow's attribute name, a DAG's attribute name or its dag_id, or a declarative flow file
(`.yaml`, `.yml`, `.json`). A source file that is not there any more is SourceChanged,
naming the path, so the run fails with a reason a person can act on.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from orkest.core.flows import Flow
from orkest.errors import SourceChanged, TargetNotFound

_FLOW_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def load_flow(entrypoint: str) -> Flow:
    """The flow behind `entrypoint`; SourceChanged or TargetNotFound saying why not."""
    from orkest._internal.loading import load_module_from_path, split_target

    location, name = split_target(entrypoint)
    if location.endswith(_FLOW_FILE_SUFFIXES):
        return _load_flow_file(Path(location))
    is_file = location.endswith(".py") or "/" in location or "\\" in location
    if is_file and not Path(location).is_file():
        raise SourceChanged(_missing(Path(location)))
    module = load_module_from_path(Path(location)) if is_file else _import(location)
    namespace = vars(module)
    obj = _named(namespace, name) if name is not None else _only_flow(namespace, location)
    if obj is None:
        raise TargetNotFound(f"{location} has no flow or DAG {name!r} (flows and DAGs found "
                             f"there: {', '.join(_flow_names(namespace)) or 'none'}); "
                             "was it renamed since the deployment was made?")
    return _as_flow(obj, entrypoint)


def _missing(path: Path) -> str:
    return (f"The deployment's source file {path} does not exist (moved or deleted?): "
            "deploy the flow again from where it is now")


def _load_flow_file(path: Path) -> Flow:
    if not path.is_file():
        raise SourceChanged(_missing(path))
    from orkest.declarative import load_flow as load_declarative

    return load_declarative(path).flow


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise SourceChanged(f"The deployment's module {module_name!r} cannot be imported "
                            f"({exc}): was it moved or uninstalled?") from exc


def _named(namespace: dict[str, Any], name: str) -> Any:
    obj: Any = namespace.get(name.split(".")[0])
    for part in name.split(".")[1:]:
        obj = getattr(obj, part, None)
    if obj is not None:
        return obj
    from orkest.dag.dag import iter_dags

    return next((d for d in iter_dags(namespace) if d.dag_id == name), None)


def _only_flow(namespace: dict[str, Any], location: str) -> Any:
    from orkest.dag.dag import iter_dags

    found = [v for v in namespace.values() if isinstance(v, Flow)] + list(iter_dags(namespace))
    if len(found) != 1:
        raise TargetNotFound(f"{location} names no single flow: use {location}:FLOW_NAME "
                             f"(found: {', '.join(_flow_names(namespace)) or 'none'})")
    return found[0]


def _flow_names(namespace: dict[str, Any]) -> list[str]:
    from orkest.dag.dag import iter_dags

    names = {n for n, v in namespace.items() if isinstance(v, Flow)}
    names.update(d.dag_id for d in iter_dags(namespace))
    return sorted(names)


def _as_flow(obj: Any, entrypoint: str) -> Flow:
    from orkest.dag import DAG

    if isinstance(obj, DAG):
        obj = obj.flow
    if not isinstance(obj, Flow):
        raise TargetNotFound(f"{entrypoint} is a {type(obj).__name__}, not a flow or a DAG")
    return obj
