"""Reading a flow file: its data, plus the line where each field starts.

YAML is composed into nodes first (their start marks give the lines, and duplicate keys are
caught before they silently overwrite each other), then constructed with the safe loader.
JSON is parsed by `json.loads` (strict, and the source of the values) and walked once more
by a small scanner that only records where each value starts, so JSON errors carry lines
too. Lines are 1-based; a field path is a tuple such as ("tasks", 1, "depends_on", 0).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orkest.declarative.problems import FieldPath, Problem, file_error

SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 200


@dataclass(slots=True)
class FlowSource:
    """A parsed flow file: `label` is how messages name it (the path as given)."""

    path: Path
    label: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # duplicate keys


def read_source(path: str | Path) -> FlowSource:
    """Read and parse a .yaml/.yml/.json flow file; FlowFileError if it cannot be parsed."""
    label = str(path)
    file = Path(path)
    kind = SUFFIXES.get(file.suffix.lower())
    if kind is None:
        raise file_error(f"{label}: a flow file must end in .yaml, .yml or .json",
                            path=label)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise file_error(f"{label}: no such file", path=label) from None
    except IsADirectoryError:
        raise file_error(f"{label}: is a directory, not a flow file", path=label) from None
    except UnicodeDecodeError as exc:
        raise file_error(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                            path=label) from None
    except OSError as exc:
        raise file_error(f"{label}: cannot be read ({exc.strerror})", path=label) from None
    source = FlowSource(file, label, None)
    if kind == "yaml":
        _parse_yaml(text, source)
    else:
        _parse_json(text, source)
    return source


# -- YAML --------------------------------------------------------------------------------

def _parse_yaml(text: str, source: FlowSource) -> None:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _walk_node(node, (), source, 0)
            source.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        if exc.problem and exc.context and exc.context_mark is not None:
            start = exc.context_mark
            what += f" ({exc.context} that starts on line {start.line + 1}, column " \
                    f"{start.column + 1})"
        line = mark.line + 1 if mark is not None else None
        where = f" (line {line}, column {mark.column + 1})" if mark is not None else ""
        raise file_error(f"{source.label}{where}: invalid YAML: {what}",
                            path=source.label, line=line) from None
    except yaml.YAMLError as exc:
        raise file_error(f"{source.label}: invalid YAML: {exc}", path=source.label) \
            from None
    finally:
        loader.dispose()


def _walk_node(node: Any, path: FieldPath, source: FlowSource, depth: int,
               visited: set[int] | None = None) -> None:
    """Record the lines of `node`'s fields and report duplicate keys (before construction,
    which would keep the last value without a word). An aliased node is walked once."""
    import yaml

    visited = set() if visited is None else visited
    source.lines.setdefault(path, node.start_mark.line + 1)
    if depth > _MAX_DEPTH or id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                source.problems.append(Problem(
                    (*path, key), f"duplicate key {key!r} (first given on line {seen[key]})",
                    line=line))
                continue
            seen[key] = line
            source.lines[(*path, key)] = line
            _walk_node(value_node, (*path, key), source, depth + 1, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_node(item, (*path, index), source, depth + 1, visited)


# -- JSON --------------------------------------------------------------------------------

def _parse_json(text: str, source: FlowSource) -> None:
    try:
        source.data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise file_error(
            f"{source.label} (line {exc.lineno}, column {exc.colno}): invalid JSON: {exc.msg}",
            path=source.label, line=exc.lineno) from None
    try:
        _JsonLines(text, source).run()
    except (ValueError, IndexError, RecursionError):  # pragma: no cover - json.loads agreed
        source.lines.clear()  # values are right; only the line numbers are lost


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(r"-?[0-9][0-9.eE+\-]*|true|false|null")


class _JsonLines:
    """Walks JSON text that json.loads accepted, noting where each value (and key) starts."""

    def __init__(self, text: str, source: FlowSource) -> None:
        self.text = text
        self.source = source
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def skip(self, pos: int) -> int:
        return _JSON_SPACE.match(self.text, pos).end()  # type: ignore[union-attr]

    def run(self) -> None:
        self.value(self.skip(0), ())

    def value(self, pos: int, path: FieldPath) -> int:
        self.source.lines.setdefault(path, self.line(pos))
        char = self.text[pos]
        if char == "{":
            return self.obj(pos + 1, path)
        if char == "[":
            return self.array(pos + 1, path)
        if char == '"':
            return json.decoder.scanstring(self.text, pos + 1)[1]
        match = _JSON_ATOM.match(self.text, pos)
        if match is None:
            raise ValueError(f"unexpected {char!r} at {pos}")
        return match.end()

    def obj(self, pos: int, path: FieldPath) -> int:
        pos = self.skip(pos)
        seen: dict[str, int] = {}
        if self.text[pos] == "}":
            return pos + 1
        while True:
            key_line = self.line(pos)
            key, pos = json.decoder.scanstring(self.text, pos + 1)
            pos = self.skip(self.skip(pos) + 1)  # past ':'
            if key in seen:
                self.source.problems.append(Problem(
                    (*path, key), f"duplicate key {key!r} (first given on line {seen[key]})",
                    line=key_line))
                pos = self.value(pos, (*path, key, "<duplicate>"))
            else:
                seen[key] = key_line
                self.source.lines[(*path, key)] = key_line
                pos = self.value(pos, (*path, key))
            pos = self.skip(pos)
            if self.text[pos] == "}":
                return pos + 1
            pos = self.skip(pos + 1)  # past ','

    def array(self, pos: int, path: FieldPath) -> int:
        pos = self.skip(pos)
        if self.text[pos] == "]":
            return pos + 1
        index = 0
        while True:
            pos = self.skip(self.value(pos, (*path, index)))
            index += 1
            if self.text[pos] == "]":
                return pos + 1
            pos = self.skip(pos + 1)
