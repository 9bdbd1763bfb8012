"""Reports: the model built once, the five renderers, neutral wording, escaping, determinism."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guttests._errors import ReportError
from guttests._models import (
    Age,
    Analyte,
    Applicability,
    Band,
    Caveat,
    Citation,
    Coding,
    Interpretation,
    OptimalAssessment,
    Panel,
    PatientContext,
    Position,
    Provenance,
    ReferenceRange,
    Result,
)
from guttests._reports import FORMATS, build_report, render, result_record
from guttests._reports._model import Report
from guttests._types import InterpretationCode as IC
from guttests._types import RangeCategory, ResultStatus, Specimen, ValueKind
from guttests._values import parse_value

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SCHEMA = ROOT / "docs" / "schemas" / "guttests-report-1.schema.json"
FIXTURES = TESTS / "fixtures" / "reports"
HASH = "9f2c" * 16


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


forbidden = _load("forbidden_phrases")

# --- hand-built catalogue pieces -----------------------------------------------------------

MAYO = Citation(text="Mayo Clinic Laboratories, Calprotectin, Feces (CALPR)")
CALPRO_RANGE = ReferenceRange(
    id="calprotectin.mayo",
    analyte="calprotectin",
    unit="ug/g",
    source=MAYO,
    applies_to=Applicability(specimen=Specimen.STOOL, age_low=Age(value=4)),
    bands=(
        Band(label="normal", flag=IC.NORMAL, high=50.0),
        Band(label="borderline", flag=IC.HIGH, low=50.1, high=120.0),
        Band(label="abnormal", flag=IC.HIGH, low=120.1),
    ),
)
CALPRO_CAVEAT = Caveat(
    id="calprotectin-not-diagnostic",
    text="A raised faecal calprotectin does not by itself establish a diagnosis, and a value "
    "within the range does not exclude disease. NSAIDs, aspirin and PPIs can raise it.",
    citations=(
        Citation(
            text="ESPGHAN 2021, J Pediatr Gastroenterol Nutr 72:617",
            doi="10.1097/MPG.0000000000003046",
        ),
    ),
)
ELASTASE_RANGE = ReferenceRange(
    id="elastase.mayo",
    analyte="elastase",
    unit="ug/g",
    source=Citation(text="Mayo Clinic Laboratories, Pancreatic Elastase, Feces (ELASF)"),
    bands=(
        Band(label="low", flag=IC.LOW, high=100.0, high_inclusive=False),
        Band(label="moderately low", flag=IC.LOW, low=100.0, high=200.0),
        Band(label="normal", flag=IC.NORMAL, low=200.0, low_inclusive=False),
    ),
)
SIGA_RANGE = ReferenceRange(
    id="lab.siga",
    unit="ug/g",
    source=Citation(text="Example Lab report range"),
    text="510-2010",
    bands=(
        Band(label="low", flag=IC.LOW, high=510.0, high_inclusive=False),
        Band(label="normal", flag=IC.NORMAL, low=510.0, high=2010.0),
        Band(label="high", flag=IC.HIGH, low=2010.0, low_inclusive=False),
    ),
)
ZONULIN_RANGE = ReferenceRange(
    id="lab.zonulin",
    unit="ng/mL",
    source=Citation(text="Example Lab report range"),
    text="<48",
    bands=(
        Band(label="normal", flag=IC.NORMAL, high=48.0, high_inclusive=False),
        Band(label="high", flag=IC.HIGH, low=48.0),
    ),
)
QPCR_RANGE = ReferenceRange(
    id="lab.akkermansia",
    unit="copies/g",
    source=Citation(text="Example Lab report range"),
    text="1.0e5-5.0e8",
    bands=(
        Band(label="low", flag=IC.LOW, high=1e5, high_inclusive=False),
        Band(label="normal", flag=IC.NORMAL, low=1e5, high=5e8),
        Band(label="high", flag=IC.HIGH, low=5e8, low_inclusive=False),
    ),
)
PARASITE_RANGE = ReferenceRange(
    id="lab.parasites",
    kind=ValueKind.QUALITATIVE,
    source=Citation(text="Example Lab report range"),
    bands=(
        Band(label="not detected", flag=IC.NOT_DETECTED, terms=("not_detected",)),
        Band(label="detected", flag=IC.DETECTED, terms=("detected",)),
    ),
)
FIT_RANGE = ReferenceRange(
    id="lab.fit",
    kind=ValueKind.QUALITATIVE,
    source=Citation(text="Example Lab report range"),
    bands=(
        Band(label="negative", flag=IC.NEGATIVE, terms=("negative",)),
        Band(label="positive", flag=IC.POSITIVE, terms=("positive",)),
    ),
)
IGG_RANGE = ReferenceRange(
    id="lab.igg",
    kind=ValueKind.ORDINAL,
    source=Citation(text="Example Lab report range"),
    bands=(
        Band(label="class 0-1", flag=IC.NORMAL, low=0, high=1),
        Band(label="class 2-3", flag=IC.HIGH, low=2, high=3),
        Band(label="class 4-6", flag=IC.HIGH, low=4, high=6),
    ),
)
OPTIMAL_CALPRO = ReferenceRange(
    id="practice.calprotectin",
    analyte="calprotectin",
    unit="ug/g",
    category=RangeCategory.OPTIMAL,
    source=Citation(text="Practice configuration 2024"),
    bands=(
        Band(label="in practitioner range", flag=IC.NORMAL, low=0.0, high=25.0),
        Band(label="above practitioner range", flag=IC.HIGH, low=25.0, low_inclusive=False),
    ),
)


class FakeCatalogue:
    """The part of a catalogue the report reads (analyte display names and CVs)."""

    def __init__(self) -> None:
        self._analytes = {
            "calprotectin": Analyte(
                id="calprotectin",
                name="Calprotectin",
                family="stool",
                specimen="stool",
                kind="quantitative",
                unit="ug/g",
                cv_analytical=5.0,
                cv_within_subject=30.0,
                variation_source=Citation(text="Example variation study 2020", pmid="123456"),
            ),
            "zonulin": Analyte(
                id="zonulin",
                name="Zonulin family peptides",
                family="permeability",
                specimen="serum",
                kind="quantitative",
                unit="ng/mL",
            ),
        }

    def analyte(self, analyte_id: str, /) -> Analyte | None:
        return self._analytes.get(analyte_id)


def _res(
    name: str,
    text: str,
    unit: str | None = None,
    *,
    loc: str,
    analyte: str | None = None,
    collected: date | datetime | None = None,
    code: str | None = None,
    flags: tuple[str, ...] = (),
    status: ResultStatus = ResultStatus.FINAL,
    source: str = "stool-2024.hl7",
) -> Result:
    try:
        value = parse_value(text)
        error = None
    except ValueError as exc:
        value, error = None, str(exc)
    return Result(
        name=name,
        value_text=text,
        value=value,
        value_error=error,
        unit=unit,
        analyte=analyte,
        collected=collected,
        code=Coding(system="http://loinc.org", code=code) if code else None,
        lab_flags=flags,
        status=status,
        provenance=Provenance(source=source, location=loc, format="hl7v2"),
    )


def _i(result: Result, **kw: object) -> Interpretation:
    status = "not_interpretable" if "reason" in kw and "flag" not in kw else "interpreted"
    return Interpretation.model_validate({"result": result, "status": status, **kw})


def stool_panel(
    collected: date | datetime = datetime(2024, 3, 1, 9, 30),
    calpro: str = "240",
    source: str = "stool-2024.hl7",
) -> tuple[Panel, list[Interpretation]]:
    """A panel with one result of every kind the report must handle."""
    rs = [
        _res(
            "Fecal calprotectin",
            calpro,
            "ug/g",
            source=source,
            loc="OBX 1",
            analyte="calprotectin",
            code="38445-3",
            flags=("H",),
        ),
        _res(
            "Pancreatic elastase-1",
            ">500",
            "ug/g",
            source=source,
            loc="OBX 2",
            analyte="elastase",
            code="25907-7",
        ),
        _res("Secretory IgA", "420", "ug/g", source=source, loc="OBX 3"),
        _res("Akkermansia muciniphila", "3.4 x 10^6", "copies/g", source=source, loc="OBX 4"),
        _res("Giardia (PCR)", "Not detected", source=source, loc="OBX 5"),
        _res("Occult blood (FIT)", "Positive", source=source, loc="OBX 6"),
        _res(
            "Calprotectin, repeat",
            "<100",
            "ug/g",
            source=source,
            loc="OBX 7",
            analyte="calprotectin",
        ),
        _res(
            "Clostridioides difficile toxin B gene", "<dl", "copies/g", source=source, loc="OBX 8"
        ),
        _res("Beta-glucuronidase", "see comment", "U/mL", source=source, loc="OBX 9"),
        _res("Lab-only marker", "12", "U/L", source=source, loc="OBX 10"),
    ]
    calpro_value = float(calpro)
    ints = [
        _i(
            rs[0],
            flag=IC.HIGH if calpro_value > 50 else IC.NORMAL,
            band="abnormal"
            if calpro_value > 120
            else ("borderline" if calpro_value > 50 else "normal"),
            range=CALPRO_RANGE,
            range_origin="catalogue",
            value_in_range_unit=calpro_value,
            position=Position(times_upper_limit=calpro_value / 50.0),
            caveats=(CALPRO_CAVEAT,),
            optimal=OptimalAssessment(
                range=OPTIMAL_CALPRO,
                flag=IC.HIGH,
                band="above practitioner range",
                distance_from_mid=(calpro_value - 12.5) * 100 / 25,
            ),
        ),
        _i(
            rs[1],
            flag=IC.NORMAL,
            band="normal",
            range=ELASTASE_RANGE,
            range_origin="catalogue",
            value_in_range_unit=500.0,
            position=Position(times_lower_limit=2.5),
        ),
        _i(
            rs[2],
            flag=IC.LOW,
            band="low",
            range=SIGA_RANGE,
            range_origin="lab",
            value_in_range_unit=420.0,
            position=Position(fraction=-0.06, times_upper_limit=0.209, times_lower_limit=0.8235),
        ),
        _i(
            rs[3],
            flag=IC.NORMAL,
            band="normal",
            range=QPCR_RANGE,
            range_origin="lab",
            value_in_range_unit=3.4e6,
            position=Position(fraction=0.0066, times_upper_limit=0.0068, times_lower_limit=34.0),
        ),
        _i(
            rs[4],
            flag=IC.NOT_DETECTED,
            band="not detected",
            range=PARASITE_RANGE,
            range_origin="lab",
        ),
        _i(rs[5], flag=IC.POSITIVE, band="positive", range=FIT_RANGE, range_origin="lab"),
        _i(
            rs[6],
            flag=IC.INDETERMINATE,
            range=CALPRO_RANGE,
            range_origin="catalogue",
            value_in_range_unit=100.0,
            caveats=(CALPRO_CAVEAT,),
            notes=("The value is reported as a limit that spans two bands.",),
        ),
        _i(
            rs[7],
            flag=IC.NORMAL,
            band="normal",
            range=QPCR_RANGE.model_copy(
                update={
                    "id": "lab.cdiff",
                    "bands": (
                        Band(label="normal", flag=IC.NORMAL, high=1e3),
                        Band(label="high", flag=IC.HIGH, low=1e3, low_inclusive=False),
                    ),
                }
            ),
            range_origin="lab",
        ),
        _i(rs[8], reason="value text is not a lab value: 'see comment'"),
        _i(rs[9], reason="no range: the analyte is not in the catalogue and the lab gave none"),
    ]
    panel = Panel(
        name="GI Stool Panel",
        patient=PatientContext(
            patient_id="MRN-0042", name="Doe, Jane", sex="female", birth_date=date(1984, 5, 17)
        ),
        collected=collected,
        lab="Example Lab",
        results=tuple(rs),
    )
    return panel, ints


def food_panel() -> tuple[Panel, list[Interpretation]]:
    rs = [
        _res("Wheat IgG", "Class 3", loc="row 2"),
        _res("Zonulin", "38", "ng/mL", loc="row 3", analyte="zonulin", collected=date(2023, 11, 2)),
        _res("Zonulin", "55", "ng/mL", loc="row 4", analyte="zonulin", collected=date(2024, 2, 20)),
    ]
    ints = [
        _i(
            rs[0],
            flag=IC.HIGH,
            band="class 2-3",
            range=IGG_RANGE,
            range_origin="lab",
            value_in_range_unit=3.0,
        ),
        _i(
            rs[1],
            flag=IC.NORMAL,
            band="normal",
            range=ZONULIN_RANGE,
            range_origin="lab",
            value_in_range_unit=38.0,
            position=Position(times_upper_limit=38 / 48),
        ),
        _i(
            rs[2],
            flag=IC.HIGH,
            band="high",
            range=ZONULIN_RANGE,
            range_origin="lab",
            value_in_range_unit=55.0,
            position=Position(times_upper_limit=55 / 48),
        ),
    ]
    return Panel(
        name="Food IgG and permeability",
        patient=PatientContext(patient_id="MRN-0042"),
        lab="Other Lab",
        results=tuple(rs),
    ), ints


def example(deidentify: bool = False, generated_at: datetime | None = None) -> Report:
    p1, i1 = stool_panel(date(2023, 9, 14), calpro="120", source="stool-2023.hl7")
    p2, i2 = stool_panel()
    p3, i3 = food_panel()
    return build_report(
        [p1, p2, p3],
        [i1, i2, i3],
        catalogue_hash=HASH,
        version="0.1.0",
        deidentify=deidentify,
        generated_at=generated_at,
        catalogue=FakeCatalogue(),
    )


@pytest.fixture(scope="module")
def report() -> Report:
    return example()


@pytest.fixture(scope="module")
def outputs(report: Report) -> dict[str, str]:
    return {fmt: render(report, fmt) for fmt in FORMATS}


# --- the model -----------------------------------------------------------------------------


def test_counts_cover_every_result(report: Report) -> None:
    """Every input result is a row; counts add up to the total."""
    assert report.counts.total == 23 == len(report.rows)
    for p in report.panels:
        c = p.counts
        assert (
            c.total == len(p.rows) == c.within + c.outside + c.indeterminate + c.not_interpretable
        )
    stool = report.panels[1].counts
    assert (stool.outside, stool.indeterminate, stool.not_interpretable) == (3, 1, 2)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, "above upper limit (4.8 × upper limit); in band 'abnormal'"),
        (2, "below lower limit (0.82 × lower limit); in band 'low'"),
        (3, "within range, 1 % of the way from lower to upper limit; in band 'normal'"),
        (4, "in band 'not detected'"),
        (6, None),
    ],
)
def test_position_text(report: Report, index: int, expected: str | None) -> None:
    """Position wording is read from the interpretation's flag, position and band."""
    row = report.panels[1].rows[index]
    assert (row.position.text if row.position else None) == expected


