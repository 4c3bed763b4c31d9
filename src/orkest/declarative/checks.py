"""Rules that span fields or tasks, checked on the file's raw data with exact field paths.

They run next to the pydantic models (not after them), on whatever parts of the file have
the right shape, so one load reports as many problems as it can: a typo'd key and an
unknown `depends_on` entry come out together. Checked here: shell/python (exactly one) and
the fields that go with each, parameter names, task ids (unique), depends_on (known tasks,
no cycles), templates (syntax; `tasks.<id>` upstream; `params.<name>` declared), and
python targets (importable; `with` keys fit the function).
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orkest.dag.context import CONTEXT_KEYS
from orkest.declarative.problems import FieldPath, Problem
from orkest.declarative.source import FlowSource
from orkest.declarative.spec import PYTHON_TARGET_PATTERN
from orkest.declarative.targets import check_arguments, import_target
from orkest.declarative.templates import find_refs, is_template, strings_in
from orkest.errors import FlowFileError

CONTEXT_NAMES = frozenset(CONTEXT_KEYS | {"tasks"})  # what a python function may ask for
_TARGET = re.compile(PYTHON_TARGET_PATTERN)


@dataclass(slots=True)
class TaskGraph:
    """Task ids in file order, where each is defined, and who depends on whom."""

    index: dict[str, int] = field(default_factory=dict)  # id -> first tasks[i] with it
    upstream: dict[str, list[str]] = field(default_factory=dict)  # direct, known ids only

    def ancestors(self, task_id: str) -> set[str]:
        """Every task `task_id` waits for, directly or through others."""
        seen: set[str] = set()
        stack = list(self.upstream.get(task_id, ()))
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self.upstream.get(node, ()))
        return seen


def check_document(source: FlowSource) -> list[Problem]:
    """Problems of the file beyond each field's own shape (see the module docstring)."""
    data = source.data
    if data is None:
        return [Problem((), "the file is empty; a flow file is a mapping with at least "
                            "`name` and `tasks`")]
    if not isinstance(data, dict):
        return [Problem((), f"expected a mapping with `name` and `tasks` at the top, not "
                            f"{_kind(data)}")]
    problems: list[Problem] = []
    params = data.get("parameters")
    param_names = [k for k in params if isinstance(k, str)] if isinstance(params, dict) \
        else None
    for name in param_names or ():
        if not name.isidentifier() or keyword.iskeyword(name):
            problems.append(Problem(("parameters", name), f"parameter name {name!r} must be "
                                    "a Python identifier (letters, digits and _, not a "
                                    "keyword), as templates use it as params.<name>"))
    tasks = data.get("tasks")
    if not isinstance(tasks, list):
        return problems  # the models report a missing or mistyped `tasks`
    entries = [(i, t) for i, t in enumerate(tasks) if isinstance(t, dict)]
    graph = _graph(entries, problems)
    folder = str(source.path.resolve().parent)
    for i, task in entries:
        problems.extend(_kind_problems(i, task))
        problems.extend(_template_problems(i, task, graph, param_names))
        problems.extend(_target_problems(i, task, folder))
    return problems


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string"}.get(type(value), f"a {type(value).__name__}")


def _known(graph: TaskGraph) -> str:
    return ", ".join(graph.index) or "none"


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


# -- graph -------------------------------------------------------------------------------

def _graph(entries: list[tuple[int, dict]], problems: list[Problem]) -> TaskGraph:
    graph = TaskGraph()
    owners: list[tuple[int, str | None]] = []
    for i, task in entries:
        task_id = task.get("id")
        if not isinstance(task_id, str):
            owners.append((i, None))
            continue
        if task_id in graph.index:
            problems.append(Problem(("tasks", i, "id"), f"duplicate task id {task_id!r} "
                                    f"(already used by tasks[{graph.index[task_id]}])"))
            owners.append((i, None))
            continue
        graph.index[task_id] = i
        graph.upstream[task_id] = []
        owners.append((i, task_id))
    for (i, task), (_, owner) in zip(entries, owners, strict=True):
        deps = task.get("depends_on")
        if not isinstance(deps, list):
            continue
        for k, dep in enumerate(deps):
            if not isinstance(dep, str):
                continue
            path = ("tasks", i, "depends_on", k)
            if dep not in graph.index:
                problems.append(Problem(path, f"unknown task {dep!r}; known tasks: "
                                        f"{_known(graph)}{_suggest(dep, list(graph.index))}"))
            elif owner is not None and dep == owner:
                problems.append(Problem(path, f"task {dep!r} cannot depend on itself",
                                        is_cycle=True))
            elif owner is not None and dep not in graph.upstream[owner]:
                graph.upstream[owner].append(dep)
    problems.extend(_cycle_problems(graph, entries))
    return graph


def _cycle_problems(graph: TaskGraph, entries: list[tuple[int, dict]]) -> Iterator[Problem]:
    """One problem per group of tasks that wait for each other, naming one cycle in it."""
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        start = min(group, key=graph.index.__getitem__)
        cycle = _cycle_through(start, group, graph)
        # start waits for cycle[-1]: that depends_on entry closes the cycle
        deps = dict(entries)[graph.index[start]]["depends_on"]
        k = deps.index(cycle[-1])
        shown = " >> ".join([*cycle, cycle[0]])
        yield Problem(("tasks", graph.index[start], "depends_on", k),
                      f"dependency cycle: {shown} (tasks in it: {', '.join(cycle)})",
                      is_cycle=True)


