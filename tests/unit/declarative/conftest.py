"""Flow files and their python modules are written into tmp_path, one folder per test.

Modules imported for `python:` targets are forgotten after each test (and the folder
leaves sys.path), so two tests may both have a `steps.py` without seeing each other's.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """write("flow.yaml", text) -> its path in tmp_path (text is dedented)."""

    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    before = set(sys.modules)
    yield write_file
    folders = {str(tmp_path), str(tmp_path.resolve())}
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if any(file.startswith(folder) for folder in folders):
            del sys.modules[name]
    for folder in folders:
        while folder in sys.path:
            sys.path.remove(folder)
