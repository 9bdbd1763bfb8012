"""FHIR output fidelity: identity, coding systems, units, qualitative values, exact decimals,
and a FHIR -> guttests -> FHIR round trip (issue 15). Every bundle rendered here also passes
the suite-wide structural and semantic checks (tests/fhir_checks.py, via conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_checks import loinc_check_digit, semantic_problems, valid_loinc
from guttests import (
    Coding,
    Identifier,
    Panel,
    PatientContext,
    Provenance,
    Result,
    build_report,
    interpret_panels,
    parse_value,
    read,
    render,
)
from guttests.testing import panels as panels_strategy

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MRN = Identifier(value="MRN-0042", assigner="NORTHFIELD", type="MR")
NHS = Identifier(value="943 476 5919", system="https://fhir.nhs.uk/Id/nhs-number")


def _result(
    name: str,
    value: str,
    unit: str | None = None,
    *,
    code: Coding | None = None,
    identifiers: tuple[Identifier, ...] = (),
    source_id: str | None = None,
    fmt: str = "hl7v2",
    line: int = 1,
) -> Result:
    return Result(
        name=name,
        code=code,
        value_text=value,
        value=parse_value(value),
        unit=unit,
        identifiers=identifiers,
        provenance=Provenance(
            source="lab.hl7", location=f"OBX {line}", format=fmt, source_id=source_id
        ),
    )


def _bundle(results: list[Result], **render_kw: Any) -> dict[str, Any]:
    panel = Panel(
        name="GI panel",
        patient=PatientContext(patient_id="MRN-0042", identifiers=(MRN, NHS), sex="female"),
        results=tuple(results),
    )
    rep = build_report([panel], interpret_panels([panel]))
    out: dict[str, Any] = json.loads(render(rep, "fhir", **render_kw))
    return out


def _resources(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == kind]


FILLER = Identifier(value="ORD-778^1", assigner="NGD-LIS", type="FILL")
CALPRO = Coding(system="LN", code="38445-3", display="Calprotectin, Feces")


def test_patient_identifiers_keep_system_or_assigner() -> None:
    """A FHIR identifier keeps its system; an HL7 one keeps assigner and type, no made-up URI."""
    doc = _bundle([_result("Calprotectin", "120", "ug/g", code=CALPRO)])
    (patient,) = _resources(doc, "Patient")
    by_value = {i["value"]: i for i in patient["identifier"]}
    assert by_value["943 476 5919"]["system"] == "https://fhir.nhs.uk/Id/nhs-number"
    mrn = by_value["MRN-0042"]
    assert "system" not in mrn
    assert mrn["assigner"] == {"display": "NORTHFIELD"}
    assert mrn["type"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
        "code": "MR",
        "display": "Medical record number",
    }


def test_configured_authority_gives_the_system() -> None:
    """identifier_systems maps an HL7 assigning authority to its registered system URI."""
    doc = _bundle(
        [_result("Calprotectin", "120", "ug/g", code=CALPRO, identifiers=(FILLER,))],
        identifier_systems={"NORTHFIELD": "https://northfield.example/mrn"},
    )
    (patient,) = _resources(doc, "Patient")
    mrn = next(i for i in patient["identifier"] if i["value"] == "MRN-0042")
    assert mrn["system"] == "https://northfield.example/mrn"
    assert mrn["assigner"] == {"display": "NORTHFIELD"}
    (obs,) = _resources(doc, "Observation")
    assert obs["identifier"] == [
        {
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                        "code": "FILL",
                        "display": "Filler Identifier",
                    }
                ]
            },
            "value": "ORD-778^1",
            "assigner": {"display": "NGD-LIS"},
        }
    ]


def test_a_non_uri_mapping_is_ignored() -> None:
    """A configured 'system' that is not an absolute URI is never written."""
    doc = _bundle(
        [_result("Calprotectin", "120", "ug/g")], identifier_systems={"NORTHFIELD": "MRN"}
    )
    (patient,) = _resources(doc, "Patient")
    mrn = next(i for i in patient["identifier"] if i["value"] == "MRN-0042")
    assert "system" not in mrn


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("LN", "http://loinc.org"),
        ("http://loinc.org", "http://loinc.org"),
        ("SCT", "http://snomed.info/sct"),
        ("SNM", "http://snomed.info/sct"),
        ("2.16.840.1.113883.6.1", "urn:oid:2.16.840.1.113883.6.1"),
        ("L", None),
        ("99NGD", None),
        ("LOCAL-CODES", None),
        (None, None),
    ],
)
def test_coding_systems_map_to_uris_or_none(system: str | None, expected: str | None) -> None:
    """v2 table 0396 names map to URIs; local systems (L, 99zzz) get no system."""
    code = Coding(system=system, code="38445-3", display="Calprotectin")
    doc = _bundle([_result("Calprotectin", "120", "ug/g", code=code)])
    (obs,) = _resources(doc, "Observation")
    (coding,) = obs["code"]["coding"]
    assert coding.get("system") == expected
    assert coding["code"] == "38445-3"


def test_configured_local_coding_system() -> None:
    code = Coding(system="99NGD", code="CALPR")
    panel = Panel(results=(_result("Calprotectin", "120", "ug/g", code=code),))
    rep = build_report([panel], interpret_panels([panel]))
    doc = json.loads(
        render(rep, "fhir", coding_systems={"99NGD": "https://northfield.example/codes"})
    )
    (obs,) = _resources(doc, "Observation")
    assert obs["code"]["coding"][0]["system"] == "https://northfield.example/codes"


def test_observation_ids_derive_from_source_identity() -> None:
    """The same source observation gets the same id whatever its position in the input;
    a FHIR source is named in derivedFrom."""
    a = _result("Calprotectin", "120", "ug/g", identifiers=(FILLER,), line=1)
    b = _result("Elastase", "312", "ug/g", source_id="elastase-0311", fmt="fhir", line=2)
    first = {o["valueQuantity"]["value"]: o for o in _resources(_bundle([a, b]), "Observation")}
    second = {o["valueQuantity"]["value"]: o for o in _resources(_bundle([b, a]), "Observation")}
    assert first[120]["id"] == second[120]["id"]
    assert first[312]["id"] == second[312]["id"]
    assert first[120]["id"] != first[312]["id"]
    assert first[312]["derivedFrom"] == [{"reference": "Observation/elastase-0311"}]
    assert "derivedFrom" not in first[120]


def test_same_identity_twice_gets_unique_ids() -> None:
    a = _result("Calprotectin", "120", "ug/g", identifiers=(FILLER,), line=1)
    b = _result("Calprotectin", "121", "ug/g", identifiers=(FILLER,), line=2)
    ids = [o["id"] for o in _resources(_bundle([a, b]), "Observation")]
    assert len(set(ids)) == 2


def test_output_is_deterministic() -> None:
    rs = [_result("Calprotectin", "120", "ug/g", identifiers=(FILLER,))]
    assert _bundle(rs) == _bundle(rs)


@pytest.mark.parametrize(
    ("unit", "code"),
    [("ug/g", "ug/g"), ("mcg/g", "ug/g"), ("U/mL", "U/mL"), ("EU/mL", None), ("AU/mL", None)],
)
def test_units_under_ucum_only_when_valid(unit: str, code: str | None) -> None:
    """A lab spelling with a UCUM equivalent gets the UCUM code; an assay spelling (EU/mL)
    stays Quantity.unit only."""
    (obs,) = _resources(_bundle([_result("Zonulin", "42", unit)]), "Observation")
    quantity = obs["valueQuantity"]
    assert quantity["unit"] == unit
    assert quantity.get("code") == code
    assert ("system" in quantity) == (code is not None)


@pytest.mark.parametrize(
    ("text", "snomed"),
    [("Detected", "260373001"), ("Not detected", "260415000"), ("NEGATIVE", "260385009")],
)
def test_qualitative_values_are_coded(text: str, snomed: str) -> None:
    (obs,) = _resources(_bundle([_result("Giardia antigen", text)]), "Observation")
    concept = obs["valueCodeableConcept"]
    assert concept["text"] == text
    assert concept["coding"] == [
        {
            "system": "http://snomed.info/sct",
            "code": snomed,
            "display": concept["coding"][0]["display"],
        }
    ]


def test_unknown_qualitative_text_keeps_text_only() -> None:
    (obs,) = _resources(_bundle([_result("Blastocystis", "Rare")]), "Observation")
    assert "coding" not in obs.get("valueCodeableConcept", {})


@pytest.mark.parametrize("text", ["1.50", "0.10", "120", "2.5e3", "-0.0"])
def test_decimals_keep_their_exact_text(text: str) -> None:
    """The number is written as the lab wrote it: 1.50 stays 1.50 (FHIR decimals keep
    precision)."""
    panel = Panel(results=(_result("Zonulin", text, "ng/mL"),))
    out = render(build_report([panel], interpret_panels([panel])), "fhir")
    assert f'"value": {text},' in out or f'"value": {text}\n' in out


def test_deidentified_bundle_has_no_identifiers() -> None:
    a = _result("Calprotectin", "120", "ug/g", identifiers=(FILLER,), source_id="c1", fmt="fhir")
    panel = Panel(patient=PatientContext(patient_id="MRN-0042", identifiers=(MRN,)), results=(a,))
    rep = build_report([panel], interpret_panels([panel]), deidentify=True)
    out = render(rep, "fhir")
    for secret in ("MRN-0042", "ORD-778", "NGD-LIS", "NORTHFIELD", 'c1"'):
        assert secret not in out
    assert '"identifier"' not in out
    assert "derivedFrom" not in out


# --- the semantic checker itself -------------------------------------------------------


def test_checker_rejects_non_uri_systems_and_bad_loinc() -> None:
    doc = {
        "resourceType": "Observation",
        "code": {
            "coding": [
                {"system": "L", "code": "X"},
                {"system": "http://loinc.org", "code": "38445-4"},
            ]
        },
        "valueQuantity": {"value": 1, "system": "http://unitsofmeasure.org", "code": "EU/mL"},
    }
    problems = semantic_problems(doc)
    assert any("not an absolute URI: 'L'" in p for p in problems)
    assert any("LOINC check digit" in p for p in problems)
    assert any("not a valid UCUM code: 'EU/mL'" in p for p in problems)


@pytest.mark.parametrize("code", ["38445-3", "2345-7", "1742-6", "25907-7", "29771-3"])
def test_known_loinc_codes_are_valid(code: str) -> None:
    assert valid_loinc(code)


@given(st.integers(min_value=1, max_value=9_999_999), st.integers(min_value=0, max_value=9))
def test_exactly_one_check_digit_is_valid(number: int, digit: int) -> None:
    """Property: for every LOINC number exactly one check digit validates."""
    assert valid_loinc(f"{number}-{digit}") == (digit == loinc_check_digit(str(number)))


# --- round trip -------------------------------------------------------------------------


def _round_trip(path: Path) -> tuple[list[Result], list[Result]]:
    panels = read(path)
    out = render(build_report(panels, interpret_panels(panels)), "fhir")
    back = read(out, format="fhir")
    return [r for p in panels for r in p.results], [r for p in back for r in p.results]


ROUND_TRIP = sorted((FIXTURES / "fhir").glob("*.json"))


@pytest.mark.parametrize("path", ROUND_TRIP, ids=[p.name for p in ROUND_TRIP])
def test_fhir_round_trip_keeps_codes_values_units_and_ranges(path: Path) -> None:
    """FHIR -> guttests -> FHIR -> guttests: every result comes back with its codes, value,
    unit and the lab's range."""
    before, after = _round_trip(path)
    assert len(after) == len(before)
    for a, b in zip(before, after, strict=True):
        assert [(c.code, c.display) for c in b.all_codes()] == [
            (c.code, c.display) for c in a.all_codes()
        ]
        if a.value is not None and b.value is not None and a.value.kind == "quantity":
            assert b.value.value == a.value.value  # type: ignore[union-attr]
        else:
            assert b.value_text == a.value_text
        assert b.unit == a.unit
        assert b.lab_range_text == a.lab_range_text
        if a.lab_range is not None:
            assert b.lab_range is not None
            assert b.lab_range.describe() == a.lab_range.describe() or a.lab_range_text