def test_censored_position_keeps_comparator() -> None:
    """A censored value's multiple of the limit carries the comparator."""
    r = _res("Calprotectin", ">1800", "ug/g", loc="OBX 1")
    i = _i(
        r,
        flag=IC.HIGH,
        band="abnormal",
        range=CALPRO_RANGE,
        range_origin="catalogue",
        value_in_range_unit=1800.0,
        position=Position(times_upper_limit=36.0),
    )
    assert result_record(i)["position"]["text"].startswith("above upper limit (>36 ×")


def test_range_sources_and_caveats_deduplicated(report: Report) -> None:
    """Each range source and caveat appears once, caveats naming their analytes."""
    assert len(report.caveats) == 1
    assert report.caveats[0].analytes == (
        "Fecal calprotectin (Calprotectin)",
        "Calprotectin, repeat (Calprotectin)",
    )
    assert [s.ref for s in report.sources] == list(range(1, len(report.sources) + 1))
    keys = {(s.source, s.origin, s.applies_to) for s in report.sources}
    assert len(keys) == len(report.sources)


def test_serial_with_rcv(report: Report) -> None:
    """Calprotectin 120 -> 240 (+100 %) exceeds the RCV from CVa 5 %, CVi 30 %."""
    series = {s.analyte: s for s in report.serial}
    calpro = series["calprotectin"]
    assert [p.value_text for p in calpro.points] == ["120", "<100", "240", "<100"]
    assert calpro.rcv_percent == pytest.approx(math.sqrt(2) * 1.96 * math.sqrt(5**2 + 30**2))
    assert len(calpro.changes) == 2  # results of the first collection have no change
    change, censored = calpro.changes
    assert censored.absolute is None
    assert censored.exceeds_rcv is None
    assert (change.absolute, change.percent, change.exceeds_rcv) == (120.0, 100.0, True)
    assert change.rcv_statement is not None
    assert "84.3 %" in change.rcv_statement
    assert "PMID 123456" in change.rcv_statement


