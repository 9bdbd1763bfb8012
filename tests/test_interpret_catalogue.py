"""The engine with the shipped catalogue: resolution, context, units, caveats, optimal ranges."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests import (
    Age,
    Catalogue,
    Coding,
    InterpretationCode,
    PatientContext,
    Provenance,
    Result,
    Specimen,
    interpret,
    load_optimal,
    parse_range_text,
    parse_value,
)

IC = InterpretationCode
ADULT = PatientContext(sex="female", birth_date=date(1980, 4, 2))
COLLECTED = date(2026, 3, 1)


def stool(
    name: str,
    value: str,
    unit: str | None,
    *,
    code: str | None = None,
    lab_range: str | None = None,
) -> Result:
    return Result(
        name=name,
        code=Coding(system="http://loinc.org", code=code) if code else None,
        value_text=value,
        value=parse_value(value),
        unit=unit,
        lab_range=parse_range_text(lab_range, unit=unit) if lab_range else None,
        specimen=Specimen.STOOL,
        collected=COLLECTED,
        provenance=Provenance(location="line 3"),
    )


@pytest.mark.parametrize(
    ("value", "unit", "flag", "band"),
    [
        ("42", "ug/g", IC.NORMAL, "normal"),
        ("42", "µg/g", IC.NORMAL, "normal"),
        ("42", "mcg/g", IC.NORMAL, "normal"),
        ("42", "mg/kg", IC.NORMAL, "normal"),
        ("88", "ug/g", IC.HIGH, "borderline"),
        ("0.182", "mg/g", IC.HIGH, "abnormal"),
        ("<15", "ug/g", IC.NORMAL, "normal"),
        (">1800", "ug/g", IC.HIGH, "abnormal"),
        ("<100", "ug/g", IC.INDETERMINATE, None),
    ],
)
def test_calprotectin_adult(value: str, unit: str, flag: InterpretationCode, band: str) -> None:
    """Adult calprotectin against the shipped range, in any mass/mass spelling."""
    i = interpret(stool("Calprotectin, Feces", value, unit), ADULT)
    assert i.status == "interpreted", i.reason
    assert (i.flag, i.band) == (flag, band)
    assert i.analyte == "calprotectin"
    assert i.range_origin == "catalogue"
    assert i.range is not None
    assert i.range.source.text
    assert i.caveats, "calprotectin carries its caveats"


def test_resolution_by_loinc() -> None:
    """A LOINC code resolves the analyte whatever the local name."""
    i = interpret(stool("FCAL (local)", "42", "ug/g", code="38445-3"), ADULT)
    assert i.analyte == "calprotectin"


def test_paediatric_range_chosen_by_age() -> None:
    """A 2-year-old's calprotectin is compared with the paediatric limit, not the adult one."""
    child = PatientContext(birth_date=date(2024, 3, 1))
    i = interpret(stool("Calprotectin", "150", "mg/kg"), child)
    assert i.flag is IC.NORMAL
    assert i.range is not None
    assert i.range.applies_to.age_high is not None


def test_missing_age_is_not_guessed() -> None:
    """Calprotectin ranges depend on age: without it the result is not interpretable."""
    i = interpret(stool("Calprotectin", "42", "ug/g"), PatientContext())
    assert i.status == "not_interpretable"
    assert "age at collection" in (i.reason or "")


def test_incompatible_unit() -> None:
    """ng/mL cannot be compared with a mass/mass range: not interpretable, naming both units."""
    i = interpret(stool("Calprotectin", "42", "ng/mL"), ADULT)
    assert i.status == "not_interpretable"
    assert "ng/mL" in (i.reason or "")
    assert "ug/g" in (i.reason or "")


def test_lab_range_preferred() -> None:
    """The lab's own machine-readable range wins over the catalogue (default policy)."""
    i = interpret(stool("Calprotectin", "60", "ug/g", lab_range="<=80"), ADULT)
    assert (i.flag, i.range_origin) == (IC.NORMAL, "lab")


def test_unknown_analyte_with_lab_range() -> None:
    """An analyte unknown to the catalogue is still interpreted against its lab range."""
    i = interpret(stool("Mystery marker", "12", "U/mL", lab_range="0-10"), ADULT)
    assert (i.status, i.flag, i.analyte) == ("interpreted", IC.HIGH, None)


