"""The FHIR R4 reader: values, ranges, references, grouping, NDJSON streaming and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.observation import Observation as OracleObservation
from hypothesis import given
from hypothesis import strategies as st

from guttests._errors import FHIRError
from guttests._models import Age, Panel, Result
from guttests._readers.fhir import iter_panels, read_fhir
from guttests._types import ResultStatus, Specimen
from guttests._values import CensoredValue, QualitativeValue, QuantityValue

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fhir"
UCUM = "http://unitsofmeasure.org"
SCT = "http://snomed.info/sct"

JSON = dict[str, Any]


# --- helpers ------------------------------------------------------------------------------


def _obs(**fields: Any) -> JSON:
    base: JSON = {"resourceType": "Observation", "id": "o1", "status": "final"}
    base.update(fields)
    return base


def _one(resource: JSON) -> Result:
    panels = read_fhir(json.dumps(resource))
    results = [r for p in panels for r in p.results]
    assert len(results) == 1, results
    return results[0]


def _results(panels: list[Panel]) -> list[Result]:
    return [r for p in panels for r in p.results]


def _read_fixture(name: str) -> list[Panel]:
    with (FIXTURES / name).open(encoding="utf-8") as f:
        return list(iter_panels(f, source=name))


def _documents(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


def _observations(node: Any) -> Iterator[JSON]:
    """Every Observation anywhere in a JSON tree (entries, contained, nested bundles)."""
    if isinstance(node, dict):
        if node.get("resourceType") == "Observation":
            yield node
        for value in node.values():
            yield from _observations(value)
    elif isinstance(node, list):
        for value in node:
            yield from _observations(value)


def _expected_count(obs: JSON) -> int:
    """The counting rule: one own Result unless components replace it, plus one per component."""
    components = obs.get("component") or []
    own = any(k.startswith("value") for k in obs) or "dataAbsentReason" in obs
    return (1 if own or not components else 0) + len(components)


def _oracle_count(path: Path) -> int:
    return sum(_expected_count(o) for doc in _documents(path) for o in _observations(doc))


# --- fixtures -----------------------------------------------------------------------------

ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir())


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_is_valid_fhir(name: str) -> None:
    """Every fixture validates with fhir.resources (R4B), so the tests read real FHIR."""
    for doc in _documents(FIXTURES / name):
        get_fhir_model_class(doc["resourceType"]).model_validate(doc)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_every_observation_is_accounted_for(name: str) -> None:
    """Each Observation (and component) of a fixture yields its Results: nothing dropped."""
    panels = _read_fixture(name)
    assert len(_results(panels)) == _oracle_count(FIXTURES / name)
    for r in _results(panels):
        assert r.provenance.source == name
        assert r.provenance.format == "fhir"
        assert (r.value is None) == (r.value_error is not None)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_values_agree_with_fhir_resources(name: str) -> None:
    """Numbers, comparators and codes agree with the fhir.resources parse of each Observation."""
    own = [r for r in _results(_read_fixture(name)) if "component" not in r.provenance.location]
    for doc in _documents(FIXTURES / name):
        for raw in _observations(doc):
            oracle = OracleObservation.model_validate(raw)
            if oracle.valueQuantity is None or oracle.valueQuantity.value is None:
                continue
            (result,) = [r for r in own if r.provenance.source_id == oracle.id]
            assert result.value is not None
            limit = (
                result.value.limit
                if isinstance(result.value, CensoredValue)
                else result.value.value  # type: ignore[union-attr]
            )
            assert Decimal(str(limit)) == oracle.valueQuantity.value
            assert getattr(result.value, "comparator", None) == oracle.valueQuantity.comparator
            unit = (
                oracle.valueQuantity.code
                if oracle.valueQuantity.system == UCUM
                else oracle.valueQuantity.unit
            )
            assert result.unit == unit
            codes = {c.code for c in result.all_codes()}
            assert codes == {c.code for c in oracle.code.coding or []}


def test_stool_panel_bundle() -> None:
    """A report with contained Observations and Specimen, and a Patient by urn:uuid."""
    (panel,) = _read_fixture("stool-panel-bundle.json")
    assert panel.name == "Comprehensive Stool Analysis"
    assert panel.lab == "Northfield Gut Diagnostics"
    assert panel.patient.patient_id == "GT-204817"
    assert panel.patient.name == "Anna Maria Testperson"
    assert panel.patient.sex == "female"
    assert panel.patient.birth_date == date(1984, 3, 17)
    assert panel.provenance is not None
    assert panel.provenance.location == "entry 2 (DiagnosticReport)"
    by_name = {r.name: r for r in panel.results}

    calpro = by_name["Calprotectin, Feces"]
    assert calpro.code is not None
    assert calpro.code.code == "38445-3"
    assert calpro.code.is_loinc
    assert [c.code for c in calpro.codes] == ["CALPR"]
    assert calpro.value == QuantityValue(text="128", value=128.0)
    assert calpro.unit == "ug/g"
    assert calpro.lab_flags == ("H",)
    assert calpro.lab_range is not None
    assert calpro.lab_range.reference_interval() == (None, 50.0)
    assert calpro.lab_range_text == "<=50"
    assert calpro.specimen is Specimen.STOOL
    assert calpro.specimen_text == "Stool, 3-day collection"
    assert calpro.collected == datetime.fromisoformat("2024-03-11T07:40:00+01:00")
    assert calpro.panel == "Comprehensive Stool Analysis"
    assert calpro.provenance.location == ("entry 2 (DiagnosticReport), contained 2 (Observation)")

    elastase = by_name["Pancreatic Elastase-1, Feces"]
    assert elastase.lab_range is not None
    (normal,) = [b for b in elastase.lab_range.bands if b.flag.value == "N"]
    assert (normal.low, normal.low_inclusive) == (200.0, False)  # ">200" from the text

    assert by_name["Bacteroides fragilis, qPCR"].value.value == 1.2e5  # type: ignore[union-attr]
    assert by_name["Akkermansia muciniphila, qPCR"].value.value == 3.4e6  # type: ignore[union-attr]
    cdiff = by_name["Clostridioides difficile toxin B, PCR"].value
    assert isinstance(cdiff, CensoredValue)
    assert cdiff.detection_limit
    assert by_name["Giardia lamblia, PCR"].value.term == "not_detected"  # type: ignore[union-attr]
    assert by_name["Blastocystis hominis, PCR"].value.term == "detected"  # type: ignore[union-attr]
    assert by_name["Occult Blood, FIT"].value.term == "negative"  # type: ignore[union-attr]
    assert by_name["pH, Feces"].lab_range.unit == "[pH]"  # type: ignore[union-attr]

    lactoferrin = by_name["Lactoferrin, Feces"]
    assert lactoferrin.status is ResultStatus.CANCELLED
    assert lactoferrin.value is None
    assert lactoferrin.value_error == "no value: Specimen leaked in transit"


def test_permeability_searchset() -> None:
    """A searchset with an included Patient (partial birth date) and an OperationOutcome."""
    (panel,) = _read_fixture("permeability-searchset.json")
    assert panel.name is None
    assert panel.patient.patient_id == "NG-88410"
    assert panel.patient.name == "Jonas Beispiel"
    assert panel.patient.sex == "male"
    assert panel.patient.birth_date is None  # "1971-05": no invented day
    by_name = {r.name: r for r in panel.results}
    zonulin = by_name["Zonulin (family peptides), Serum"]
    assert zonulin.unit == "ng/mL"
    assert zonulin.lab_range_text == "<48.0"
    assert zonulin.provenance.location == "entry 1 (Observation)"
    lps = by_name["Lipopolysaccharides IgG"]
    assert lps.value == CensoredValue(text="<0.5", comparator="<", limit=0.5)
    assert lps.unit == "EU/mL"  # no UCUM system: the unit text as given
    ratio = by_name["Lactulose/Mannitol ratio"]
    assert ratio.unit is None
    assert ratio.lab_range is not None
    assert not ratio.lab_range.machine_readable
    assert ratio.lab_range_text == (
        "≤0.08 (0-2 h urine collection) | ≤0.32 (8-24 h urine collection)"
    )


def test_food_igg_ndjson_streaming() -> None:
    """NDJSON: one Panel per Observation line; Patients resolve only when seen before."""
    panels = _read_fixture("food-igg-export.ndjson")
    assert len(panels) == 11  # 8 + 3 Observation lines; the report line has no Observations
    assert all(len(p.results) == 1 for p in panels)
    first = panels[0]
    assert first.patient.patient_id == "FS-301"
    assert first.patient.name == "Lea Muster"
    assert first.results[0].provenance.location == "line 2 (Observation)"
    # fs-302's Patient line comes after its Observations: not resolved, nothing invented
    assert [p.patient.sex for p in panels[8:]] == [None, None, None]
    values = {p.results[0].name: p.results[0].value for p in panels[:8]}
    assert values["Almond IgG"] == QualitativeValue(
        text="+1", term="grade_1", polarity="positive", grade=1
    )
    assert values["Soybean IgG"].term == "very_low"  # type: ignore[union-attr]
    assert values["Oat IgG"].term == "not_detected"  # type: ignore[union-attr]
    assert values["Wheat (gliadin) IgG"] == CensoredValue(text="<2.0", comparator="<", limit=2.0)


def test_ndjson_is_read_one_line_at_a_time() -> None:
    """The first panel of an NDJSON stream is produced before later lines are read."""
    line = json.dumps(_obs(valueQuantity={"value": 1, "unit": "ng/mL"}))
    consumed: list[int] = []

    def lines() -> Iterator[str]:
        for n in range(10_000):
            consumed.append(n)
            yield line + "\n"

    panels = iter_panels(lines())  # type: ignore[arg-type]
    next(panels)
    assert len(consumed) <= 3


@pytest.mark.parametrize(
    ("name", "location", "value_text"),
    [
        ("observation-calprotectin-censored.json", "Observation/calpro-lt10", "<10"),
        ("observation-cdiff-dl.json", "Observation/cdiff-dl", "<dl"),
        ("observation-giardia-detected.json", "Observation/giardia-ag", "Detected"),
    ],
)
def test_single_observations(name: str, location: str, value_text: str) -> None:
    """Single Observation documents: one panel, one result, located by resource."""
    (panel,) = _read_fixture(name)
    (result,) = panel.results
    assert result.provenance.location == "Observation"
    assert f"Observation/{result.provenance.source_id}" == location
    assert result.value_text == value_text
    assert result.value is not None


def test_contained_patient_and_specimen() -> None:
    """``#p1`` and ``#s1`` resolve to the Observation's contained Patient and Specimen."""
    (panel,) = _read_fixture("observation-giardia-detected.json")
    assert panel.patient.sex == "male"
    assert panel.patient.birth_date == date(2015, 9, 14)
    assert panel.patient.patient_id == "PED-5521"
    result = panel.results[0]
    assert result.specimen is Specimen.STOOL
    assert result.specimen_text == "Stool specimen"
    assert result.lab_flags == ("DET",)


