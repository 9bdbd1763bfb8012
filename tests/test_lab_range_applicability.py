"""A lab's own range restricted by sex or age applies only when the patient's context
satisfies it; missing context makes the result not interpretable with a reason (issue 12 §4)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests import interpret, interpret_panel
from guttests._models import Age, Applicability, PatientContext, Provenance, Result
from guttests._range_text import lab_range
from guttests._readers.fhir import read_fhir
from guttests._values import parse_value
from guttests.testing import patient_contexts

UCUM = "http://unitsofmeasure.org"
FEMALE = Applicability(sex="female")
ADULT = Applicability(age_low=Age(value=18, unit="a"))


def _result(applies: Applicability, value: str = "30", name: str = "Ferritin") -> Result:
    rng = lab_range(15, 150, unit="ng/mL", applies_to=applies)
    return Result(
        name=name,
        value_text=value,
        value=parse_value(value),
        unit="ng/mL",
        lab_range=rng,
        collected=date(2024, 5, 1),
        provenance=Provenance(location="OBX 1"),
    )


def test_sex_restricted_lab_range_applies_to_that_sex() -> None:
    i = interpret(_result(FEMALE), PatientContext(sex="female"), catalogue=None)
    assert i.status == "interpreted"
    assert i.range_origin == "lab"


def test_sex_restricted_lab_range_needs_the_sex() -> None:
    i = interpret(_result(FEMALE), PatientContext(), catalogue=None)
    assert i.status == "not_interpretable"
    assert i.reason == (
        "the lab's range '15–150' applies to female, and the input does not give the patient's sex"
    )


def test_sex_restricted_lab_range_other_sex_is_not_used() -> None:
    i = interpret(_result(FEMALE), PatientContext(sex="male"), catalogue=None)
    assert i.status == "not_interpretable"
    assert "applies to female, not to this patient" in (i.reason or "")


@pytest.mark.parametrize(
    ("context", "status", "reason_part"),
    [
        (PatientContext(birth_date=date(1990, 1, 1)), "interpreted", None),
        (PatientContext(birth_date=date(2010, 1, 1)), "not_interpretable", "not to this patient"),
        (PatientContext(age=Age(value=40)), "interpreted", None),
        (PatientContext(), "not_interpretable", "does not give the patient's age at collection"),
    ],
)
def test_age_restricted_lab_range(
    context: PatientContext, status: str, reason_part: str | None
) -> None:
    i = interpret(_result(ADULT), context, catalogue=None)
    assert i.status == status
    if reason_part:
        assert reason_part in (i.reason or "")
        assert "age 18 years and over" in (i.reason or "")


def test_restricted_lab_range_never_quotes_patient_facts() -> None:
    i = interpret(_result(ADULT), PatientContext(birth_date=date(2010, 3, 4)), catalogue=None)
    assert "2010" not in (i.reason or "")


@settings(max_examples=60)
@given(
    context=patient_contexts(),
    sex=st.sampled_from([None, "female", "male"]),
    low=st.sampled_from([None, 0, 1, 18, 65]),
)
def test_lab_range_used_only_when_context_satisfies_it(
    context: PatientContext, sex: Any, low: int | None
) -> None:
    """Interpreted against the lab range exactly when the context meets its conditions."""
    applies = Applicability(sex=sex, age_low=None if low is None else Age(value=low))
    r = _result(applies)
    i = interpret(r, context, catalogue=None)
    days = context.age_days_at(r.collected)
    fits = (sex is None or context.sex == sex) and (
        low is None or (days is not None and days >= Age(value=low).days)
    )
    assert (i.status == "interpreted") == fits
    if not fits:
        assert i.reason
        assert "the lab's range" in i.reason


# --- FHIR: several restricted ranges, the patient's one chosen ---------------------------


def _ferritin_bundle(gender: str | None, birth: str | None) -> str:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p"}
    if gender:
        patient["gender"] = gender
    if birth:
        patient["birthDate"] = birth
    sex = "http://hl7.org/fhir/administrative-gender"
    obs = {
        "resourceType": "Observation",
        "id": "fer",
        "status": "final",
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2024-05-01",
        "code": {"text": "Ferritin"},
        "valueQuantity": {"value": 20, "unit": "ng/mL"},
        "referenceRange": [
            {
                "low": {"value": 30, "unit": "ng/mL"},
                "high": {"value": 400, "unit": "ng/mL"},
                "appliesTo": [{"coding": [{"system": sex, "code": "male"}]}],
                "age": {"low": {"value": 18, "unit": "a", "system": UCUM, "code": "a"}},
            },
            {
                "low": {"value": 13, "unit": "ng/mL"},
                "high": {"value": 150, "unit": "ng/mL"},
                "appliesTo": [{"coding": [{"system": sex, "code": "female"}]}],
                "age": {"low": {"value": 18, "unit": "a", "system": UCUM, "code": "a"}},
            },
        ],
    }
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": patient}, {"resource": obs}],
        }
    )


@pytest.mark.parametrize(
    ("gender", "birth", "status", "flag"),
    [
        ("male", "1980-01-01", "interpreted", "L"),
        ("female", "1980-01-01", "interpreted", "N"),
        ("female", "2015-01-01", "not_interpretable", None),
        ("female", None, "not_interpretable", None),
        (None, "1980-01-01", "not_interpretable", None),
    ],
)
def test_fhir_reader_chooses_the_range_for_the_patient(
    gender: str | None, birth: str | None, status: str, flag: str | None
) -> None:
    (panel,) = read_fhir(_ferritin_bundle(gender, birth))
    (i,) = interpret_panel(panel, catalogue=None)
    assert i.status == status
    if flag:
        assert i.flag.value == flag
        assert i.range_origin == "lab"
    else:
        assert i.reason
        assert "the lab's range" in i.reason
    # every range the lab gave stays visible
    assert panel.results[0].lab_range_text
    assert " | " in panel.results[0].lab_range_text


def test_catalogue_range_used_when_the_lab_range_does_not_apply() -> None:
    """With a catalogue, a lab range for the other sex gives way to the catalogue's, with a note."""
    r = _result(FEMALE, value="30", name="Calprotectin").model_copy(update={"unit": "ug/g"})
    r = r.model_copy(update={"lab_range": lab_range(0, 50, unit="ug/g", applies_to=FEMALE)})
    i = interpret(r, PatientContext(sex="male", age=Age(value=40)), catalogue="default")
    assert i.status == "interpreted"
    assert i.range_origin == "catalogue"
    assert any("applies to female, not to this patient" in n for n in i.notes)