def test_serial_without_cv_makes_no_claim(report: Report) -> None:
    """Without CVa and CVi the change is stated and no significance is claimed."""
    zon = {s.analyte: s for s in report.serial}["zonulin"]
    assert zon.rcv_percent is None
    assert all(c.exceeds_rcv is None and c.rcv_statement is None for c in zon.changes)
    assert zon.changes[0].text == "+17 ng/mL (+45 %) since 2023-11-02"
    assert zon.note is not None
    assert "without a significance assessment" in zon.note


def test_serial_censored_change_not_calculated() -> None:
    """A censored value in a series gives no computed change."""
    p1, i1 = stool_panel(date(2023, 1, 1), calpro="60")
    p2, i2 = stool_panel(date(2023, 6, 1), calpro="80")
    rep = build_report([p1, p2], [i1, i2], catalogue_hash=HASH, version="0")
    calpro = rep.serial[0]
    # 60 and '<100' on one date, then 80 and '<100': the exact 60 is the comparison point
    assert [(c.absolute, c.text) for c in calpro.changes] == [
        (20.0, "+20 ug/g (+33 %) since 2023-01-01"),
        (None, "not calculated (censored value) since 2023-01-01"),
    ]
    assert all(c.rcv_statement is None for c in calpro.changes)  # no catalogue: no CVs