def test_components_replace_a_missing_own_value() -> None:
    """An Observation with components and no value yields one Result per component."""
    (panel,) = _read_fixture("observation-scfa-components.json")
    assert [r.provenance.location for r in panel.results] == [
        f"Observation, component {n}" for n in range(1, 5)
    ]
    assert {r.provenance.source_id for r in panel.results} == {"scfa"}
    assert [r.name for r in panel.results] == [
        "Acetate %",
        "Propionate %",
        "n-Butyrate %",
        "Valerate %",
    ]
    assert panel.results[2].lab_flags == ("L",)
    assert panel.results[3].value_error == "no value: Error"
    assert all(r.specimen is Specimen.STOOL for r in panel.results)


def test_components_and_own_value_both_kept() -> None:
    """An Observation with a value of its own and components keeps all of them."""
    obs = _obs(
        valueQuantity={"value": 3},
        component=[{"code": {"text": "a"}, "valueString": "Negative"}],
    )
    results = _results(read_fhir(json.dumps(obs)))
    assert [r.provenance.location for r in results] == [
        "Observation",
        "Observation, component 1",
    ]


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "value_text", "expected", "error", "unit"),
    [
        ({"valueQuantity": {"value": 45.2, "unit": "ng/mL"}}, "45.2", 45.2, None, "ng/mL"),
        (
            {"valueQuantity": {"value": 5, "unit": "mg/kg", "system": UCUM, "code": "mg/kg"}},
            "5",
            5.0,
            None,
            "mg/kg",
        ),
        (
            {"valueQuantity": {"value": 5, "unit": "µg/g", "system": UCUM, "code": "ug/g"}},
            "5",
            5.0,
            None,
            "ug/g",
        ),
        (
            {"valueQuantity": {"value": 122, "unit": "umol/L", "system": SCT, "code": "258814008"}},
            "122",
            122.0,
            None,
            "umol/L",
        ),
        ({"valueQuantity": {"value": 1.2e5}}, "120000.0", 1.2e5, None, None),
        ({"valueInteger": 7}, "7", 7.0, None, None),
        ({"valueString": "1.2e5"}, "1.2e5", 1.2e5, None, None),
        ({"valueString": "3.4 x 10^6"}, "3.4 x 10^6", 3.4e6, None, None),
        (
            {"valueQuantity": {"value": "abc", "unit": "ug/g"}},
            "abc",
            None,
            "valueQuantity.value is not a JSON number (text 'abc')",
            "ug/g",
        ),
        (
            {"valueQuantity": {"value": True}},
            "true",
            None,
            "valueQuantity.value is not a JSON number (text 'true')",
            None,
        ),
        (
            {"valueQuantity": {"unit": "ug/g"}},
            "",
            None,
            "no value: valueQuantity has no value",
            "ug/g",
        ),
        (
            {"valueQuantity": {"value": 5, "comparator": "ad"}},
            "ad5",
            None,
            "comparator 'ad' is not a limit (<, <=, >=, >) (text 'ad5')",
            None,
        ),
        ({"valueString": "Pending"}, "Pending", None, "not a lab value (text 'Pending')", None),
        ({"valueString": 12}, "12", None, "valueString is not a string (text '12')", None),
        ({"valueInteger": 1.5}, "1.5", None, "valueInteger is not an integer (text '1.5')", None),
        (
            {"valueBoolean": True},
            "true",
            None,
            "valueBoolean is not supported as a lab value (text 'true')",
            None,
        ),
        (
            {"valueRange": {"low": {"value": 5}, "high": {"value": 10}}},
            "5-10",
            None,
            "valueRange is not a single value (text '5-10')",
            None,
        ),
        (
            {"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 256}}},
            "1:256",
            None,
            "valueRatio is not a single value (text '1:256')",
            None,
        ),
        (
            {"valueDateTime": "2024-01-02"},
            "2024-01-02",
            None,
            "valueDateTime is a date or time, not a lab value (text '2024-01-02')",
            None,
        ),
        (
            {"dataAbsentReason": {"coding": [{"code": "not-performed"}]}},
            "",
            None,
            "no value: not-performed",
            None,
        ),
        (
            {"valueAttachment": {"url": "x"}},
            '{"url":"x"}',
            None,
            'valueAttachment is not a value type guttests reads (text \'{"url":"x"}\')',
            None,
        ),
        (
            {"valueString": "5", "valueInteger": 5},
            "",
            None,
            "more than one value: valueString, valueInteger",
            None,
        ),
        ({}, "", None, "no value", None),
    ],
)
def test_value_forms(
    fields: JSON, value_text: str, expected: float | None, error: str | None, unit: str | None
) -> None:
    """Each value[x] form becomes a value or a value_error, never an exception."""
    result = _one(_obs(**fields))
    assert result.value_text == value_text
    assert result.value_error == error
    assert result.unit == unit
    if expected is None:
        assert result.value is None
    else:
        assert result.value is not None
        assert result.value.value == expected  # type: ignore[union-attr]