@pytest.mark.parametrize("path", ROUND_TRIP, ids=[p.name for p in ROUND_TRIP])
def test_fhir_round_trip_keeps_loinc_systems(path: Path) -> None:
    before, after = _round_trip(path)
    for a, b in zip(before, after, strict=True):
        assert [c.is_loinc for c in b.all_codes()] == [c.is_loinc for c in a.all_codes()]


def test_fhir_round_trip_keeps_identifiers() -> None:
    """FHIR -> guttests -> FHIR keeps the patient's identifiers with their systems and names
    each source Observation in derivedFrom."""
    panels = read(FIXTURES / "fhir" / "stool-panel-bundle.json")
    doc = json.loads(render(build_report(panels, interpret_panels(panels)), "fhir"))
    (patient,) = _resources(doc, "Patient")
    assert {"system": "http://northfield-gut.example/mrn", "value": "GT-204817"} in patient[
        "identifier"
    ]
    sources = [r.provenance.source_id for p in panels for r in p.results]
    assert all(sources)
    derived = [o.get("derivedFrom") for o in _resources(doc, "Observation")]
    assert derived == [[{"reference": f"Observation/{s}"}] for s in sources]
    back = read(json.dumps(doc), format="fhir")
    assert {i.key for i in back[0].patient.identifiers} == {
        i.key for i in panels[0].patient.identifiers
    }


