"""The interpretation engine against hand-built ranges (no catalogue, no unit conversion).

Catalogue-backed cases live in test_interpret_catalogue.py.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests import (
    Age,
    Band,
    Citation,
    InterpretationCode,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
    ResultStatus,
    interpret,
    parse_range_text,
    parse_value,
)

SRC = Citation(text="Test source, fixture range")
IC = InterpretationCode

# Mayo-style calprotectin bands: <=50 normal, 50.1-120 borderline, >=120.1 abnormal.
CALPRO = ReferenceRange(
    id="t.calpro",
    analyte="calprotectin",
    unit="ug/g",
    bands=(
        Band(label="normal", flag=IC.NORMAL, high=50.0),
        Band(label="borderline", flag=IC.HIGH, low=50.0, low_inclusive=False, high=120.0),
        Band(label="abnormal", flag=IC.HIGH, low=120.0, low_inclusive=False),
    ),
    source=SRC,
)

# Specific IgE classes 0-6 in kU/L.
IGE = ReferenceRange(
    id="t.ige",
    unit="kU/L",
    bands=(
        Band(label="class 0", flag=IC.NORMAL, high=0.35, high_inclusive=False),
        Band(label="class 1", flag=IC.HIGH, low=0.35, high=0.70),
        Band(label="class 2", flag=IC.HIGH, low=0.70, low_inclusive=False, high=3.5),
        Band(label="class 3", flag=IC.HIGH, low=3.5, low_inclusive=False, high=17.5),
        Band(label="class 4", flag=IC.HIGH, low=17.5, low_inclusive=False, high=50.0),
        Band(label="class 5", flag=IC.HIGH, low=50.0, low_inclusive=False, high=100.0),
        Band(label="class 6", flag=IC.HIGH, low=100.0, low_inclusive=False),
    ),
    source=SRC,
)


def result(
    value: str,
    unit: str | None = "ug/g",
    lab_range: ReferenceRange | None = None,
    status: ResultStatus = ResultStatus.FINAL,
) -> Result:
    try:
        parsed = parse_value(value)
        error = None
    except ValueError as exc:
        parsed, error = None, str(exc)
    return Result(
        name="Calprotectin",
        value_text=value,
        value=parsed,
        value_error=error,
        unit=unit,
        lab_range=lab_range,
        status=status,
        provenance=Provenance(location="line 2"),
    )


@pytest.mark.parametrize(
    ("value", "flag", "band"),
    [
        ("12", IC.NORMAL, "normal"),
        ("50.0", IC.NORMAL, "normal"),
        ("50.1", IC.HIGH, "borderline"),
        ("120.0", IC.HIGH, "borderline"),
        ("120.1", IC.HIGH, "abnormal"),
        ("2000", IC.HIGH, "abnormal"),
        ("<10", IC.NORMAL, "normal"),
        ("<=50", IC.NORMAL, "normal"),
        ("<100", IC.INDETERMINATE, None),
        (">2000", IC.HIGH, "abnormal"),
        (">60", IC.HIGH, "borderline or abnormal"),
        (">=40", IC.INDETERMINATE, None),
        ("<dl", IC.INDETERMINATE, None),
    ],
)
def test_quantitative_bands(value: str, flag: InterpretationCode, band: str | None) -> None:
    """Exact and censored values against explicit-inclusivity bands."""
    i = interpret(result(value, lab_range=CALPRO), catalogue=None)
    assert i.status == "interpreted"
    assert (i.flag, i.band) == (flag, band)
    assert i.range_origin == "lab"


@pytest.mark.parametrize(
    ("text", "value", "flag"),
    [
        ("20-48", "19.9", IC.LOW),
        ("20-48", "20", IC.NORMAL),
        ("20-48", "48", IC.NORMAL),
        ("20-48", "48.01", IC.HIGH),
        ("<107", "107", IC.HIGH),
        ("<107", "106.9", IC.NORMAL),
        ("<=107", "107", IC.NORMAL),
        (">200", "200", IC.LOW),
        (">=200", "200", IC.NORMAL),
        ("0 - 49", "<10", IC.NORMAL),
        ("100 to 200", ">250", IC.HIGH),
    ],
)
def test_lab_range_text(text: str, value: str, flag: InterpretationCode) -> None:
    """A lab's own range text is read exactly, with its boundary inclusivity."""
    rng = parse_range_text(text, unit="ug/g")
    assert interpret(result(value, lab_range=rng), catalogue=None).flag is flag


def test_position_times_upper_limit() -> None:
    """Position is reported as fraction of the interval and times the upper limit."""
    i = interpret(result("105", lab_range=parse_range_text("20-50", unit="ug/g")), catalogue=None)
    assert i.position is not None
    assert i.position.times_upper_limit == pytest.approx(2.1)
    assert i.position.fraction == pytest.approx(85 / 30)


@pytest.mark.parametrize(
    ("value", "expected", "flag"),
    [
        ("Not detected", "Not detected", IC.NORMAL),
        ("None Detected", "Not detected", IC.NORMAL),
        ("Negative", "Not detected", IC.NORMAL),
        ("Detected", "Not detected", IC.DETECTED),
        ("Positive", "Negative", IC.POSITIVE),
        ("2+", "Negative", IC.ABNORMAL),
        ("Rare", "Neg-Rare", IC.NORMAL),
        ("Few", "Neg-Rare", IC.ABNORMAL),
        ("Equivocal", "Negative", IC.EQUIVOCAL),
    ],
)
def test_qualitative(value: str, expected: str, flag: InterpretationCode) -> None:
    """Qualitative values are compared with the expected result."""
    rng = parse_range_text(expected, unit=None)
    i = interpret(result(value, unit=None, lab_range=rng), catalogue=None)
    assert i.flag is flag


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [
        ("Detected", "qualitative value 'Detected' cannot be compared"),
        ("Class 3", "class/score value 'Class 3'"),
        ("-4", "negative value '-4'"),
        ("abc", "not a lab value"),
    ],
)
def test_not_interpretable_values(value: str, reason_part: str) -> None:
    """A value of the wrong kind, or not a value, is not interpretable with a reason."""
    i = interpret(result(value, lab_range=CALPRO), catalogue=None)
    assert i.status == "not_interpretable"
    assert reason_part in (i.reason or "")
    assert i.flag is None