@pytest.mark.parametrize("comparator", ["<", "<=", ">=", ">"])
def test_comparator_makes_a_censored_value(comparator: str) -> None:
    """valueQuantity.comparator gives a CensoredValue with the limit and the text as written."""
    result = _one(_obs(valueQuantity={"value": 60, "comparator": comparator}))
    assert result.value == CensoredValue(text=f"{comparator}60", comparator=comparator, limit=60)


@pytest.mark.parametrize(
    ("concept", "text", "term"),
    [
        (
            {"coding": [{"system": SCT, "code": "260373001", "display": "Detected"}]},
            "Detected",
            "detected",
        ),
        ({"coding": [{"system": SCT, "code": "260415000"}]}, "Not detected", "not_detected"),
        ({"coding": [{"system": SCT, "code": "260385009"}], "text": "NEG"}, "NEG", "negative"),
        ({"coding": [{"system": SCT, "code": "10828004"}], "text": "Pos."}, "Pos.", "positive"),
        ({"text": "None Detected"}, "None Detected", "not_detected"),
        (
            {"coding": [{"system": "http://lab.example", "code": "x", "display": "Few"}]},
            "Few",
            "few",
        ),
        (
            {"coding": [{"system": SCT, "code": "260373001"}], "text": "Giardia seen"},
            "Giardia seen",
            "detected",
        ),
    ],
)
def test_codeable_concept_values(concept: JSON, text: str, term: str) -> None:
    """valueCodeableConcept: SNOMED CT result codes, else the text or display, as a term."""
    result = _one(_obs(valueCodeableConcept=concept))
    assert result.value_text == text
    assert isinstance(result.value, QualitativeValue)
    assert result.value.term == term
    assert result.value.text == text