def test_unknown_analyte_without_range_suggests() -> None:
    """An unknown analyte without a range is not interpretable and names close matches."""
    i = interpret(stool("Calprotectine", "12", "ug/g"), ADULT)
    assert i.status == "not_interpretable"
    assert "closest known" in (i.reason or "")


def test_analyte_without_published_range() -> None:
    """An analyte with no shipped range says a lab-reported range is required."""
    i = interpret(stool("Beta-glucuronidase", "1200", "U/mL"), ADULT)
    assert i.status == "not_interpretable"
    assert "range" in (i.reason or "")


def test_elastase_low() -> None:
    """Elastase below 100 falls in the lowest band, flagged low."""
    i = interpret(stool("Pancreatic Elastase 1", "85", "ug/g"), ADULT)
    assert i.flag is IC.LOW


def test_parasite_expected_not_detected() -> None:
    """A parasite reported Detected against the expected 'Not detected'."""
    r = stool("Giardia lamblia", "Detected", None)
    i = interpret(r, ADULT)
    assert i.status == "interpreted", i.reason
    assert i.flag is not None
    assert i.flag.outside_reference


def test_ige_class_from_concentration() -> None:
    """Specific IgE in kUA/L is placed in the class bands."""
    r = Result(
        name="Peanut IgE",
        analyte="food_ige",
        value_text="4.2",
        value=parse_value("4.2"),
        unit="kUA/L",
        specimen=Specimen.SERUM,
        provenance=Provenance(location="line 9"),
    )
    i = interpret(r, ADULT)
    assert i.status == "interpreted", i.reason
    assert i.band is not None
    assert "3" in i.band


def test_optimal_range_is_reported_beside(tmp_path: Path) -> None:
    """A practitioner range is reported beside the reference interpretation, never instead."""
    f = tmp_path / "optimal.toml"
    f.write_text(
        """
format = "guttests-ranges/1"
family = "stool"
category = "optimal"

[[range]]
id = "calprotectin.practice"
analyte = "calprotectin"
unit = "ug/g"
source = { text = "Practice configuration, Dr Example, 2026" }
bands = [
  { label = "within practitioner range", flag = "N", high = 20.0 },
  { label = "above practitioner range", flag = "H", low = 20.0, low_inclusive = false },
]
""",
        encoding="utf-8",
    )
    optimal = load_optimal(f)
    i = interpret(stool("Calprotectin", "42", "ug/g"), ADULT, optimal=optimal)
    assert i.flag is IC.NORMAL
    assert i.optimal is not None
    assert i.optimal.flag is IC.HIGH
    assert i.optimal.range.category.value == "optimal"


def test_catalogue_never_applies_range_outside_its_scope() -> None:
    """No shipped range is ever applied to a sex, age or specimen it does not cover."""
    cat = Catalogue.default()
    for age_years in (0.01, 0.3, 1, 3.5, 10, 40):
        ctx = PatientContext(age=Age(value=age_years, unit="a"), sex="male")
        for analyte in cat.analytes:
            r = Result(
                analyte=analyte.id,
                name=analyte.name,
                value_text="1",
                value=parse_value("1"),
                unit=analyte.unit,
                specimen=analyte.specimen,
                provenance=Provenance(location="x"),
            )
            i = interpret(r, ctx, catalogue=cat)
            if i.range is None or i.range_origin != "catalogue":
                continue
            a = i.range.applies_to
            days = age_years * 365.25
            assert a.specimen in (None, analyte.specimen)
            assert a.sex in (None, "male")
            assert a.age_low is None or days >= a.age_low.days
            assert a.age_high is None or days < a.age_high.days


@given(st.floats(min_value=0, max_value=5000, allow_nan=False))
def test_unit_invariance(x: float) -> None:
    """The same calprotectin quantity in ug/g, mg/kg or mg/g gets the same flag."""
    a = interpret(stool("Calprotectin", repr(x), "ug/g"), ADULT)
    b = interpret(stool("Calprotectin", repr(x), "mg/kg"), ADULT)
    c = interpret(stool("Calprotectin", repr(x / 1000), "mg/g"), ADULT)
    assert a.flag is b.flag
    near_edge = any(abs(x - edge) < 1e-6 * max(edge, 1) for edge in (50.0, 50.1, 120.0, 120.1))
    if not near_edge:
        assert a.flag is c.flag