def test_a_code_given_as_loinc_that_is_not_loinc_loses_the_system() -> None:
    """A LOINC code with a wrong check digit (or a name in the LOINC column) is written
    without the LOINC system, and a note says so."""
    bad = Coding(system="LN", code="38445-4", display="Calprotectin")
    (obs,) = _resources(_bundle([_result("Calprotectin", "120", "ug/g", code=bad)]), "Observation")
    assert obs["code"]["coding"] == [{"code": "38445-4", "display": "Calprotectin"}]
    assert any("not a valid LOINC code" in n["text"] for n in obs["note"])


IDENTIFIERS = st.builds(
    Identifier,
    value=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=4, max_size=12),
    system=st.sampled_from([None, "https://hospital.example/fhir/sid/mrn", "urn:oid:1.2.3.4"]),
    assigner=st.sampled_from([None, "HOSPA", "Northfield Lab"]),
    type=st.sampled_from([None, "MR", "FILL", "local type"]),
)


@settings(max_examples=25, deadline=None)
@given(
    panels_strategy(max_results=6),
    st.lists(IDENTIFIERS, max_size=3),
    st.lists(IDENTIFIERS, max_size=2),
    st.booleans(),
)
def test_every_generated_panel_gives_a_faithful_bundle(
    panel: Panel, patient_ids: list[Identifier], result_ids: list[Identifier], deidentify: bool
) -> None:
    """Property: for any panel and identifiers, the bundle validates and passes the semantic
    checks (the suite-wide check), holds one Observation per result with unique ids, keeps
    every identifier with its system or assigner, and a de-identified bundle has none."""
    panel = panel.model_copy(
        update={
            "patient": panel.patient.model_copy(update={"identifiers": tuple(patient_ids)}),
            "results": tuple(
                r.model_copy(update={"identifiers": tuple(result_ids)}) for r in panel.results
            ),
        }
    )
    rep = build_report([panel], interpret_panels([panel]), deidentify=deidentify)
    doc = json.loads(render(rep, "fhir"))
    observations = _resources(doc, "Observation")
    assert len(observations) == len(panel.results)
    assert len({o["id"] for o in observations}) == len(observations)
    written = [i for o in observations for i in o.get("identifier", [])]
    written += [i for p in _resources(doc, "Patient") for i in p.get("identifier", [])]
    if deidentify:
        assert not written
        return
    for ident in [*patient_ids, *result_ids]:
        match = [w for w in written if w.get("value") == ident.value]
        assert match, ident
        assert any(
            w.get("system") == ident.system
            and w.get("assigner", {}).get("display") == ident.assigner
            for w in match
        ), (ident, match)