def test_deidentify_drops_name_id_birth_date_and_files() -> None:
    """De-identified reports keep sex and age, never name, identifier, birth date or file."""
    rep = example(deidentify=True)
    assert (rep.patient.id, rep.patient.name, rep.patient.birth_date) == (None, None, None)
    assert rep.patient.age == "39 years at collection"
    assert rep.inputs == ()
    for fmt in FORMATS:
        out = render(rep, fmt)
        for secret in ("MRN-0042", "Doe", "1984-05-17", "stool-2024.hl7"):
            assert secret not in out, (fmt, secret)
    assert '"resourceType": "Patient"' not in render(rep, "fhir")


def test_two_patients_rejected() -> None:
    """One report covers one patient."""
    p1, i1 = stool_panel()
    p2 = p1.model_copy(update={"patient": PatientContext(patient_id="MRN-9")})
    with pytest.raises(ReportError, match="one report covers one patient"):
        build_report([p1, p2], [i1, i1], catalogue_hash=HASH, version="0")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p, i: ([p], [i[:-1]]),
        lambda p, i: ([p], [list(reversed(i))]),
        lambda p, i: ([p, p], [i]),
    ],
)
def test_mismatched_interpretations_rejected(mutate: object) -> None:
    """Interpretations must match the panels' results one to one, in order."""
    p, i = stool_panel()
    panels, interps = mutate(p, i)  # type: ignore[operator]
    with pytest.raises(ReportError):
        build_report(panels, interps, catalogue_hash=HASH, version="0")


