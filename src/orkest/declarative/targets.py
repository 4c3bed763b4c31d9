"""`python: module:function` targets: imported from the flow file's folder.

The folder goes to the front of sys.path and stays there (as `orkest run file.py` does for
a flow file's folder), so the function's own lazy imports keep working. Operators store
the target as text and import it again where they run, which may be another process.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from orkest.errors import FlowFileError


def import_target(folder: str, target: str) -> Callable[..., Any]:
    """The function `module:function` names, importing the module from `folder` first.

    FlowFileError says why it cannot be had; callers add the file and field to it.
    """
    module_name, _, attr_path = target.partition(":")
    if folder not in sys.path:
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise FlowFileError(f"no module named {exc.name!r} (looked in {folder} and on "
                              "sys.path)") from None
        raise FlowFileError(f"importing {module_name!r} failed: ModuleNotFoundError: {exc}") \
            from None
    except Exception as exc:  # noqa: BLE001 - any error of the user's module is reported
        raise FlowFileError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") \
            from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            owner = module_name if obj is module else f"{module_name}:{attr_path}"
            raise FlowFileError(f"{owner!r} has no attribute {part!r}{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise FlowFileError(f"{target!r} is a {type(obj).__name__}, not a function")
    return obj


def check_arguments(fn: Callable[..., Any], given: Iterable[str],
                    context_names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(with-keys the function does not take, required parameters nothing supplies)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return [], []  # builtins without a signature: find out at run time
    given = list(given)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    keyword = {name for name, p in parameters.items()
               if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             inspect.Parameter.KEYWORD_ONLY)}
    unknown = [] if takes_any else [key for key in given if key not in keyword]
    supplied = set(given) | set(context_names)
    missing = [name for name, p in parameters.items()
               if p.default is inspect.Parameter.empty
               and p.kind not in (inspect.Parameter.VAR_POSITIONAL,
                                  inspect.Parameter.VAR_KEYWORD)
               and (name not in supplied or p.kind is inspect.Parameter.POSITIONAL_ONLY)]
    return unknown, missing


def context_arguments(fn: Callable[..., Any], context: Mapping[str, Any],
                      given: Iterable[str]) -> dict[str, Any]:
    """Context values the function names explicitly among its parameters (not **kwargs)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    given = set(given)
    return {name: context[name] for name, p in parameters.items()
            if name in context and name not in given
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           inspect.Parameter.KEYWORD_ONLY)}