def test_codeable_concept_contradicting_its_code_is_an_error() -> None:
    """Text 'Not detected' with the SNOMED code for Detected is not resolved by a guess."""
    concept = {"coding": [{"system": SCT, "code": "260373001"}], "text": "Not detected"}
    result = _one(_obs(valueCodeableConcept=concept))
    assert result.value is None
    assert result.value_error is not None
    assert "contradicts" in result.value_error


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("registered", ResultStatus.REGISTERED),
        ("preliminary", ResultStatus.PRELIMINARY),
        ("final", ResultStatus.FINAL),
        ("amended", ResultStatus.AMENDED),
        ("corrected", ResultStatus.CORRECTED),
        ("cancelled", ResultStatus.CANCELLED),
        ("entered-in-error", ResultStatus.ENTERED_IN_ERROR),
        ("unknown", ResultStatus.UNKNOWN),
        ("bogus", ResultStatus.UNKNOWN),
        (None, ResultStatus.UNKNOWN),
        (["final"], ResultStatus.UNKNOWN),
    ],
)
def test_status(status: object, expected: ResultStatus) -> None:
    """Observation.status maps onto ResultStatus; anything else is 'unknown', still emitted."""
    result = _one(_obs(status=status, valueString="5"))
    assert result.status is expected


def test_codes_loinc_first_and_name() -> None:
    """The LOINC coding is the main code wherever it stands; the name is code.text or a display."""
    code = {
        "coding": [
            {"system": "http://lab.example/codes", "code": "CAL", "display": "Calpro"},
            {
                "system": "http://loinc.org",
                "code": "38445-3",
                "display": "Calprotectin [Mass/mass] in Stool",
            },
        ]
    }
    result = _one(_obs(code=code, valueQuantity={"value": 1}))
    assert result.code is not None
    assert result.code.code == "38445-3"
    assert [c.code for c in result.codes] == ["CAL"]
    assert result.name == "Calpro"
    assert _one(_obs(code={**code, "text": "Calprotectin"}, valueString="1")).name == "Calprotectin"


def test_dates() -> None:
    """effectiveDateTime / effectivePeriod.start / effectiveInstant; partial dates are None."""
    assert _one(_obs(effectiveDateTime="2024-03-01", valueString="1")).collected == date(2024, 3, 1)
    assert _one(
        _obs(effectivePeriod={"start": "2024-03-01T08:00:00Z"}, valueString="1")
    ).collected == (datetime.fromisoformat("2024-03-01T08:00:00+00:00"))
    assert _one(_obs(effectiveInstant="2024-03-01T08:00:00.123+02:00", valueString="1")).collected
    for partial in ("2024", "2024-03", "not a date"):
        assert _one(_obs(effectiveDateTime=partial, valueString="1")).collected is None