def test_import_is_lazy() -> None:
    """Importing guttests._reports loads neither jinja2 nor FHIR code nor pint."""
    code = (
        "import sys, guttests._reports as r;"
        "bad=[m for m in ('jinja2','fhir','fhir.resources','pint','guttests._reports._fhir',"
        "'guttests._reports._html') if m in sys.modules];print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- every format --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_deterministic(fmt: str) -> None:
    """Same input and options give byte-identical output."""
    assert render(example(), fmt) == render(example(), fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_forbidden_wording(outputs: dict[str, str], fmt: str) -> None:
    """No rendered report contains diagnostic, judgemental or advisory wording."""
    assert forbidden.find_forbidden(outputs[fmt]) == []


def test_phrase_file_is_neutral() -> None:
    """The phrase templates themselves contain no forbidden wording."""
    text = (ROOT / "src" / "guttests" / "_data" / "report_phrases.toml").read_text("utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert forbidden.find_forbidden(body) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("You have leaky gut", ["leaky gut", "you have"]),
        ("Consider a probiotic supplement", ["consider", "probiotic", "supplement"]),
        ("considered, supplementary, healthcare, cured-meat", []),
        ("This is GOOD", ["good"]),
    ],
)
def test_forbidden_matcher(text: str, found: list[str]) -> None:
    """The forbidden-phrase matcher matches whole words, case-insensitively."""
    assert forbidden.find_forbidden(text) == found


def test_text_layout(outputs: dict[str, str]) -> None:
    """Text is ASCII except µ, without control characters, and names every result."""
    text = outputs["text"]
    assert all(ch.isascii() or ch == "µ" for ch in text)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert "limit (4.8" in text  # wrapped inside its column, at a space
    assert "Practitioner" in text
    assert "(configured," in text
    assert max(len(line) for line in text.splitlines()) <= 100
    for row in example().rows:
        assert row.value in text or row.value.replace("×", "x") in text


def test_text_colour_only_when_asked(report: Report) -> None:
    """ANSI colour codes appear only with colour=True."""
    assert "\x1b[" not in render(report, "text")
    assert "\x1b[33m" in render(report, "text", colour=True)


def test_markdown_tables(outputs: dict[str, str]) -> None:
    """Markdown has one table per panel with every row."""
    md = outputs["md"]
    tables = [line for line in md.splitlines() if line.startswith("|---")]
    assert len(tables) == 3 + 1 + 1 + 3  # panels, notes, not interpreted, serial series
    assert "## Notes on results" in md
    assert "## Results not interpreted" in md


def test_json_schema_and_order(outputs: dict[str, str], report: Report) -> None:
    """JSON validates against the published schema; results keep input order."""
    doc = json.loads(outputs["json"])
    schema = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema)
    assert doc["schema"] == "guttests-report/1"
    assert [r["value"] for r in doc["results"]] == [r.value for r in report.rows]
    assert len(doc["results"]) == report.counts.total


