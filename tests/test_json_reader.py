"""guttests-results/1: reading documents and NDJSON, the published schema, and round trips."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests._errors import FormatError, ValueParseError
from guttests._models import Age, Coding, Panel, PatientContext, Provenance, Result
from guttests._range_text import parse_range_text
from guttests._readers.csv import CsvMapping
from guttests._readers.csv import iter_panels as csv_panels
from guttests._readers.jsonio import (
    FORMAT_ID,
    dump_panels,
    iter_panels,
    read_json,
    results_document_schema,
)
from guttests._types import ResultStatus, Specimen
from guttests._values import parse_value

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SCHEMA_FILE = ROOT / "docs" / "schemas" / "guttests-results-1.schema.json"


def _read(name: str) -> list[Panel]:
    with (FIXTURES / "json" / name).open(encoding="utf-8") as f:
        return list(iter_panels(f, source=name))


def _without_provenance(panels: list[Panel]) -> list[dict[str, Any]]:
    return [
        p.model_dump(exclude={"provenance": True, "results": {"__all__": {"provenance"}}})
        for p in panels
    ]


# --- the document fixture ----------------------------------------------------------------


def test_document_fixture():
    """A hand-written document reads into panels with context, values and ranges."""
    first, second = _read("stool_document.json")
    assert first.name == "GI Comprehensive Stool Profile"
    assert first.patient == PatientContext(
        patient_id="GX-20417", sex="female", birth_date=date(1979, 5, 14)
    )
    assert first.collected == datetime(2024, 3, 11, 8, 40)
    assert first.provenance == Provenance(
        source="stool_document.json", location="panel 1", format="json"
    )
    calpro = first.results[0]
    assert calpro.analyte == "calprotectin"
    assert calpro.code == Coding(
        system="http://loinc.org", code="38445-3", display="Calprotectin [Mass/mass] in Stool"
    )
    assert calpro.value == parse_value("112.4")
    assert calpro.lab_flags == ("H",)
    assert calpro.specimen is Specimen.STOOL
    assert calpro.specimen_text == "Feces"
    assert calpro.lab_range is not None
    assert calpro.lab_range.bands
    assert calpro.provenance.location == "panel 1, result 1"
    # results inherit the panel's collection date, lab and name unless they give their own
    assert calpro.collected == first.collected
    assert calpro.lab == "Northfield Digestive Lab"
    assert calpro.panel == first.name
    assert first.results[1].code == Coding(code="PE1")
    assert first.results[1].specimen is Specimen.STOOL
    assert first.results[1].specimen_text is None
    ph = first.results[-1]
    assert ph.status is ResultStatus.PRELIMINARY
    assert ph.collected == date(2024, 3, 12)
    assert second.results[1].value == parse_value("0,025", decimal_comma=True)


def test_json_number_value_keeps_its_literal_text():
    """A value written as a JSON number keeps the lab's spelling (1.2e5), not a float repr."""
    [panel, _] = _read("stool_document.json")
    r = panel.results[2]
    assert r.value_text == "1.2e5"
    assert r.value is not None
    assert r.value.kind == "quantity"


def test_structured_lab_range_wins_over_text():
    """A lab_range object is used as given; reference_range stays as its text."""
    [panel, _] = _read("stool_document.json")
    butyrate = panel.results[6]
    assert butyrate.lab_range is not None
    assert butyrate.lab_range.id == "lab:butyrate"
    assert butyrate.lab_range_text == "10-29"


# --- NDJSON ------------------------------------------------------------------------------


def test_ndjson_fixture_groups_consecutive_lines():
    """NDJSON lines group into panels by patient, panel, date and lab; blank lines are skipped."""
    panels = _read("food_igg.ndjson")
    assert [(p.patient.patient_id, len(p.results)) for p in panels] == [
        ("FI-311", 3),
        ("FI-402", 2),
    ]
    assert panels[0].patient.age == Age(value=52)
    assert panels[0].name == "Food IgG Panel"
    assert [r.provenance.location for r in panels[0].results] == ["line 2", "line 3", "line 5"]
    assert panels[0].provenance is not None
    assert panels[0].provenance.location == "lines 2-5"
    kinds = [r.value.kind if r.value else None for r in panels[0].results + panels[1].results]
    assert kinds == ["quantity", "qualitative", "qualitative", "censored", "ordinal"]


