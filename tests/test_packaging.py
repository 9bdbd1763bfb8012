"""Packaging: declared dependencies, vendored grammar with its licence, a light testing extra,
a hypothesis entry point that costs nothing, schemas and licence shipped (issue 15)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


# distribution name for an import name, where they differ
_DIST = {
    "yaml": "pyyaml",
    "fhir": "fhir.resources",
    "distributed": "dask",  # dask[distributed]
    "pydantic_core": "pydantic",  # pydantic's own core, pinned by pydantic
}


def test_every_imported_dependency_is_declared() -> None:
    """Every third-party module imported by src/ is a declared dependency (or an extra's)."""
    declared = {
        d.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
        for group in (
            PYPROJECT["project"]["dependencies"],
            *PYPROJECT["project"]["optional-dependencies"].values(),
        )
        for d in group
    }
    stdlib = set(sys.stdlib_module_names)
    third_party = {
        m
        for m in _imported_top_level_modules()
        if m not in stdlib and m not in ("guttests", "_guttests_hypothesis", "__future__")
    }
    missing = {m for m in third_party if _DIST.get(m, m).lower() not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    runtime = {d.split(">")[0].split("<")[0] for d in PYPROJECT["project"]["dependencies"]}
    assert "lark" in runtime


def test_ucum_grammar_is_vendored_with_its_licence() -> None:
    data = files("guttests") / "_data"
    grammar = (data / "ucum_grammar.lark").read_text("utf-8")
    assert "main_term:" in grammar
    assert "ucumvert" in grammar.splitlines()[0]
    assert "MIT License" in (data / "ucum_grammar.LICENSE").read_text("utf-8")


def test_licence_file_matches_declared_licence() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (REPO / "LICENSE").read_text("utf-8").startswith("MIT License")


def test_testing_extra_is_light() -> None:
    """guttests[testing] brings hypothesis only; the suite's tools stay in [test]."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["testing"]] == ["hypothesis"]
    assert any(d.startswith("ruff") for d in extras["test"])


def test_import_hypothesis_does_not_import_guttests() -> None:
    """The hypothesis entry point costs nothing when guttests is not used."""
    code = (
        "import sys, hypothesis\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'guttests'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_from_type_works_in_either_import_order() -> None:
    for order in ("import hypothesis, guttests", "import guttests, hypothesis"):
        code = (
            f"{order}\n"
            "from hypothesis import find, strategies as st\n"
            "from guttests import Panel, ReferenceRange\n"
            "assert isinstance(find(st.from_type(Panel), lambda p: True), Panel)\n"
            "r = find(st.from_type(ReferenceRange), lambda r: True)\n"
            "assert isinstance(r, ReferenceRange)\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_no_import_circles_between_plugin_testing_dataframe_and_dask() -> None:
    """_hypothesis_plugin never imports guttests.testing, nor testing the plugin; dataframe
    never imports _dask (nor at function level)."""

    def imports(path: Path) -> set[str]:
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        return found

    src = REPO / "src" / "guttests"
    assert not {m for m in imports(src / "_hypothesis_plugin.py") if "testing" in m}
    for path in (src / "testing").glob("*.py"):
        assert not {m for m in imports(path) if "_hypothesis_plugin" in m}, path
    assert not {m for m in imports(src / "dataframe.py") if m.endswith("_dask")}


def test_schemas_ship_in_the_package() -> None:
    from guttests import report_schema

    assert report_schema()["properties"]["schema"]["const"] == "guttests-report/1"
    assert report_schema("results")["properties"]["format"]["const"] == "guttests-results/1"
