"""Reports from the real pipeline: read the bundled fixtures, interpret, report, validate."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

from guttests._catalogue import Catalogue
from guttests._errors import ReportError
from guttests._interpret import interpret_panels
from guttests._models import Panel
from guttests._readers import read
from guttests._reports import FORMATS, Format, Report, build_report, render

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
SCHEMA = json.loads(
    (TESTS.parent / "docs" / "schemas" / "guttests-report-1.schema.json").read_text("utf-8")
)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


forbidden = _load("forbidden_phrases")

INPUTS = sorted(
    p.relative_to(FIXTURES).as_posix()
    for pattern in ("hl7v2/*.hl7", "fhir/*.json", "csv/stool_comprehensive.csv")
    for p in FIXTURES.glob(pattern)
    if p.name not in ("batch_mllp.hl7", "truncated.hl7")
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.default()


def _by_patient(panels: list[Panel]) -> Iterator[list[Panel]]:
    groups: dict[tuple[str | None, str | None], list[Panel]] = {}
    for p in panels:
        groups.setdefault((p.patient.patient_id, p.patient.name), []).append(p)
    yield from groups.values()


def _report(panels: list[Panel], catalogue: Catalogue, deidentify: bool = False) -> Report:
    return build_report(
        panels,
        interpret_panels(panels, catalogue=catalogue),
        catalogue_hash=catalogue.content_hash,
        version="0.1.0",
        deidentify=deidentify,
        catalogue=catalogue,
    )


@pytest.mark.parametrize("name", INPUTS)
def test_fixture_reports(name: str, catalogue: Catalogue) -> None:
    """Every bundled fixture gives valid, complete, neutral reports in every format."""
    from fhir.resources.R4B.bundle import Bundle

    panels = read(FIXTURES / name)
    total = sum(len(p.results) for p in panels)
    citations = forbidden.catalogue_citations(catalogue)
    for group in _by_patient(panels):
        rep = _report(group, catalogue)
        assert rep.counts.total == sum(len(p.results) for p in group)
        outs = {fmt: render(rep, fmt) for fmt in FORMATS}
        doc = json.loads(outs["json"])
        jsonschema.validate(doc, SCHEMA)
        assert len(doc["results"]) == rep.counts.total
        bundle = Bundle.model_validate_json(outs["fhir"])
        observations = [
            e for e in bundle.entry or [] if e.resource.__resource_type__ == "Observation"
        ]  # type: ignore[union-attr]
        assert len(observations) == rep.counts.total
        for fmt, out in outs.items():
            assert forbidden.find_forbidden_in_report(out, fmt, citations) == [], fmt
        assert render(rep, "html") == outs["html"]
    assert total > 0


def test_multi_patient_batch_needs_one_report_per_patient(catalogue: Catalogue) -> None:
    """A batch with several patients is refused as one report and works per patient."""
    panels = read(FIXTURES / "hl7v2" / "batch_mllp.hl7")
    groups = list(_by_patient(panels))
    if len(groups) < 2:
        pytest.skip("batch fixture holds one patient")
    with pytest.raises(ReportError, match="one patient"):
        _report(panels, catalogue)
    assert sum(_report(g, catalogue).counts.total for g in groups) == sum(
        len(p.results) for p in panels
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_deidentified_pipeline(fmt: Format, catalogue: Catalogue) -> None:
    """A de-identified report of a real fixture shows neither name nor identifier."""
    panels = read(FIXTURES / "fhir" / "stool-panel-bundle.json")
    rep = _report(panels, catalogue, deidentify=True)
    out = render(rep, fmt)
    for p in panels:
        for secret in (p.patient.patient_id, p.patient.name):
            if secret:
                assert secret not in out