def test_lab_method_and_specimen_display() -> None:
    """Organization performers are the lab; practitioners are not; method text is kept."""
    result = _one(
        _obs(
            valueString="1",
            performer=[
                {"reference": "Practitioner/x", "display": "Dr A. Person"},
                {"reference": "Organization/y", "display": "Gut Lab GmbH"},
            ],
            method={"text": "ELISA (IDK K5600)"},
            specimen={"display": "Serum"},
        )
    )
    assert result.lab == "Gut Lab GmbH"
    assert result.method == "ELISA (IDK K5600)"
    assert (result.specimen, result.specimen_text) == (Specimen.SERUM, "Serum")
    practitioner_only = _one(
        _obs(valueString="1", performer=[{"reference": "Practitioner/x", "display": "Dr A"}])
    )
    assert practitioner_only.lab is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stool", Specimen.STOOL),
        ("Feces", Specimen.STOOL),
        ("Urine Sample", Specimen.URINE),
        ("30 serum", Specimen.SERUM),
        ("Whole blood", Specimen.BLOOD),
        ("Saliva", Specimen.SALIVA),
        ("Serum or Plasma", None),
        ("Red Top Tube", None),
    ],
)
def test_specimen_mapping(text: str, expected: Specimen | None) -> None:
    """Specimen text maps onto Specimen only when exactly one kind is named; text is kept."""
    result = _one(_obs(valueString="1", specimen={"display": text}))
    assert result.specimen == expected
    assert result.specimen_text == text


# --- reference ranges ---------------------------------------------------------------------


def _range_of(*ranges: JSON, unit: str | None = "ug/g") -> Result:
    quantity: JSON = {"value": 10}
    if unit:
        quantity["unit"] = unit
    return _one(_obs(valueQuantity=quantity, referenceRange=list(ranges)))


def test_structured_bounds_are_inclusive() -> None:
    """low/high are inclusive bounds (FHIR), in their own unit or else the result's."""
    result = _range_of({"low": {"value": 20}, "high": {"value": 48, "unit": "ug/g"}})
    assert result.lab_range is not None
    assert result.lab_range.unit == "ug/g"
    (normal,) = [b for b in result.lab_range.bands if b.flag.value == "N"]
    assert (normal.low, normal.high, normal.low_inclusive, normal.high_inclusive) == (
        20.0,
        48.0,
        True,
        True,
    )
    assert result.lab_range_text is None


def test_text_only_range_is_never_guessed() -> None:
    """A range text that is not machine readable is carried as text, without bands."""
    text = "12-14 y Male: 4.4 - 5.2 ; 12-14 y Female: 4.2 - 4.8"
    result = _range_of({"text": text})
    assert result.lab_range is not None
    assert not result.lab_range.machine_readable
    assert result.lab_range.text == text
    assert result.lab_range_text == text


def test_age_range_becomes_applicability() -> None:
    """age 18-64 a reads as 18 years to <65 years (completed years)."""
    result = _range_of(
        {
            "low": {"value": 2},
            "age": {
                "low": {"value": 18, "system": UCUM, "code": "a"},
                "high": {"value": 64, "unit": "years"},
            },
        }
    )
    assert result.lab_range is not None
    applies = result.lab_range.applies_to
    assert (applies.age_low, applies.age_high) == (Age(value=18, unit="a"), Age(value=65, unit="a"))


def test_ranges_prefer_the_unconditional_one() -> None:
    """Of several ranges, the one without conditions is lab_range; all are in lab_range_text."""
    result = _range_of(
        {
            "high": {"value": 538},
            "age": {
                "low": {"value": 1, "code": "mo", "system": UCUM},
                "high": {"value": 5, "code": "mo", "system": UCUM},
            },
        },
        {"high": {"value": 50}, "text": "<=50"},
    )
    assert result.lab_range is not None
    assert result.lab_range.reference_interval() == (None, 50.0)
    assert result.lab_range.applies_to.age_low is None
    assert result.lab_range_text == "≤538 ug/g (age 1 month to <6 months) | <=50"


def test_ranges_by_sex_keep_the_first_with_its_sex() -> None:
    """Sex-specific ranges: the first is kept with its sex; the others are in the text."""
    female = {"system": SCT, "code": "248152002", "display": "Female"}
    male = {"system": SCT, "code": "248153007", "display": "Male"}
    result = _range_of(
        {"low": {"value": 4.0}, "high": {"value": 4.8}, "appliesTo": [{"coding": [female]}]},
        {"low": {"value": 4.6}, "high": {"value": 5.4}, "appliesTo": [{"coding": [male]}]},
    )
    assert result.lab_range is not None
    assert result.lab_range.applies_to.sex == "female"
    assert result.lab_range_text == "4–4.8 ug/g (female) | 4.6–5.4 ug/g (male)"


@pytest.mark.parametrize(
    "rr",
    [
        {"low": {"value": 60}, "appliesTo": [{"text": "non-black/african-american"}]},
        {"low": {"value": 60}, "type": {"coding": [{"code": "therapeutic"}]}},
        {"low": {"value": 60}, "age": {"low": {"value": 18, "unit": "lunar cycles"}}},
        {"low": {"value": 20}, "high": {"value": 10}},
        {"low": {"value": "twenty"}},
        {"low": {"value": 1, "unit": "ug/g"}, "high": {"value": 5, "unit": "mg/kg"}},
    ],
)
def test_ranges_guttests_cannot_check_are_text_only(rr: JSON) -> None:
    """Conditions guttests cannot check, or bounds that make no interval: text, no bands."""
    result = _range_of(rr)
    assert result.lab_range is not None
    assert not result.lab_range.machine_readable
    assert result.lab_range.text