def test_result_record_matches_report() -> None:
    """The NDJSON record of one result equals that result's entry in the JSON report,
    which adds only the two layout fields (display name, source note number)."""
    p, ints = stool_panel()
    rep = build_report([p], [ints], catalogue_hash=HASH, version="0")
    doc = json.loads(render(rep, "json"))
    for k, interp in enumerate(ints):
        record = result_record(interp, panel=p, panel_index=0)
        entry = dict(doc["results"][k])
        assert set(entry) - set(record) == {"display_name", "range_ref"}
        del entry["display_name"], entry["range_ref"]
        assert json.loads(json.dumps(record)) == entry


def test_fhir_bundle_valid(outputs: dict[str, str], report: Report) -> None:
    """The FHIR output is a valid R4(B) collection Bundle holding every result."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(outputs["fhir"])
    assert bundle.type == "collection"
    kinds = [e.resource.__resource_type__ for e in bundle.entry]  # type: ignore[union-attr]
    assert kinds.count("Observation") == report.counts.total
    assert kinds.count("Patient") == 1
    assert kinds.count("DiagnosticReport") == 1
    doc = json.loads(outputs["fhir"])
    obs = [e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Observation"]
    first = obs[10]  # second panel, calprotectin 240
    assert first["valueQuantity"]["value"] == 240
    assert first["interpretation"][0]["coding"][0]["code"] == "H"
    assert first["referenceRange"][0]["high"]["value"] == 50
    elastase = obs[11]
    assert elastase["valueQuantity"]["comparator"] == ">"
    not_interp = [
        o for o in obs if any("not interpretable" in n["text"] for n in o.get("note", []))
    ]
    assert len(not_interp) == report.counts.not_interpretable
    assert all("interpretation" not in o for o in not_interp)
    dr = next(
        e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    assert len(dr["result"]) == report.counts.total
    assert dr["conclusion"].startswith("1. GI Stool Panel: 10 results")


def test_fhir_issued_only_with_time_zone() -> None:
    """generated_at with a time zone becomes Bundle.timestamp and DiagnosticReport.issued."""
    from fhir.resources.R4B.bundle import Bundle

    out = render(example(generated_at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC)), "fhir")
    Bundle.model_validate_json(out)
    assert '"issued": "2024-03-05T12:00:00+00:00"' in out


def test_html_structure(outputs: dict[str, str], report: Report) -> None:
    """HTML is self-contained, uses real tables with scoped headers and one graphic per
    quantitative interpreted result, each with a text alternative."""
    html = outputs["html"]
    assert "<script" not in html
    assert "src=" not in html
    assert "@import" not in html
    assert "url(" not in html
    assert "<link" not in html
    assert html.count('<th scope="row">') >= report.counts.total
    assert 'scope="col"' in html
    assert "@media print" in html
    assert "break-before: page" in html
    svgs = re.findall(r'<svg class="rg".*?</svg>', html, re.S)
    quantitative = [
        r
        for r in report.rows
        if r.status == "interpreted"
        and r.range
        and r.range.kind == "quantitative"
        and r.value_kind in ("quantity", "censored")
    ]
    assert len(svgs) == len(quantitative)
    assert all("<title>" in s and "aria-label=" in s for s in svgs)
    assert sum("log scale" in s for s in svgs) >= 2  # qPCR counts
    assert any('<polygon class="cens"' in s for s in svgs)  # '>500' and '<100'


# --- escaping ------------------------------------------------------------------------------

NASTY = "<script>alert(1)</script> | `tick` *star* _under_ & amp\nnewline\x1b[31m"


def _nasty_report() -> Report:
    rng = ReferenceRange(
        id="lab.nasty",
        unit=NASTY,
        source=Citation(text=NASTY),
        text=NASTY,
        bands=(
            Band(label=NASTY, flag=IC.NORMAL, high=10.0),
            Band(label="high", flag=IC.HIGH, low=10.0, low_inclusive=False),
        ),
    )
    r1 = Result(
        name=NASTY,
        value_text="12",
        value=parse_value("12"),
        unit=NASTY,
        lab_range_text=NASTY,
        provenance=Provenance(source=NASTY, location=NASTY),
    )
    r2 = Result(
        name=NASTY,
        value_text=NASTY,
        value_error=NASTY,
        unit=NASTY,
        provenance=Provenance(location="row 3"),
    )
    ints = [
        _i(
            r1,
            flag=IC.HIGH,
            band=NASTY,
            range=rng,
            range_origin="lab",
            value_in_range_unit=12.0,
            position=Position(times_upper_limit=1.2),
            notes=(NASTY,),
        ),
        _i(r2, reason=NASTY),
    ]
    panel = Panel(
        name=NASTY,
        patient=PatientContext(patient_id=NASTY, name=NASTY),
        lab=NASTY,
        results=(r1, r2),
    )
    return build_report([panel], [ints], catalogue_hash=HASH, version="0")


def test_escaping_html() -> None:
    """Every input string is escaped in HTML."""
    html = render(_nasty_report(), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "& amp" not in html


def test_escaping_markdown() -> None:
    """Pipes, backticks, stars, underscores, '<' and newlines are escaped in Markdown."""
    md = render(_nasty_report(), "md")
    assert "<script>" not in md
    assert "\x1b" not in md
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; \\| \\`tick\\` \\*star\\* \\_under\\_ &amp; amp"
        in md
    )
    for line in md.splitlines():
        if line.startswith("| "):
            assert re.sub(r"\\\|", "", line).count("|") == line.count("|") - line.count("\\|")


def test_markdown_table_cells_stay_in_columns() -> None:
    """Escaped pipes never add columns: every table row has the header's cell count."""
    md = render(_nasty_report(), "md")
    lines = md.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("|---"):
            width = len(re.split(r"(?<!\\)\|", lines[k - 1]))
            j = k + 1
            while j < len(lines) and lines[j].startswith("| "):
                assert len(re.split(r"(?<!\\)\|", lines[j])) == width
                j += 1


