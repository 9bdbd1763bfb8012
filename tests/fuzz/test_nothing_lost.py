"""Nothing lost, nothing invented: results in = report entries out, in every output format.

For every fixture of the four readers and for generated inputs (guttests.testing), each
result read becomes exactly one entry of the report in every format; a result that was
not interpreted says why. The catalogue never supplies a range for a specimen, sex or age
it does not apply to. Reports are deterministic and name the guttests version and the
catalogue hash.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fuzzlib import FIXTURES, FORMATS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import guttests
from guttests import Catalogue, Interpretation, Panel, PatientContext, Specimen, interpret
from guttests._reports import FORMATS as REPORT_FORMATS
from guttests._reports import Report, build_report, render
from guttests.testing import (
    csv_texts,
    fhir_bundles,
    hl7_messages,
    json_documents,
    patient_contexts,
)

_CATALOGUE = Catalogue.default()
_WHEN = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
_FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _reports(panels: list[Panel]) -> list[tuple[int, Report]]:
    """One report per patient (build_report refuses panels of different patients)."""
    interps = guttests.interpret_panels(panels, catalogue=_CATALOGUE)
    groups: dict[str, tuple[list[Panel], list[tuple[Interpretation, ...]]]] = defaultdict(
        lambda: ([], [])
    )
    for panel, its in zip(panels, interps, strict=True):
        for interp in its:
            if interp.status == "not_interpretable":
                assert interp.reason, "a result that could not be interpreted says why"
        key = panel.patient.model_dump_json()
        groups[key][0].append(panel)
        groups[key][1].append(its)
    return [
        (
            sum(len(p.results) for p in ps),
            build_report(
                ps,
                its,
                catalogue_hash=_CATALOGUE.content_hash,
                version=guttests.__version__,
                generated_at=_WHEN,
            ),
        )
        for ps, its in groups.values()
    ]


def _entries(report: Report, fmt: str) -> int:
    """The number of result entries a rendered report holds."""
    out = render(report, fmt)  # type: ignore[arg-type]
    if fmt == "json":
        return len(json.loads(out)["results"])
    if fmt == "fhir":
        bundle = json.loads(out)
        return sum(e["resource"]["resourceType"] == "Observation" for e in bundle["entry"])
    if fmt == "hl7":
        return sum(segment.startswith("OBX|") for segment in out.split("\r"))
    if fmt == "html":
        return len(re.findall(r'<tr class="[^"]*">', out))
    if fmt == "md":
        return _table_rows(
            out.splitlines(), header=re.compile(r"^\| Analyte \| Result \| Unit \|"), step=2
        )
    return _text_rows(out.splitlines())


def _text_rows(lines: list[str]) -> int:
    """Rows of the plain-text panel tables: lines with a cell in the Flag column.

    The Flag column is the last and never wraps; other cells may wrap onto more lines; a
    practitioner range is an indented line under its row.
    """
    count = 0
    flag_at = -1
    for line in lines:
        if re.match(r"^Analyte\s+Result\s.*\sFlag$", line):
            flag_at = line.index("Flag")
        elif not line.strip():
            flag_at = -1
        elif flag_at > 0 and not line.startswith(("---", "    Practitioner range")):
            count += bool(line[flag_at:].strip()) and line[flag_at - 1] == " "
    return count


def _table_rows(lines: list[str], *, header: re.Pattern[str], step: int) -> int:
    """Rows of the panel tables: lines after a header and its rule, up to a blank line.

    A wrapped text row continues on lines that start with a blank.
    """
    count = 0
    i = 0
    while i < len(lines):
        if header.match(lines[i]):
            i += step
            while i < len(lines) and lines[i].strip():
                count += not lines[i].startswith(" ")
                i += 1
        i += 1
    return count


def _check(panels: list[Panel]) -> None:
    for results_in, report in _reports(panels):
        assert len(report.rows) == results_in
        for fmt in REPORT_FORMATS:
            assert _entries(report, fmt) == results_in, fmt


_FIXTURE_FILES = sorted(
    p for fmt in FORMATS for p in (FIXTURES / fmt).iterdir() if p.suffix != ".toml"
)


def _readable(path: Path) -> list[Panel] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return guttests.read(path)
        except guttests.GuttestsError:
            return None  # the deliberately broken fixtures (latin-1, empty ...)


@pytest.mark.parametrize("path", _FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_results_in_equal_entries_out(path: Path) -> None:
    """Every result of every fixture is one entry in every report format."""
    panels = _readable(path)
    if panels is None:
        pytest.skip("a deliberately unreadable fixture (tests/test_bad_input.py covers those)")
    _check(panels)


_GENERATED = st.one_of(
    hl7_messages().map(lambda s: (s.text, "hl7v2", s.result_count)),
    fhir_bundles().map(lambda s: (s.text, "fhir", s.result_count)),
    csv_texts().map(lambda s: (s.text, "csv", s.result_count)),
    json_documents().map(lambda s: (s.text, "json", s.result_count)),
)


@_FUZZ
@given(_GENERATED)
def test_generated_results_in_equal_entries_out(sample: tuple[str, str, int]) -> None:
    """Generated inputs of every format: results written = results read = entries out."""
    text, fmt, count = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panels = guttests.read(text, fmt)  # type: ignore[arg-type]
    assert sum(len(p.results) for p in panels) == count
    _check(panels)


def test_reports_are_deterministic_and_name_version_and_catalogue() -> None:
    """The same input gives the same report, byte for byte, naming version and catalogue."""
    panels = guttests.read(FIXTURES / "hl7v2" / "stool_comprehensive.hl7")
    for fmt in REPORT_FORMATS:
        [(_, first)] = _reports(panels)
        [(_, second)] = _reports(list(panels))
        assert render(first, fmt) == render(second, fmt)  # type: ignore[arg-type]
    for fmt in ("text", "md", "html", "json"):
        out = render(first, fmt)  # type: ignore[arg-type]
        assert guttests.__version__ in out
        assert _CATALOGUE.content_hash in out


def test_fhir_report_names_version_and_catalogue() -> None:
    """The FHIR rendering, like the others, names the guttests version and catalogue hash."""
    panels = guttests.read(FIXTURES / "hl7v2" / "stool_comprehensive.hl7")
    [(_, report)] = _reports(panels)
    out = render(report, "fhir")
    assert _CATALOGUE.content_hash in out
    assert guttests.__version__ in out


# --- the catalogue never applies a range outside its applicability ----------------------

_ANALYTES = [a for a in _CATALOGUE.analytes if a.unit and _CATALOGUE.ranges_for(a.id)]


@st.composite
def _results(draw: st.DrawFn) -> tuple[guttests.Result, PatientContext, date]:
    analyte = draw(st.sampled_from(_ANALYTES))
    specimen = draw(st.sampled_from([None, *Specimen]))
    number = draw(st.floats(0, 1e6, allow_nan=False))
    collected = draw(st.dates(date(2000, 1, 1), date(2030, 1, 1)))
    result = guttests.Result(
        name=analyte.name,
        value_text=repr(number),
        value=guttests.parse_value(repr(number)),
        unit=analyte.unit,
        specimen=specimen,
        collected=collected,
        provenance=guttests.Provenance(location="generated"),
    )
    return result, draw(patient_contexts()), collected


@_FUZZ
@given(_results())
def test_catalogue_range_applies_to_the_result(
    sample: tuple[guttests.Result, PatientContext, date],
) -> None:
    """A catalogue range is used only for the specimen, sex and age it applies to."""
    result, context, collected = sample
    interp = interpret(result, context, catalogue=_CATALOGUE)
    if interp.range_origin != "catalogue" or interp.range is None:
        return
    applies = interp.range.applies_to
    if applies.specimen is not None and result.specimen is not None:
        assert applies.specimen == result.specimen
    if applies.sex is not None:
        assert context.sex == applies.sex
    if applies.needs_age:
        days = context.age_days_at(collected)
        assert days is not None, "an age-dependent range was used without an age"
        if applies.age_low is not None:
            assert days >= applies.age_low.days
        if applies.age_high is not None:
            assert days < applies.age_high.days
