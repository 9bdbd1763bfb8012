"""The integrator example of docs/testing.md runs, and the page shows it as it is."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "test_my_mapping.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("test_my_mapping", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULE = _example()


@pytest.mark.parametrize("name", sorted(n for n in vars(MODULE) if n.startswith("test_")))
def test_example_passes(name: str) -> None:
    """Each property of docs/examples/test_my_mapping.py holds."""
    getattr(MODULE, name)()


def test_page_includes_the_example() -> None:
    """docs/testing.md points at the example file, which CI runs through this test."""
    page = (DOCS / "testing.md").read_text(encoding="utf-8")
    assert "docs/examples/test_my_mapping.py" in page
    body = EXAMPLE.read_text(encoding="utf-8")
    start = body.index("def dashboard_row")
    assert body[start : body.index("\n\n\n", start)] in page
