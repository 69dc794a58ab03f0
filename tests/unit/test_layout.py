"""The house layout, checked on the code itself: one composition root, thin commands, small
modules, each hardware library imported in exactly one file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[2] / "edge"
#: What a command may import from the package: the composition root and the edges of the app.
COMMAND_MAY_IMPORT = ("edge.app", "edge.config", "edge.errors", "edge.tools", "edge.collector")
MAX_LINES = 300


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports (``from edge import app`` counts as ``edge.app``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "edge":
                names |= {f"edge.{a.name}" for a in node.names}
    return names


def modules() -> list[Path]:
    return sorted(EDGE.rglob("*.py"))


@pytest.mark.parametrize("path", sorted((EDGE / "commands").glob("*.py")), ids=lambda p: p.name)
def test_commands_reach_the_runtime_only_through_the_app(path: Path) -> None:
    ours = {m for m in imported(path) if m.startswith("edge.")}
    wrong = {m for m in ours if not m.startswith(COMMAND_MAY_IMPORT)}
    assert not wrong, f"{path.name} imports {sorted(wrong)} directly"


def test_only_the_app_builds_a_pipeline_or_an_uplink() -> None:
    builders = {
        p.relative_to(EDGE).as_posix()
        for p in modules()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"Pipeline", "Uplink", "FrameLoop", "Feed"}
    }
    assert builders == {"app.py"}


def test_no_module_is_over_the_size_limit() -> None:
    big = {
        p.relative_to(EDGE).as_posix(): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, big


@pytest.mark.parametrize("library", ["onnxruntime", "paho", "picamera2"])
def test_each_hardware_library_is_imported_in_one_file(library: str) -> None:
    """On the device; workstation tools (``edge/tools``, e.g. quantisation) are not counted."""
    users = [
        p.relative_to(EDGE).as_posix()
        for p in modules()
        if not p.is_relative_to(EDGE / "tools")
        and (
            any(m == library or m.startswith(library + ".") for m in imported(p))
            or f'import_module("{library}")' in p.read_text()
        )
    ]
    assert len(users) == 1, users