def test_units_never_assumed() -> None:
    """A value without a unit is never compared with a range that has one."""
    i = interpret(result("30", unit=None, lab_range=CALPRO), catalogue=None)
    assert i.status == "not_interpretable"
    assert "units are never assumed" in (i.reason or "")


@pytest.mark.parametrize(
    "status", [ResultStatus.CANCELLED, ResultStatus.ENTERED_IN_ERROR, ResultStatus.REGISTERED]
)
def test_status_not_interpreted(status: ResultStatus) -> None:
    """Cancelled, entered-in-error and registered results are not interpreted."""
    i = interpret(result("30", lab_range=CALPRO, status=status), catalogue=None)
    assert i.status == "not_interpretable"
    assert status.value in (i.reason or "")


@pytest.mark.parametrize("status", [ResultStatus.PRELIMINARY, ResultStatus.CORRECTED])
def test_status_labelled(status: ResultStatus) -> None:
    """Preliminary and corrected results are interpreted and labelled."""
    i = interpret(result("30", lab_range=CALPRO, status=status), catalogue=None)
    assert i.interpreted
    assert f"{status.value} result" in i.notes


def test_text_only_lab_range_is_not_guessed() -> None:
    """A lab range that is prose is carried as text and never turned into numbers."""
    rng = parse_range_text("0-99 years >200", unit="ug/g")
    i = interpret(result("150", lab_range=rng), catalogue=None)
    assert i.status == "not_interpretable"
    assert "not machine-readable" in (i.reason or "")


def test_ige_classes() -> None:
    """Specific IgE concentrations map to their class bands."""
    for value, band in [
        ("0.2", "class 0"),
        ("0.35", "class 1"),
        ("4.1", "class 3"),
        (">100", "class 6"),
    ]:
        r = result(value, unit="kU/L", lab_range=IGE)
        assert interpret(r, catalogue=None).band == band


# --- properties --------------------------------------------------------------------------

_ORDER = {IC.LOW: 0, IC.NORMAL: 1, IC.HIGH: 2}
finite = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)


@st.composite
def interval_ranges(draw: st.DrawFn) -> ReferenceRange:
    lo = draw(st.floats(min_value=0, max_value=1e4, allow_nan=False))
    width = draw(st.floats(min_value=1e-3, max_value=1e4, allow_nan=False))
    from guttests._range_text import lab_range

    return lab_range(
        lo,
        lo + width,
        unit="ug/g",
        low_inclusive=draw(st.booleans()),
        high_inclusive=draw(st.booleans()),
    )


@given(interval_ranges(), finite, finite)
def test_monotonicity(rng: ReferenceRange, a: float, b: float) -> None:
    """Raising a value never moves its flag from H toward L."""
    lo, hi = sorted((a, b))
    f_lo = interpret(result(repr(lo), lab_range=rng), catalogue=None).flag
    f_hi = interpret(result(repr(hi), lab_range=rng), catalogue=None).flag
    assert f_lo is not None
    assert f_hi is not None
    assert _ORDER[f_lo] <= _ORDER[f_hi]


@given(interval_ranges(), st.sampled_from(["<", "<=", ">", ">="]), finite, finite)
def test_censored_soundness(rng: ReferenceRange, cmp: str, limit: float, probe: float) -> None:
    """A censored value's flag, unless IND, is the flag of every value it covers."""
    i = interpret(result(f"{cmp}{limit!r}", lab_range=rng), catalogue=None)
    covered = {
        "<": probe < limit,
        "<=": probe <= limit,
        ">": probe > limit,
        ">=": probe >= limit,
    }[cmp]
    if i.flag is IC.INDETERMINATE or not covered:
        return
    exact = interpret(result(repr(probe), lab_range=rng), catalogue=None)
    assert exact.flag is i.flag


@given(interval_ranges(), finite)
def test_bands_partition(rng: ReferenceRange, x: float) -> None:
    """The bands of a lab range cover every number exactly once."""
    assert sum(b.contains(x) for b in rng.bands) == 1
    assert rng.gaps() == []


@given(st.lists(st.sampled_from(["12", "<dl", "abc", "Detected", ">2000", "-1", ""]), max_size=20))
def test_nothing_lost(values: list[str]) -> None:
    """One interpretation per result, in order, each interpreted or with a reason."""
    from guttests import Panel, interpret_panel

    panel = Panel(results=tuple(result(v, lab_range=CALPRO) for v in values))
    out = interpret_panel(panel, catalogue=None)
    assert [i.result for i in out] == list(panel.results)
    for i in out:
        assert i.interpreted or i.reason


# --- context -------------------------------------------------------------------------------


def test_age_from_birth_date() -> None:
    """Age at collection comes from the birth date and the collection date."""
    ctx = PatientContext(birth_date=date(2020, 1, 1))
    assert ctx.age_days_at(date(2021, 1, 1)) == 366
    assert PatientContext(age=Age(value=2, unit="a")).age_days_at(None) == pytest.approx(730.5)
    assert PatientContext().age_days_at(date(2021, 1, 1)) is None
