"""Issue 12 §1-§2 and issue 14 §2: range text read exactly, values never re-spelled,
coded qualitative results read from their codes, huge numbers refused with typed errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import guttests
from guttests import Provenance, Result, parse_value
from guttests._errors import GuttestsError, RangeError, UnitError, ValueParseError
from guttests._range_text import parse_range_text
from guttests._readers._common import coded_entry, coded_value
from guttests._readers.hl7v2 import read_hl7v2
from guttests._units import parse_unit
from guttests._values import QuantityValue
from guttests.testing._strategies import UNIT_SPELLINGS

FIXTURES = Path(__file__).parent / "fixtures" / "hl7v2"
HUGE = "1" * 5000  # beyond Python's 4300-digit limit for int()


def _interpretations(name: str) -> list[guttests.Interpretation]:
    return [i for p in guttests.read(FIXTURES / name) for i in guttests.interpret_panel(p)]


# --- §1 range text read exactly -----------------------------------------------------------

number_texts = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.from_regex(r"\A(0|[1-9][0-9]{0,4})\.[0-9]{1,6}\Z"),
)
unit_texts = st.sampled_from((*UNIT_SPELLINGS, "1", "%", "g", "U/L", "{Ratio}"))
any_units = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)


@given(t=number_texts, u=unit_texts, form=st.sampled_from(("<{t}", "<={t}", ">{t}", ">= {t}")))
def test_one_sided_bound_equals_float_of_its_text(t: str, u: str, form: str) -> None:
    for text in (form.format(t=t), form.format(t=t) + " " + u):
        rng = parse_range_text(text, unit=u)
        assert rng.machine_readable, text
        assert float(t) in {b.low for b in rng.bands} | {b.high for b in rng.bands}


@given(a=number_texts, b=number_texts, u=unit_texts, sep=st.sampled_from(("-", " - ", "_")))
def test_interval_bounds_equal_float_of_their_text(a: str, b: str, u: str, sep: str) -> None:
    lo, hi = sorted((a, b), key=float)
    for text in (f"{lo}{sep}{hi}", f"{lo}{sep}{hi} {u}"):
        rng = parse_range_text(text, unit=u)
        assert rng.reference_interval() == (float(lo), float(hi)), text
        assert rng.unit == u


@given(t=number_texts, u=any_units)
def test_any_unit_never_changes_a_bare_bound(t: str, u: str) -> None:
    """Whatever the result's unit, a range without one reads each number exactly."""
    assert parse_range_text(f"<{t}", unit=u).reference_interval() == (None, float(t))
    assert parse_range_text(f"{t}-{t}", unit=u).reference_interval() == (float(t), float(t))


def test_unit_one_does_not_cut_the_number() -> None:
    # the unit "1" is the last character of the range: it is no separate token
    assert parse_range_text("<0.031", unit="1").reference_interval() == (None, 0.031)
    assert parse_range_text("0.01-0.21", unit="1").reference_interval() == (0.01, 0.21)
    # glued to the number, only the result's own unit that cannot be part of a number
    assert parse_range_text("10-20%", unit="%").reference_interval() == (10.0, 20.0)


def test_range_spellings_from_real_messages() -> None:
    got = {i.result.lab_range_text: i for i in _interpretations("range_spellings.hl7")}
    assert got["70_105"].range is not None
    assert got["70_105"].range.reference_interval() == (
        70.0,
        105.0,
    )
    assert got["70 - 105 mg/dL"].flag is guttests.InterpretationCode.NORMAL
    assert got["<0.031"].range is not None
    assert got["<0.031"].range.reference_interval() == (None, 0.031)
    # another spelling of the same unit: read, and compared after a safe conversion
    assert got["<0.50 IU/mL"].interpreted
    assert got["<0.50 IU/mL"].range is not None
    assert got["<0.50 IU/mL"].range.unit == "IU/mL"
    # units that do not convert: the reason says so, not "not machine-readable"
    cells = got["1800-7700 cells/mcL"]
    assert not cells.interpreted
    assert "cells/mcL" in (cells.reason or "")
    assert "do not convert" in (cells.reason or "")
    assert got[">= 5"].range is not None
    assert got[">= 5"].range.reference_interval() == (5.0, None)
    # HL7 numeric range (NR) components low^high
    assert got["10^40"].range is not None
    assert got["10^40"].range.reference_interval() == (
        10.0,
        40.0,
    )