def test_range_without_any_bound_or_text_is_ignored() -> None:
    """An empty referenceRange element says nothing and gives no range."""
    assert _range_of({}).lab_range is None


# --- references and grouping --------------------------------------------------------------


def _bundle(*resources: JSON, kind: str = "collection") -> str:
    entries = [{"resource": res} for res in resources]
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries})


PATIENT = {"resourceType": "Patient", "id": "123", "gender": "female", "birthDate": "1980-02-03"}


@pytest.mark.parametrize(
    ("reference", "full_url"),
    [
        ("Patient/123", None),
        ("https://fhir.example/r4/Patient/123", None),
        ("Patient/123", "https://fhir.example/r4/Patient/123"),
        (
            "urn:uuid:9d1c2b9e-5c2a-4f1e-8f7e-2a3b4c5d6e7f",
            "urn:uuid:9d1c2b9e-5c2a-4f1e-8f7e-2a3b4c5d6e7f",
        ),
    ],
)
def test_subject_references_resolve(reference: str, full_url: str | None) -> None:
    """Patient/123, absolute URLs and urn:uuid fullUrls resolve to the bundle's Patient."""
    obs = _obs(subject={"reference": reference}, valueString="1")
    entries: list[JSON] = [{"resource": obs}, {"resource": PATIENT}]
    if full_url:
        entries[1]["fullUrl"] = full_url
    doc = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})
    (panel,) = read_fhir(doc)
    assert panel.patient.sex == "female"
    assert panel.patient.birth_date == date(1980, 2, 3)


def test_patient_gender_other_and_unknown_are_none() -> None:
    """Only female/male map onto sex."""
    for gender in ("other", "unknown"):
        obs = _obs(subject={"reference": "Patient/123"}, valueString="1")
        (panel,) = read_fhir(_bundle(obs, {**PATIENT, "gender": gender}))
        assert panel.patient.sex is None


def test_report_results_by_reference_and_has_member() -> None:
    """A report's results are followed through hasMember; groups name their members' panel."""
    group = _obs(id="cbc", code={"text": "CBC"}, hasMember=[{"reference": "Observation/hb"}])
    member = _obs(id="hb", code={"text": "Haemoglobin"}, valueQuantity={"value": 140})
    loose = _obs(id="loose", subject={"reference": "Patient/9"}, valueString="Negative")
    report = {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "code": {"text": "Blood count"},
        "result": [{"reference": "Observation/cbc"}],
    }
    panels = read_fhir(_bundle(member, group, loose, report))
    assert [p.name for p in panels] == [None, "Blood count"]
    loose_panel, report_panel = panels
    assert [r.provenance.location for r in report_panel.results] == [
        "entry 2 (Observation)",
        "entry 1 (Observation)",
    ]
    assert report_panel.results[0].value_error == "no value"
    assert report_panel.results[1].panel == "CBC"
    assert [r.provenance.location for r in loose_panel.results] == ["entry 3 (Observation)"]


def test_has_member_cycles_and_nested_bundles_lose_nothing() -> None:
    """A hasMember cycle is followed once; a Bundle inside a Bundle is read too."""
    a = _obs(id="a", hasMember=[{"reference": "Observation/b"}], valueString="1")
    b = _obs(id="b", hasMember=[{"reference": "Observation/a"}], valueString="2")
    inner = {"resourceType": "Bundle", "id": "in", "type": "collection", "entry": [{"resource": b}]}
    panels = read_fhir(_bundle(a, inner))
    assert sorted(r.provenance.location for r in _results(panels)) == [
        "entry 1 (Observation)",
        "entry 2 (Bundle), entry 1 (Observation)",
    ]


def test_loose_observations_grouped_by_subject_in_order() -> None:
    """Loose Observations of a bundle form one Panel per subject, in input order."""
    a1 = _obs(id="a1", subject={"reference": "Patient/a"}, valueString="1")
    b1 = _obs(id="b1", subject={"reference": "Patient/b"}, valueString="2")
    a2 = _obs(id="a2", subject={"reference": "Patient/a"}, valueString="3")
    panels = read_fhir(_bundle(a1, b1, a2, kind="searchset"))
    assert [[r.value_text for r in p.results] for p in panels] == [["1", "3"], ["2"]]


def test_batch_response_entries_without_resource_are_skipped() -> None:
    """batch-response: resources in entry.resource; entries with only a response skipped."""
    doc = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {"response": {"status": "404 Not Found"}},
            {"resource": _obs(valueString="7"), "response": {"status": "200 OK"}},
            {"resource": {"resourceType": "Medication", "id": "m"}, "response": {"status": "200"}},
        ],
    }
    (panel,) = read_fhir(json.dumps(doc))
    assert panel.results[0].provenance.location == "entry 2 (Observation)"


def test_observation_definitions_in_a_bundle_give_no_panels() -> None:
    """A bundle of ObservationDefinitions holds no observations: no panels, no error."""
    definition = {"resourceType": "ObservationDefinition", "code": {"text": "Calprotectin"}}
    assert read_fhir(_bundle(definition)) == []


