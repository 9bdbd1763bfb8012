"""HL7 v2.5.1 ORU^R01 output: python-hl7 parses it, guttests reads it back unchanged."""

from __future__ import annotations

from datetime import date, datetime

import hl7
import pytest
from hypothesis import HealthCheck, given, settings

from guttests import GuttestsError, interpret_panel, read
from guttests._cli._examples import example_sources
from guttests._models import Panel, PatientContext, Provenance, Result
from guttests._reports import Report, build_report, render
from guttests._reports._hl7 import escape, hl7_timestamp
from guttests._values import parse_value
from guttests.testing import Serialised, hl7_messages, panels

HASH = "ab" * 32


def _report(ps: list[Panel], *, deidentify: bool = False) -> Report:
    interps = [interpret_panel(p) for p in ps]
    return build_report(ps, interps, catalogue_hash=HASH, version="0.1.0", deidentify=deidentify)


def _example_report(deidentify: bool = False) -> Report:
    ps: list[Panel] = []
    for name, data in example_sources():
        ps += read(data, source_name=name)
    return _report(ps, deidentify=deidentify)


def _segments(text: str, sid: str) -> list[str]:
    return [s for s in text.split("\r") if s.startswith(sid + "|")]


def _check_round_trip(rep: Report, text: str) -> None:
    """Every row comes back as one OBX with its value, unit, flag, status and time."""
    parsed = hl7.parse(text)
    assert str(parsed.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    assert str(parsed.segment("MSH")[12]) == "2.5.1"
    back = read(text, format="hl7v2")
    results = [r for p in back for r in p.results]
    assert len(results) == len(rep.rows) == len(parsed.segments("OBX"))
    assert [p.name for p in back] == [p.name or p.title for p in rep.panels]
    for row, got in zip(rep.rows, results, strict=True):
        assert got.value_text == row.value
        assert got.unit == row.unit
        assert got.status.value == row.result_status
        expected = (row.interpretation,) if row.status == "interpreted" else ()
        assert got.lab_flags == expected
        assert (got.name or None) == (row.name or row.label or None)
        codes = [c.code for c in (got.code, *got.codes) if c is not None]
        assert codes == [c.code for c in row.codes[:2]]
        if row.collected is None:
            assert got.collected is None
        elif "T" in row.collected:
            assert got.collected == datetime.fromisoformat(row.collected)
        else:
            assert got.collected == date.fromisoformat(row.collected)
        assert got.lab == row.lab


def test_example_message_is_parsed_by_python_hl7_and_read_back() -> None:
    """The bundled example: one ORU^R01 with MSH, PID, one OBR per panel, one OBX per result."""
    rep = _example_report()
    text = render(rep, "hl7")
    assert text.startswith("MSH|^~\\&|guttests^0.1.0|")
    assert "\n" not in text
    [pid] = _segments(text, "PID")
    assert pid == "PID|1||EX-1001^^^EXC^MR||Example^Robin||19840517|F"  # CX keeps its authority
    assert len(_segments(text, "OBR")) == len(rep.panels)
    _check_round_trip(rep, text)


def test_obx_fields_value_units_range_flag_status() -> None:
    """OBX-5/6/7/8/11 carry the value as written, the unit, the range used and the flag."""
    text = render(_example_report(), "hl7")
    obx: dict[str, list[str]] = {}
    for s in _segments(text, "OBX"):
        obx.setdefault(s.split("|")[3].split("^")[0], s.split("|"))
    calpro = obx["38445-3"]
    assert calpro[2] == "NM"
    assert calpro[5:9] == ["138.0", "ug/g", "<=50", "H"]
    assert calpro[11] == "F"
    elastase = obx["25907-7"]
    assert elastase[2] == "SN"
    assert elastase[5] == ">^500"
    assert elastase[8] == "N"


def test_not_interpretable_has_no_flag_and_a_reason() -> None:
    """A result not interpreted keeps its value, has no OBX-8, and an NTE says why."""
    text = render(_example_report(), "hl7")
    segments = text.split("\r")
    i = next(k for k, s in enumerate(segments) if s.startswith("OBX|") and "|<dl|" in s)
    assert segments[i].split("|")[8] == ""
    notes = []
    for s in segments[i + 1 :]:
        if not s.startswith("NTE|"):
            break
        notes.append(s)
    assert any("not interpretable: " in n for n in notes)


def test_caveats_become_nte_segments() -> None:
    """Each caveat of a result follows its OBX as an NTE, with its citations."""
    rep = _example_report()
    text = render(rep, "hl7")
    ntes = [s.split("|", 3)[3] for s in _segments(text, "NTE")]
    for cav in rep.caveats:
        assert any(n.startswith(escape(cav.text)) for n in ntes), cav.id
    assert any("Source: " in n for n in ntes)


def test_deidentified_message_has_no_identity() -> None:
    """--deidentify: PID carries nothing about the patient; an NTE says so."""
    rep = _example_report(deidentify=True)
    text = render(rep, "hl7")
    for secret in ("EX-1001", "Example", "Robin", "19840517", "stool.hl7"):
        assert secret not in text
    assert _segments(text, "PID") == ["PID|1"]
    hl7.parse(text)


def _result(value: str, unit: str | None = "ug/g", **kw: object) -> Result:
    try:
        parsed = parse_value(value)
    except GuttestsError:
        parsed, kw["value_error"] = None, "not a lab value"
    return Result(
        value_text=value,
        value=parsed,
        unit=unit,
        provenance=Provenance(location="OBX 1"),
        **kw,  # type: ignore[arg-type]
    )


def test_escaping_of_encoding_characters() -> None:
    """|, ^, ~, & and backslash never split a field; reading back restores them."""
    r = _result(
        "pos ^ 1|2 ~ a&b \\ c",
        unit="mg|L",
        name="Odd ^name| with & and ~",
        lab="Lab & Co | Ltd",
    )
    panel = Panel(
        name="Panel ^1",
        patient=PatientContext(patient_id="A|1^B", name="O'Brien^x, Mary~Ann"),
        results=(r,),
    )
    rep = _report([panel])
    text = render(rep, "hl7")
    parsed = hl7.parse(text)
    assert len(parsed.segments("OBX")) == 1
    assert len(str(parsed.segment("OBX")).split("|")) == len(_segments(text, "OBX")[0].split("|"))
    [back] = read(text, format="hl7v2")
    assert back.patient.patient_id == "A|1^B"
    assert back.patient.name == "O'Brien^x, Mary~Ann"
    assert back.name == "Panel ^1"
    _check_round_trip(rep, text)


def test_escape_line_breaks_and_control_characters() -> None:
    r"""A line break is \.br\, other control characters \Xhh\: no segment is ever cut."""
    assert escape("a\r\nb\nc") == "a\\.br\\b\\.br\\c"
    assert escape("a\x07b") == "a\\X07\\b"
    assert escape("a\rb") == "a\\X0D\\b"


def test_range_in_another_unit_is_not_put_in_obx7() -> None:
    """OBX-7 holds the range only in OBX-6's unit: else the range goes into an NTE."""
    r = _result("0.2", unit="mg/g", name="Calprotectin")
    rep = _report([Panel(name="Stool", results=(r,))])
    row = rep.rows[0]
    text = render(rep, "hl7")
    [obx] = _segments(text, "OBX")
    if row.range is not None and row.range.unit != "mg/g":
        assert obx.split("|")[7] == ""
        assert any(row.range.text in s for s in _segments(text, "NTE"))


@pytest.mark.parametrize(
    ("iso", "dtm"),
    [
        ("2024-02-29", "20240229"),
        ("2024-02-29T08:30:00", "20240229083000"),
        ("2024-02-29T08:30:00-07:00", "20240229083000-0700"),
        ("2024-02-29T08:30:00.250000+00:00", "20240229083000.2500+0000"),
        (None, ""),
    ],
)
def test_timestamps(iso: str | None, dtm: str) -> None:
    assert hl7_timestamp(iso) == dtm


def test_same_report_same_message() -> None:
    """Deterministic: no clock time, a control id derived from the content."""
    assert render(_example_report(), "hl7") == render(_example_report(), "hl7")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hl7_messages(panels(max_results=4), max_panels=1))