def test_escaping_text_strips_controls() -> None:
    """Text output drops control characters and keeps one line per table row."""
    text = render(_nasty_report(), "text")
    assert "\x1b" not in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)


def test_escaping_json_and_fhir_roundtrip() -> None:
    """JSON keeps the text exactly; FHIR strips control characters and stays valid."""
    from fhir.resources.R4B.bundle import Bundle

    rep = _nasty_report()
    doc = json.loads(render(rep, "json"))
    assert doc["results"][0]["name"] == NASTY
    Bundle.model_validate_json(render(rep, "fhir"))


# --- properties ----------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@st.composite
def _panels(draw: st.DrawFn) -> tuple[Panel, list[Interpretation]]:
    results: list[Result] = []
    interps: list[Interpretation] = []
    n = draw(st.integers(0, 6))
    for k in range(n):
        text = draw(
            st.one_of(
                st.sampled_from(["12", "<5", ">300", "Positive", "2+", "Class 2", "??"]), _TEXT
            )
        )
        try:
            value, error = parse_value(text), None
        except ValueError as exc:
            value, error = None, str(exc)
        r = Result(
            name=draw(_TEXT) or None,
            value_text=text,
            value=value,
            value_error=error,
            unit=draw(st.one_of(st.none(), _TEXT)),
            provenance=Provenance(location=f"row {k + 1}"),
        )
        results.append(r)
        if value is None or draw(st.booleans()):
            interps.append(_i(r, reason=draw(_TEXT) or "no range"))
        else:
            flag = draw(st.sampled_from(list(IC)))
            interps.append(_i(r, flag=flag, band=draw(st.one_of(st.none(), _TEXT.filter(bool)))))
    return Panel(name=draw(st.one_of(st.none(), _TEXT)), results=tuple(results)), interps


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_panels(), min_size=1, max_size=3))
def test_property_nothing_lost(data: Sequence[tuple[Panel, list[Interpretation]]]) -> None:
    """For any panels: JSON has one entry per result in order, FHIR one Observation each,
    and text output has no control characters."""
    from fhir.resources.R4B.bundle import Bundle

    panels = [p for p, _ in data]
    rep = build_report(panels, [i for _, i in data], catalogue_hash=HASH, version="0")
    total = sum(len(p.results) for p in panels)
    doc = json.loads(render(rep, "json"))
    assert [r["value"] for r in doc["results"]] == [r.value_text for p in panels for r in p.results]
    assert rep.counts.total == total
    bundle = Bundle.model_validate_json(render(rep, "fhir"))
    assert sum(e.resource.__resource_type__ == "Observation" for e in bundle.entry or []) == total  # type: ignore[union-attr]
    text = render(rep, "text")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    html = render(rep, "html")
    assert "<script" not in html


# --- golden file ---------------------------------------------------------------------------


def test_text_golden() -> None:
    """The text report of the example matches the reviewed golden file."""
    golden = FIXTURES / "example.txt"
    out = render(example(), "text")
    if not golden.exists():
        golden.write_text(out, "utf-8")
        pytest.fail(f"golden file written: review and commit {golden}")
    assert out == golden.read_text("utf-8")
