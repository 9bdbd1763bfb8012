"""Reports built from generated panels: complete, valid, neutral and deterministic.

* nothing lost: the JSON report holds one entry per result, the FHIR report one Observation;
* the FHIR output validates against the ``fhir.resources`` R4B models;
* the JSON output validates against the published JSON Schema;
* no report, in any format, contains a forbidden phrasing (tests/forbidden_phrases.py);
* rendering is deterministic: the same report renders to the same text twice.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests import __version__
from guttests._catalogue import Catalogue
from guttests._interpret import interpret_panels
from guttests._models import Panel
from guttests._readers import read
from guttests._reports import FORMATS, Report, build_report, render
from guttests.testing import catalogues, panels, to_csv, to_fhir, to_hl7v2, to_json

TESTS = Path(__file__).resolve().parents[1]
SCHEMA = TESTS.parent / "docs" / "schemas" / "guttests-report-1.schema.json"
GENERATED_AT = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
WRITERS = {"hl7v2": to_hl7v2, "fhir": to_fhir, "csv": to_csv, "json": to_json}


@cache
def _forbidden() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "forbidden_phrases", TESTS / "forbidden_phrases.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


_SHIPPED: list[Catalogue | Exception] = []


def _shipped() -> Catalogue:
    """The shipped catalogue, loaded once (a loading error is raised again, not retried)."""
    if not _SHIPPED:
        try:
            _SHIPPED.append(Catalogue.default())
        except Exception as exc:  # re-raised on every call below
            _SHIPPED.append(exc)
    found = _SHIPPED[0]
    if isinstance(found, Exception):
        raise found
    return found


@st.composite
def reports(draw: st.DrawFn) -> tuple[list[Panel], Report]:
    """Panels of one patient, naming analytes of the shipped or a generated catalogue, or none,
    reported as generated or after a trip through one of the input formats."""
    cat = draw(st.sampled_from(["shipped", "generated"]))
    catalogue = _shipped() if cat == "shipped" else draw(catalogues(categories=None))
    named = draw(st.booleans())
    strategy = panels(max_results=4, analytes=catalogue.analytes if named else None)
    first, *rest = draw(st.lists(strategy, min_size=1, max_size=2))
    # one report covers one patient
    ps = [first, *(p.model_copy(update={"patient": first.patient}) for p in rest)]
    via = draw(st.sampled_from([None, *WRITERS]))
    if via is not None:  # the whole pipeline: written, read back, interpreted, reported
        total = _total(ps)
        ps = read(WRITERS[via](ps), format=via)
        assert _total(ps) == total
    interps = interpret_panels(ps, catalogue=catalogue)
    report = build_report(
        ps,
        interps,
        catalogue_hash=catalogue.content_hash,
        version=__version__,
        generated_at=GENERATED_AT,
        deidentify=draw(st.booleans()),
        catalogue=catalogue,
    )
    return ps, report


def _total(ps: list[Panel]) -> int:
    return sum(len(p.results) for p in ps)


@settings(max_examples=20)
@given(reports())
def test_one_entry_per_result(sample: tuple[list[Panel], Report]) -> None:
    """The JSON report lists every result; the FHIR report has an Observation for each."""
    ps, report = sample
    doc = json.loads(render(report, "json"))
    assert len(doc["results"]) == _total(ps)
    bundle = json.loads(render(report, "fhir"))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Observation") == _total(ps)


@settings(max_examples=15)
@given(reports())
def test_fhir_output_valid(sample: tuple[list[Panel], Report]) -> None:
    """The FHIR report validates against the R4B Bundle model."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(render(sample[1], "fhir"))
    assert bundle.type == "collection"


@settings(max_examples=20)
@given(reports())
def test_json_output_valid(sample: tuple[list[Panel], Report]) -> None:
    """The JSON report validates against the published JSON Schema."""
    doc: Any = json.loads(render(sample[1], "json"))
    errors = sorted(_validator().iter_errors(doc), key=str)
    assert not errors, errors[0].message


@settings(max_examples=20)
@given(reports())
def test_neutral_and_deterministic(sample: tuple[list[Panel], Report]) -> None:
    """No forbidden phrasing in any format, and the same report renders identically twice."""
    _, report = sample
    for fmt in FORMATS:
        first = render(report, fmt)
        # Quoted citation titles of the shipped catalogue are the sources' words.
        citations = _forbidden().catalogue_citations(_shipped())
        assert _forbidden().find_forbidden_in_report(first, fmt, citations) == [], fmt
        assert render(report, fmt) == first, fmt