def test_pretty_printed_and_one_line_documents_read_alike() -> None:
    """Indentation does not change the result (document vs one-line JSON)."""
    bundle = json.loads(_bundle(_obs(valueString="5"), PATIENT))
    assert read_fhir(json.dumps(bundle, indent=2)) == read_fhir(json.dumps(bundle))


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "location"),
    [
        ('{"resourceType": "Observation",\n  "status": }', "not JSON", "line 2, column 13"),
        ('{"status": "final"}', "not a FHIR resource: no resourceType", "document"),
        ("[1, 2]", "not a FHIR resource: a JSON array", "document"),
        ('{"resourceType": "Medication"}', "Medication is not an observation resource", "document"),
        (
            '{"resourceType": "ObservationDefinition"}',
            "ObservationDefinition is not an observation resource",
            "document",
        ),
        (
            '{"resourceType": "Patient", "id": "x"}',
            "Patient is not an observation resource",
            "document",
        ),
        (
            '{"resourceType": "Bundle", "entry": [{"resource": {"id": 1}}]}',
            "entry resource is not a FHIR resource",
            "entry 1",
        ),
        ('{"resourceType": "Bundle", "entry": {}}', "Bundle.entry is not a list", "Bundle"),
        (
            '{"resourceType": "Observation"}\n{"resourceType": "Observation"}\n{oops\n',
            "not JSON",
            "line 3, column 2",
        ),
        ('{"resourceType": "Observation"}\n["x"]\n', "not a FHIR resource", "line 2"),
        ("\n\n  \n", "empty input", None),
    ],
)
def test_whole_file_errors(text: str, message: str, location: str | None) -> None:
    """Whole-file problems raise FHIRError naming the source and the place."""
    with pytest.raises(FHIRError) as info:
        read_fhir(text, source="in.json")
    err = info.value
    assert message in err.message
    assert err.source == "in.json"
    assert err.location == location
    assert isinstance(err, ValueError)


def test_non_observation_lines_in_ndjson_are_skipped() -> None:
    """NDJSON lines of other resource types are not observations and are skipped."""
    lines = [
        json.dumps({"resourceType": "Medication", "id": "m"}),
        json.dumps(_obs(valueString="5")),
        json.dumps({"resourceType": "Encounter", "id": "e"}),
    ]
    (panel,) = read_fhir("\n".join(lines))
    assert panel.results[0].provenance.location == "line 2 (Observation)"


# --- properties ---------------------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_value_keys = st.sampled_from(
    [
        "valueAttachment",
        "valueTime",
        "valueQuantity",
        "valueString",
        "valueCodeableConcept",
        "valueInteger",
        "valueBoolean",
        "valueRange",
        "valueRatio",
        "dataAbsentReason",
        "referenceRange",
        "interpretation",
        "code",
        "specimen",
        "subject",
        "performer",
        "effectiveDateTime",
        "status",
    ]
)
_component = st.dictionaries(_value_keys, _json, max_size=3)
_observation = st.builds(
    lambda fields, components: {
        "resourceType": "Observation",
        **fields,
        **({"component": components} if components is not None else {}),
    },
    st.dictionaries(_value_keys, _json, max_size=5),
    st.none() | st.lists(_component, max_size=3),
)


@given(st.lists(_observation, min_size=1, max_size=4))
def test_any_observation_shape_is_read_without_exception(observations: list[JSON]) -> None:
    """Malformed fields never raise: every Observation is accounted for by the counting rule."""
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": o} for o in observations],
    }
    panels = read_fhir(json.dumps(doc))
    assert len(_results(panels)) == sum(_expected_count(o) for o in observations)
    for r in _results(panels):
        assert (r.value is None) == (r.value_error is not None)


_number = st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
_unit = st.sampled_from([None, "ug/g", "mg/kg", "%"])
_quantity = st.builds(
    lambda v, u: {"value": v, **({"unit": u} if u else {})}, _number | st.just("x"), _unit
)
_age_unit = st.sampled_from(["a", "mo", "wk", "d", "years", "lunar cycles"])
_reference_range = st.fixed_dictionaries(
    {},
    optional={
        "low": _quantity,
        "high": _quantity,
        "text": st.sampled_from(["20-48", "<107", ">=200", "Negative", "see report", "48-20"]),
        "age": st.fixed_dictionaries(
            {},
            optional={
                "low": st.builds(lambda v, u: {"value": v, "unit": u}, _number, _age_unit),
                "high": st.builds(lambda v, u: {"value": v, "unit": u}, _number, _age_unit),
            },
        ),
        "appliesTo": st.lists(
            st.sampled_from([{"text": "female"}, {"text": "male"}, {"text": "pregnant"}]),
            max_size=2,
        ),
        "type": st.sampled_from([{"coding": [{"code": c}]} for c in ("normal", "treatment")]),
    },
)


@given(st.lists(_reference_range, max_size=3), _unit)
def test_any_reference_ranges_are_read(ranges: list[JSON], unit: str | None) -> None:
    """Any mix of bounds, texts, ages and conditions is read; every range text is kept."""
    quantity: JSON = {"value": 5} | ({"unit": unit} if unit else {})
    result = _one(_obs(valueQuantity=quantity, referenceRange=ranges))
    texts = [rr["text"] for rr in ranges if "text" in rr]
    for text in texts:
        assert result.lab_range_text is not None
        assert text in result.lab_range_text
    if not any(rr for rr in ranges):
        assert result.lab_range is None