def test_round_trip_property(sample: Serialised) -> None:
    """Any generated lab message, interpreted and written back as HL7: python-hl7 parses it,
    and guttests reads the same values, units, statuses, times and guttests' flags."""
    ps = read(sample.text, format="hl7v2")
    rep = _report(ps)
    out = render(rep, "hl7")
    _check_round_trip(rep, out)


def test_message_time_is_latest_collection_or_generation() -> None:
    """MSH-7: the generation time when asked for, else the latest collection time."""
    r1 = _result("40", name="Calprotectin", collected=date(2024, 1, 2))
    p = Panel(name="Stool", results=(r1,))
    rep = _report([p])
    assert render(rep, "hl7").split("|")[6] == "20240102"
    rep2 = build_report(
        [p],
        [interpret_panel(p)],
        catalogue_hash=HASH,
        version="0",
        generated_at=datetime.fromisoformat("2024-05-01T10:00:00+02:00"),
    )
    assert render(rep2, "hl7").split("|")[6] == "20240501100000+0200"


def test_cli_several_patients_give_one_message_each() -> None:
    """Two patients: two ORU^R01 messages one after another, each with its own PID."""
    from pathlib import Path

    from click.testing import CliRunner

    from guttests.cli import cli

    two = Path(__file__).parent / "fixtures" / "cli" / "two_patients.csv"
    res = CliRunner().invoke(cli, ["report", str(two), "--format", "hl7"])
    assert res.exit_code == 0, res.output
    text = res.output.strip("\n")
    assert text.count("MSH|") == 2
    assert len(_segments(text, "PID")) == 2
    back = read(text, format="hl7v2")
    assert len({p.patient.patient_id for p in back}) == 2