def test_inverted_range_is_refused_with_that_reason() -> None:
    rng = parse_range_text("150-40", unit="mg/dL")
    assert not rng.machine_readable
    assert rng.note == "inverted interval: low 150 is above high 40"
    got = {i.result.lab_range_text: i for i in _interpretations("range_spellings.hl7")}
    assert "inverted interval: low 150 is above high 40" in (got["150-40"].reason or "")


def test_components_other_than_low_high_are_not_guessed() -> None:
    got = {i.result.lab_range_text: i for i in _interpretations("range_spellings.hl7")}
    odd = got["^^10.000000"]
    assert not odd.interpreted
    assert "not in the low^high form" in (odd.reason or "")


def test_range_without_unit_against_a_range_with_one() -> None:
    rng = parse_range_text("5 - 10 mg/dL", unit=None)
    assert rng.unit == "mg/dL"
    assert rng.reference_interval() == (5.0, 10.0)
    r = Result(name="Glucose", value_text="7", value=parse_value("7"), lab_range=rng, provenance=_P)
    [i] = guttests.interpret_panel(guttests.Panel(results=(r,)))
    assert not i.interpreted
    assert "never assumed" in (i.reason or "")


# --- §1 products never lose a factor -------------------------------------------------------


@pytest.mark.parametrize("text", ["2 x 100", "5 x 1000", "3 * 100", "2x100"])
def test_product_is_not_read_as_its_first_factor(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_value(text)


@pytest.mark.parametrize(
    ("text", "number"),
    [("3.4 x 10^6", 3.4e6), ("3.4x10E6", 3.4e6), ("2 x 10(3)", 2000.0), ("1.5 x 10**2", 150.0)],
)
def test_powers_of_ten_still_read(text: str, number: float) -> None:
    value = parse_value(text)
    assert isinstance(value, QuantityValue)
    assert value.value == number


# --- §1 value_text and value agree ----------------------------------------------------------

_P = Provenance(location="row 2")


def test_result_refuses_a_value_read_from_other_text() -> None:
    with pytest.raises(ValidationError, match="not the text the value was read from"):
        Result(value_text="180", value=parse_value("20"), provenance=_P)
    with pytest.raises(ValidationError, match="is not what its text"):
        Result(value_text="180", value=QuantityValue(text="180", value=20.0), provenance=_P)
    with pytest.raises(ValidationError):
        Result(value_text="180", value=parse_value("18"), provenance=_P)


def test_result_accepts_values_read_from_their_text() -> None:
    assert Result(value_text="<10", value=parse_value("<10"), provenance=_P).value is not None
    # a value with its unit after it, as CSV cells carry them
    assert Result(value_text="50 ug/g", value=parse_value("50"), provenance=_P).value is not None
    comma = parse_value("0,5", decimal_comma=True)
    assert Result(value_text="0,5", value=comma, provenance=_P).value == comma


@given(st.sampled_from(("12.5", "<10", ">=2000", "Class 3", "Not detected", "3.4 x 10E6")))
def test_readers_results_agree_with_their_text(text: str) -> None:
    msg = f"MSH|^~\\&|LIS|Lab|||20240301||ORU^R01|1|P|2.5.1\rOBX|1|ST|x^Analyte||{text}|||||F\r"
    [panel] = read_hl7v2(msg)
    [r] = panel.results
    assert r.value is not None
    assert r.value.text == r.value_text == text


# --- §2 coded qualitative results ------------------------------------------------------------


def test_table_is_data_and_shared() -> None:
    entry = coded_entry("http://snomed.info/sct", "260415000")
    assert entry is not None
    assert entry.term == "not_detected"
    assert coded_entry("SCT", "260415000") == entry
    assert coded_entry("sct", "52101004") is not None  # Present
    assert coded_entry("L", "260415000") is None  # a local code is not SNOMED CT


@pytest.mark.parametrize(
    ("code", "term"),
    [
        ("260373001", "detected"),
        ("260415000", "not_detected"),
        ("260385009", "negative"),
        ("10828004", "positive"),
        ("52101004", "present"),
        ("2667000", "absent"),
        ("419984006", "inconclusive"),
        ("82334004", "indeterminate"),
        ("42425007", "equivocal"),
    ],
)
def test_snomed_qualifier_values(code: str, term: str) -> None:
    value, error = coded_value("SCT", code, code)
    assert error is None
    assert value is not None
    assert getattr(value, "term", None) == term


def test_code_contradicting_text_names_both() -> None:
    value, error = coded_value("SCT", "260373001", "Not detected")
    assert value is None
    assert error is not None
    assert "260373001" in error
    assert "Not detected" in error


def test_hl7_coded_results() -> None:
    got = [(i.result.value_text, i) for i in _interpretations("coded_qualitative.hl7")]
    by_text = dict(got)
    assert by_text["Not detected (qualifier value)"].flag is guttests.InterpretationCode.NORMAL
    assert by_text["260415000"].interpreted  # code only, no text
    assert by_text["Positive"].interpreted  # alternate coding (CWE.4-6), SNM
    assert by_text["No growth"].interpreted
    contradiction = [i for t, i in got if i.result.code and i.result.code.code == "20948-6"]
    assert not contradiction[0].interpreted
    assert "contradicts its text 'Not detected'" in (contradiction[0].reason or "")
    answer = by_text["Yes"]
    assert not answer.interpreted
    assert "yes/no answer" in (answer.reason or "")


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Isolated", "isolated"),
        ("Not isolated", "not_isolated"),
        ("No growth", "none"),
        ("Normal flora", "normal_flora"),
        ("Detected (qualifier value)", "detected"),
        ("Not detected (Qualifier Value)", "not_detected"),
    ],
)
def test_culture_words_and_snomed_names(text: str, term: str) -> None:
    assert getattr(parse_value(text), "term", None) == term


