"""Imports point downward only, `import orkest` does no work, and no module has a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import orkest

PACKAGE = Path(orkest.__file__).parent

# Top-level module or package -> layer (STYLE.md "The shape of the house").
LAYERS = {
    "errors": 0, "settings": 0, "_internal": 0,
    "core": 1, "schedules": 1, "triggers": 1, "cache": 1,
    "dag": 2, "operators": 2, "templating": 2, "declarative": 2,
    "store": 3,
    "engine": 4, "runners": 4,
    "client": 5,
    "services": 6, "worker": 6, "config": 6,
    "server": 7,
    "cli": 8, "demo": 8,
}
HEAVY = ("sqlalchemy", "alembic", "pydantic", "rich", "click", "cloudpickle", "dask", "ray",
         "fastapi", "httpx", "psycopg", "jinja2")


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "orkest" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "migrations" in parts:
            continue  # Alembic scripts are loaded by Alembic, not imported
        found.append((".".join(parts), path))
    return found


def imported_modules(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted({m.split(".")[1] for m, _ in modules()
                      if m != "orkest" and layer_of(m) is None})
    assert unknown == [], f"add these to LAYERS (and STYLE.md): {unknown}"


def test_imports_point_downward_only() -> None:
    violations = []
    for module, path in modules():
        own = layer_of(module)
        if own is None:
            continue  # orkest/__init__.py wires the layers together
        for name in imported_modules(path, module):
            target = layer_of(name)
            if target is not None and target > own:
                violations.append(f"{module} (L{own}) imports {name} (L{target})")
    assert violations == []


def test_import_orkest_does_no_work() -> None:
    code = (
        "import sys, threading\n"
        "import orkest\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, f'imported at import time: {heavy}'\n"
        "assert threading.active_count() == 1, 'a thread started at import'\n"
        "assert not [m for m in sys.modules if m.startswith('orkest.store.sql')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", [m for m, _ in modules()])
def test_module_imports_alone(module: str) -> None:
    """Importing any module first, in a fresh interpreter, works: no import cycles."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-2000:]