def test_ndjson_bad_lines_become_results():
    """A line that is not JSON, or not an object, still becomes one result with value_error."""
    text = '{"name": "pH", "value": "6.5"}\n{broken\n[1, 2]\n{"name": "SCFA", "value": "60"}\n'
    results = [r for p in read_json(text) for r in p.results]
    assert len(results) == 4
    assert results[1].value_error is not None
    assert results[1].value_error.startswith("line is not JSON")
    assert results[1].value_text == ""  # not shown: a broken line may hold patient data
    assert "7 characters, not shown" in results[1].value_error
    assert results[2].value_error == "result is not a JSON object"
    assert results[2].value_text == "[1, 2]"
    assert results[3].value is not None


def test_ndjson_header_with_other_format_is_rejected():
    """A header line naming another format is a FormatError."""
    with pytest.raises(FormatError, match="unsupported format"):
        read_json('{"format": "guttests-results/9"}\n{"name": "pH", "value": "6"}\n')


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "error"),
    [
        (0, "invalid result object: unti: Extra inputs are not permitted"),
        (1, "invalid result object: status"),
        (2, "result is not a JSON object"),
        (3, "not a lab value"),
        (4, "is not an ISO 8601 date"),
    ],
)
def test_invalid_result_objects(index: int, error: str):
    """A result object that does not fit the schema is a result with value_error, not dropped."""
    [panel] = _read("invalid_results.json")
    assert len(panel.results) == 5
    r = panel.results[index]
    assert r.value is None
    assert error in (r.value_error or "")


def test_invalid_result_keeps_its_text():
    """A non-object entry keeps its JSON text; an invalid object keeps its name and value text."""
    [panel] = _read("invalid_results.json")
    assert panel.results[2].value_text == '"Secretory IgA 1840"'
    assert panel.results[0].name == "Calprotectin, Feces"
    assert panel.results[0].value_text == "112.4"


@pytest.mark.parametrize(
    ("text", "message", "location"),
    [
        (
            '{"format": "guttests-results/1",\n "panels": [\n  {"results": [}\n]}',
            "not valid JSON",
            "line 3, column 16",
        ),
        ('{\n"format": "other/2", "panels": []}', "not a guttests-results/1 document", None),
        ('{\n"panels": []}', "format is None", None),
        ('{"format": "guttests-results/1",\n "panels": {}}', '"panels" must be a list', None),
        ('{"format": "guttests-results/1",\n "panels": [1]}', "a panel must be", "panel 1"),
        (
            '{"format": "guttests-results/1", "panels": [],\n "extra": 1}',
            "unknown document keys",
            None,
        ),
        (
            '{"format": "guttests-results/1",\n "panels": [{"patient": {"sex": "F"}}]}',
            "invalid panel: patient.sex",
            "panel 1",
        ),
        (
            '{"format": "guttests-results/1",\n "panels": [{"collected": "last week"}]}',
            "invalid panel",
            "panel 1",
        ),
        (
            '{"format": "guttests-results/1",\n "panels": [{"results": {}}]}',
            '"results" must be a list',
            "panel 1",
        ),
        ('{"format": "guttests-results/1", "panels": []}\n{"name": "x"}\n', "content after", None),
    ],
)
def test_invalid_documents(text: str, message: str, location: str | None):
    """Whole-document problems raise FormatError naming the place."""
    with pytest.raises(FormatError, match=message) as info:
        read_json(text, source="doc.json")
    assert info.value.source == "doc.json"
    assert info.value.location == location


def test_empty_input_is_no_panels():
    """An empty JSON stream (forced format) holds no results."""
    assert read_json("") == []
    assert read_json("\n  \n") == []


# --- schema ------------------------------------------------------------------------------


def test_published_schema_file_matches_function():
    """docs/schemas/guttests-results-1.schema.json is exactly results_document_schema()."""
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == results_document_schema()


def test_schema_is_valid_and_accepts_fixture_and_writer_output():
    """The schema is a valid 2020-12 schema; the fixture and dump_panels output validate."""
    schema = results_document_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    fixture = json.loads((FIXTURES / "json" / "stool_document.json").read_text(encoding="utf-8"))
    jsonschema.validate(fixture, schema)
    jsonschema.validate(json.loads(dump_panels(_read("stool_document.json"))), schema)