def test_fhir_value_codeable_concept_uses_the_table() -> None:
    from guttests._readers.fhir import _coded

    read = _coded(
        {"coding": [{"system": "http://snomed.info/sct", "code": "2667000"}], "text": "Absent"}
    )
    assert read.value is not None
    assert getattr(read.value, "term", None) == "absent"
    bad = _coded(
        {"coding": [{"system": "http://snomed.info/sct", "code": "52101004"}], "text": "Absent"}
    )
    assert bad.value is None
    assert bad.error is not None
    assert "52101004" in bad.error


# --- issue 14 §2: numbers beyond int()'s 4300-digit limit -----------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: parse_value("1e" + HUGE), ValueParseError),
        (lambda: parse_value("<1e" + HUGE), ValueParseError),
        (lambda: parse_value("1 x 10^" + HUGE), ValueParseError),
        (lambda: parse_value("10^" + HUGE), ValueParseError),
        (lambda: parse_value(HUGE), ValueParseError),
        (lambda: parse_unit("x10^" + HUGE + "/L"), UnitError),
        (lambda: parse_unit("10*" + HUGE), UnitError),
        (lambda: parse_unit("m" + HUGE), UnitError),
        (lambda: parse_unit(HUGE), UnitError),
        (lambda: parse_range_text("<1e" + HUGE, unit=None), RangeError),
        (lambda: parse_range_text("1-" + HUGE + "e" + HUGE, unit="g"), RangeError),
    ],
)
def test_huge_numbers_raise_typed_errors(call: object, error: type[GuttestsError]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


# --- §3 the lab's own flag -------------------------------------------------------------------


def test_cwe_flag_is_stored_as_its_code_with_the_text_kept() -> None:
    results = [r for p in guttests.read(FIXTURES / "lab_flags.hl7") for r in p.results]
    assert results[0].lab_flags == ("A",)
    assert results[0].lab_flag_texts == ("Abnormal",)
    assert results[2].lab_flags == ("N",)
    assert results[2].lab_flag_texts == ()
    assert results[3].lab_flags == ("H", "A")


def test_flag_texts_pair_with_flags() -> None:
    with pytest.raises(ValidationError, match="one text per lab flag"):
        Result(lab_flags=("A", "H"), lab_flag_texts=("Abnormal",), provenance=_P)


def test_disagreeing_flags_are_noted_in_every_format() -> None:
    its = _interpretations("lab_flags.hl7")
    # A (abnormal) and guttests' H agree; N and N agree
    assert not [n for n in its[0].notes if "lab flagged" in n]
    assert not [n for n in its[1].notes if "lab flagged" in n]
    note = "the lab flagged this result N (normal); guttests' comparison gives H (High)"
    assert note in its[2].notes
    assert "the lab flagged this result H (high); guttests' comparison gives L (Low)" in (
        its[3].notes
    )
    panels = guttests.read(FIXTURES / "lab_flags.hl7")
    report = guttests.build_report(
        panels,
        [guttests.interpret_panel(p) for p in panels],
        catalogue_hash="test",
        version=guttests.__version__,
    )
    for fmt in ("text", "md", "html", "json", "fhir"):
        out = guttests.render(report, fmt)
        assert "guttests' comparison gives H (High)" in out.replace("&#39;", "'"), fmt
    # the lab's own flag beside guttests' flag, in a column of its own
    assert "| Lab flags | Flag |" in guttests.render(report, "md")
    assert "| N | H (High) |" in guttests.render(report, "md")
    text = guttests.render(report, "text")
    assert re.search(r"Lab\s+Flag\n", text)  # "Lab flags", wrapped in a narrow column
    assert re.search(r"H, A\s+L \(Low\)\n", text)


def test_csv_value_with_unit_and_blanks_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "patient_id,analyte,value,unit\nP1,Calprotectin, 50 ug/g ,\nP1,Zonulin,<10 ng/mL,\n",
        encoding="utf-8",
    )
    results = [r for p in guttests.read(path) for r in p.results]
    assert [(r.value_text, r.unit) for r in results] == [
        (" 50 ug/g ", "ug/g"),
        ("<10 ng/mL", "ng/mL"),
    ]
    assert [getattr(r.value, "text", None) for r in results] == ["50", "<10"]


def test_code_and_text_of_the_same_meaning_agree() -> None:
    value, error = coded_value("SCT", "260415000", "Negative")  # Not detected
    assert error is None
    assert getattr(value, "term", None) == "negative"
    value, error = coded_value("SCT", "10828004", "Not detected")  # Positive
    assert value is None
    assert error == "code 10828004 (SCT: Positive) contradicts its text 'Not detected'"


def test_hl7_huge_numbers_stay_results_with_reasons() -> None:
    msg = (
        "MSH|^~\\&|LIS|Lab|||20240301||ORU^R01|1|P|2.5.1\r"
        f"OBX|1|SN|x^pH||<^1e{HUGE}|u|1-{HUGE}||||F\r"
        f"OBX|2|NM|x^pH||1e{HUGE[:400]}|u|<1e{HUGE[:400]}||||F\r"
    )
    first, second = read_hl7v2(msg)[0].results
    assert first.value is None
    assert first.value_error is not None
    assert second.value is None
    assert second.value_error is not None
    assert second.lab_range_text is not None
