"""The Report model is the source of truth: the published schemas are generated from the
models, ship in the package, and the JSON report reads back into the model it came from."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from guttests import Report, build_report, interpret_panels, read, render, report_schema
from guttests._reports import SCHEMA_FILES, schema_documents
from test_reports import example, stool_panel

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES.values()))
def test_committed_schemas_equal_the_generated_ones(name: str) -> None:
    """docs/schemas and the packaged copy are exactly what the models generate
    (regenerate with ``python scripts/write_schemas.py``)."""
    generated = schema_documents()[name]
    for folder in (REPO / "docs" / "schemas", files("guttests") / "_data" / "schemas"):
        committed = json.loads((folder / name).read_text(encoding="utf-8"))
        assert committed == generated, f"{folder}/{name} differs: run scripts/write_schemas.py"


def test_schemas_are_valid_2020_12() -> None:
    for kind in ("report", "results"):
        jsonschema.Draft202012Validator.check_schema(report_schema(kind))  # type: ignore[arg-type]


def _reports() -> list[Report]:
    p, ints = stool_panel()
    reports = [example(), build_report([p], [ints]), build_report([p], [ints], deidentify=True)]
    for path in (FIXTURES / "fhir" / "stool-panel-bundle.json", FIXTURES / "hl7v2"):
        if path.is_dir():
            path = sorted(path.glob("*.hl7"))[0]
        panels = read(path)[:1]
        reports.append(build_report(panels, interpret_panels(panels)))
    return reports


def test_json_report_round_trips_and_validates() -> None:
    """Report.model_validate_json(render(r, "json")) == r, and the document validates
    against the shipped schema; so does model_dump_json of each row as a batch line."""
    schema = report_schema()
    for rep in _reports():
        text = render(rep, "json")
        jsonschema.validate(json.loads(text), schema)
        assert Report.model_validate_json(text) == rep
        assert render(Report.model_validate_json(text), "json") == text


def test_report_and_rows_are_immutable() -> None:
    rep = example()
    with pytest.raises(ValidationError):
        rep.title = "changed"  # type: ignore[misc]
    row = rep.rows[0]
    with pytest.raises(ValidationError):
        row.value = "1"  # type: ignore[misc]
    assert isinstance(rep.panels, tuple)
    assert isinstance(row.notes, tuple)
    assert isinstance(row.codes, tuple)
    assert isinstance(row.identifiers, tuple)


def test_build_report_fills_version_and_catalogue_hash() -> None:
    from guttests import Catalogue, __version__

    p, ints = stool_panel()
    rep = build_report([p], [ints])
    assert rep.guttests_version == __version__
    assert rep.catalogue_hash == Catalogue.default().content_hash
    assert build_report([p], [ints], catalogue=None).catalogue_hash == ""