def _cycle_through(start: str, group: set[str], graph: TaskGraph) -> list[str]:
    """The shortest `start >> ... >> x` such that start depends on x (x >> start)."""
    downstream: dict[str, list[str]] = {t: [] for t in group}
    for task_id in group:
        for up in graph.upstream[task_id]:
            if up in group:
                downstream[up].append(task_id)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in downstream[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    return [start]  # pragma: no cover - a strongly connected group always has a cycle


def _strongly_connected(graph: TaskGraph) -> list[set[str]]:
    """Tarjan's algorithm, iterative (a long chain of tasks must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    for root in graph.index:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_pos = work.pop()
            if child_pos == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = graph.upstream[node]
            if child_pos < len(children):
                work.append((node, child_pos + 1))
                child = children[child_pos]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return groups


# -- per task ----------------------------------------------------------------------------

def _kind_problems(i: int, task: dict) -> Iterator[Problem]:
    has_shell = task.get("shell") is not None
    has_python = task.get("python") is not None
    name = f"task {task['id']!r}" if isinstance(task.get("id"), str) else "a task"
    if not has_shell and not has_python:
        yield Problem(("tasks", i), f"{name} needs `shell` (a command) or `python` "
                                    "(module:function)")
    elif has_shell and has_python:
        yield Problem(("tasks", i, "python"), f"{name} has both `shell` and `python`; "
                                              "give exactly one")
    elif has_shell and "with" in task:
        yield Problem(("tasks", i, "with"), "`with` passes arguments to a python function; "
                      "a shell command uses templates such as {{ params.name }} directly")
    elif has_python:
        for key in ("env", "cwd"):
            if key in task:
                yield Problem(("tasks", i, key), f"`{key}` is for shell tasks only")


def _templated(task: dict) -> Iterator[tuple[FieldPath, str]]:
    for key in ("shell", "cwd"):
        if isinstance(task.get(key), str):
            yield (key,), task[key]
    for key in ("env", "with"):
        if isinstance(task.get(key), dict):
            for sub, text in strings_in(task[key]):
                yield (key, *sub), text


def _template_problems(i: int, task: dict, graph: TaskGraph,
                       param_names: list[str] | None) -> Iterator[Problem]:
    task_id = task.get("id")
    own = task_id if isinstance(task_id, str) and graph.index.get(task_id) == i else None
    upstream = graph.ancestors(own) if own is not None else None
    for sub, text in _templated(task):
        if not is_template(text):
            continue
        path = ("tasks", i, *sub)
        refs = find_refs(text)
        if refs.error is not None:
            yield Problem(path, refs.error)
            continue
        for ref in dict.fromkeys(refs.tasks):
            if ref not in graph.index:
                yield Problem(path, f"template uses tasks.{ref}, but there is no task "
                              f"{ref!r}; known tasks: {_known(graph)}"
                              f"{_suggest(ref, list(graph.index))}")
            elif ref == own:
                yield Problem(path, f"template uses tasks.{ref}: a task cannot use its own "
                                    "result")
            elif upstream is not None and ref not in upstream:
                yield Problem(path, f"template uses tasks.{ref}.result, but {ref!r} is not "
                              f"upstream of {own!r}; add it to depends_on")
        for ref in dict.fromkeys(refs.bare_tasks):
            yield Problem(path, f"tasks.{ref} is a task, not a value: use "
                                f"tasks.{ref}.result")
        for ref, attr in dict.fromkeys(refs.bad_attrs):
            yield Problem(path, f"tasks.{ref}.{attr}: a task reference has only .result")
        if param_names is None:
            continue
        for ref in dict.fromkeys(refs.params):
            if ref not in param_names:
                declared = ", ".join(param_names) or "none"
                yield Problem(path, f"template uses params.{ref}, but the flow declares no "
                              f"parameter {ref!r}; declared: {declared}"
                              f"{_suggest(ref, param_names)}")


def _target_problems(i: int, task: dict, folder: str) -> Iterator[Problem]:
    target = task.get("python")
    if not isinstance(target, str) or not _TARGET.match(target):
        return  # missing, or the models report its shape
    try:
        fn = import_target(folder, target)
    except FlowFileError as exc:
        yield Problem(("tasks", i, "python"), f"cannot use {target!r}: {exc}")
        return
    given = task.get("with")
    keys = [k for k in given if isinstance(k, str)] if isinstance(given, dict) else []
    unknown, missing = check_arguments(fn, keys, CONTEXT_NAMES)
    name = target.partition(":")[2]
    for key in unknown:
        yield Problem(("tasks", i, "with", key), f"{name}() takes no argument {key!r}")
    if missing:
        where = ("tasks", i, "with") if isinstance(given, dict) else ("tasks", i, "python")
        yield Problem(where, f"{name}() needs a value for {', '.join(missing)}; give it "
                             "under `with:`")