def test_schema_rejects_unknown_result_keys():
    """The schema forbids keys it does not define, as the reader does."""
    doc = {"format": FORMAT_ID, "panels": [{"results": [{"name": "x", "unti": "g"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, results_document_schema())


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stool_document.json", "food_igg.ndjson", "invalid_results.json"])
def test_fixture_round_trip(name: str):
    """read → dump_panels → read gives the same panels, provenance apart."""
    panels = _read(name)
    again = read_json(dump_panels(panels))
    assert _without_provenance(again) == _without_provenance(panels)


def test_csv_to_json_round_trip_keeps_decimal_comma_values():
    """A decimal-comma CSV export survives CSV → JSON → read with the same values."""
    mapping = CsvMapping(decimal_comma=True, date_formats=("%d.%m.%Y",))
    with (FIXTURES / "csv" / "permeability_eu.csv").open(encoding="utf-8-sig", newline="") as f:
        panels = list(csv_panels(f, mapping=mapping))
    again = read_json(dump_panels(panels))
    assert _without_provenance(again) == _without_provenance(panels)
    assert '"decimal_comma": true' in dump_panels(panels)


_TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=15)
_VALUE_TEXTS = st.sampled_from(
    ["45.2", "<10", "<=50", ">2000", "1.2e5", "3.4 x 10^6", "<dl", "Not Detected", "Detected",
     "1+", "+3", "VL", "Class 3", "Neg-Rare", "0,5", "1,2e5", "high-ish", "", "Positive"]
)  # fmt: skip
_RANGES = st.sampled_from([None, "20-48", "<=50", ">200", "Not Detected", "0-99 years >200"])
_WHEN = st.one_of(
    st.none(),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 1, 1)),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)),
)
_SPECIMENS = st.sampled_from(
    [(None, None), (Specimen.STOOL, "Feces"), (Specimen.SERUM, None), (None, "swab")]
)
# Strategies are built once here: building them inside the composite costs seconds.
_OPT_TEXT = st.one_of(st.none(), _TEXTS)
_CODES = st.one_of(
    st.none(),
    st.builds(
        Coding,
        code=_TEXTS,
        system=st.sampled_from([None, "http://loinc.org"]),
        display=_OPT_TEXT,
    ),
)
_ANALYTES = st.sampled_from([None, "calprotectin", "zonulin"])
_UNITS = st.sampled_from([None, "ug/g", "µg/g", "ng/mL", "%", "CFU/g"])
_FLAGS = st.lists(st.sampled_from(["H", "L", "A", "N"]), max_size=2).map(tuple)
_LABS = st.sampled_from([None, "Northfield Digestive Lab"])
_METHODS = st.sampled_from([None, "ELISA"])
_STATUSES = st.sampled_from(list(ResultStatus))
_AGES = st.one_of(
    st.none(),
    st.builds(Age, value=st.integers(0, 110), unit=st.sampled_from(["d", "wk", "mo", "a"])),
)
_BIRTH = st.one_of(st.none(), st.dates(min_value=date(1920, 1, 1)))
_SEXES = st.sampled_from([None, "female", "male"])


@st.composite
def _results(draw: st.DrawFn, panel: str | None) -> Result:
    text = draw(_VALUE_TEXTS)
    comma = draw(st.booleans())
    try:
        value, error = parse_value(text, decimal_comma=comma), None
    except ValueParseError as exc:
        value, error = None, str(exc)
    if value is None and draw(st.booleans()):
        text, error = "a,b,c", "row has 3 fields, header has 4"
    unit = draw(_UNITS)
    range_text = draw(_RANGES)
    lab_range = None
    if range_text is not None and draw(st.booleans()):
        try:
            lab_range = parse_range_text(range_text, unit=unit)
        except ValueError:
            lab_range = None
    specimen, specimen_text = draw(_SPECIMENS)
    return Result(
        name=draw(_OPT_TEXT),
        code=draw(_CODES),
        analyte=draw(_ANALYTES),
        value_text=text,
        value=value,
        value_error=error,
        unit=unit,
        lab_range=lab_range,
        lab_range_text=range_text,
        lab_flags=draw(_FLAGS),
        specimen=specimen,
        specimen_text=specimen_text,
        collected=draw(_WHEN),
        lab=draw(_LABS),
        method=draw(_METHODS),
        status=draw(_STATUSES),
        provenance=Provenance(location="generated"),
        panel=draw(st.sampled_from([panel, None, "Other panel"])),
    )


@st.composite
def _panels(draw: st.DrawFn) -> Panel:
    name = draw(_OPT_TEXT)
    patient = PatientContext(
        patient_id=draw(_OPT_TEXT),
        name=draw(_OPT_TEXT),
        sex=draw(_SEXES),
        birth_date=draw(_BIRTH),
        age=draw(_AGES),
    )
    results = draw(st.lists(_results(name), max_size=6))
    return Panel(
        name=name,
        patient=patient,
        collected=draw(_WHEN),
        lab=draw(_LABS),
        results=tuple(results),
    )


@given(panels=st.lists(_panels(), max_size=4), indent=st.sampled_from([None, 2]))
def test_round_trip_property(panels: list[Panel], indent: int | None):
    """Any panels → dump_panels → read give the same panels and results, provenance apart."""
    text = dump_panels(panels, indent=indent)
    again = list(iter_panels(io.StringIO(text)))
    assert _without_provenance(again) == _without_provenance(panels)