@given(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.sampled_from([None, "<", "<=", ">=", ">"]),
)
def test_quantity_value_round_trips(number: float, comparator: str | None) -> None:
    """A valueQuantity number comes back exactly, as a value or a censoring limit."""
    quantity: JSON = {"value": number, "unit": "ug/g"}
    if comparator:
        quantity["comparator"] = comparator
    result = _one(_obs(valueQuantity=quantity))
    if comparator:
        assert isinstance(result.value, CensoredValue)
        assert result.value.limit == number
    else:
        assert isinstance(result.value, QuantityValue)
        assert result.value.value == number


@given(st.lists(st.sampled_from(["obs", "patient", "other", "blank"]), min_size=2, max_size=12))
def test_ndjson_counts(kinds: list[str]) -> None:
    """NDJSON: one Panel per Observation line, whatever else is in between."""
    lines = []
    for n, kind in enumerate(kinds):
        if kind == "obs":
            lines.append(
                json.dumps(_obs(id=f"o{n}", subject={"reference": "Patient/p"}, valueString="1"))
            )
        elif kind == "patient":
            lines.append(json.dumps(PATIENT | {"id": "p"}))
        elif kind == "other":
            lines.append(json.dumps({"resourceType": "Encounter", "id": f"e{n}"}))
        else:
            lines.append("   ")
    text = "\n".join(lines)
    if not text.strip():
        return
    non_blank = [k for k in kinds if k != "blank"]
    if len(non_blank) == 1 and non_blank[0] in ("patient", "other"):
        with pytest.raises(FHIRError):
            read_fhir(text)
        return
    panels = read_fhir(text)
    assert len(panels) == kinds.count("obs")
    seen_patient = False
    for kind in kinds:
        if kind == "patient":
            seen_patient = True
        if kind == "obs":
            panel = panels.pop(0)
            assert (panel.patient.sex == "female") == seen_patient


# --- shared conformance material ----------------------------------------------------------


def _conformance_files() -> list[str]:
    folder = Path(__file__).resolve().parent / "fixtures" / "conformance" / "fhir-r4"
    return sorted(p.name for p in folder.glob("*.json"))


@pytest.mark.parametrize("name", _conformance_files() or ["(absent)"])
def test_conformance_files(conformance: Path, name: str) -> None:
    """Public FHIR examples read without an exception, every Observation accounted for."""
    path = conformance / "fhir-r4" / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc["resourceType"] not in ("Observation", "DiagnosticReport", "Bundle"):
        with pytest.raises(FHIRError, match="not an observation resource"):
            read_fhir(path.read_text(encoding="utf-8"), source=name)
        return
    panels = read_fhir(path.read_text(encoding="utf-8"), source=name)
    assert len(_results(panels)) == _oracle_count(path)


def test_conformance_details(conformance: Path) -> None:
    """Censored eGFR with an age-qualified range, text-only ranges, a non-UCUM unit."""
    folder = conformance / "fhir-r4"

    def read(name: str) -> list[Result]:
        return _results(read_fhir((folder / name).read_text(encoding="utf-8"), source=name))

    blacks, others = read("observation-example-f205-egfr.json")
    assert blacks.value == CensoredValue(text=">60", comparator=">", limit=60)
    assert blacks.unit == "mL/min/{1.73_m2}"
    assert blacks.lab_range is not None
    assert not blacks.lab_range.machine_readable
    assert others.lab_range is not None
    assert others.lab_range.applies_to.age_low == Age(value=18, unit="a")

    (erythrocytes,) = read("observation-example-f004-erythrocyte.json")
    assert erythrocytes.lab_range is not None
    assert not erythrocytes.lab_range.machine_readable
    assert erythrocytes.lab_range_text is not None
    assert "12-14 y Male" in erythrocytes.lab_range_text
    assert erythrocytes.collected == datetime.fromisoformat("2013-04-02T10:30:10+01:00")

    (creatinine,) = read("observation-example-f204-creatinine.json")
    assert creatinine.unit == "umol/L"
    assert creatinine.lab_flags == ("H",)  # the SNOMED interpretation coding is not a flag
    assert creatinine.lab_range is not None
    assert creatinine.lab_range.unit == "umol/L"

    (herd,) = read("observation-example-herd1.json")
    assert herd.lab_range is not None
    assert not herd.lab_range.machine_readable
    assert herd.specimen is Specimen.SERUM

    lipids = read("diagnosticreport-example-lipids.json")
    assert [r.panel for r in lipids] == ["Lipid Panel"] * 4

    ghp = read("diagnosticreport-example-ghp.json")
    assert sum(r.value is not None for r in ghp) == 48  # 3 grouping Observations have no value
    assert read("medplum-docs-observationdefinition-examples.R4.json") == []


@pytest.mark.parametrize("birth", ["1980-02-31", "1980-13-01", "0000-01-01", "1980", "1980-02"])
def test_impossible_or_partial_birth_date_is_unknown(birth: str) -> None:
    """A birthDate that is no calendar day is unknown (None), never an error or a guess.

    Found by the atheris harness (fuzz/atheris_harness.py fhir): 1980-02-31 raised ValueError.
    """
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "birthDate": birth}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "subject": {"reference": "urn:uuid:p"},
                    "valueString": "5",
                }
            },
        ],
    }
    [panel] = read_fhir(json.dumps(bundle))
    assert panel.patient.birth_date is None
