"""FHIR: every result under the right patient, and identifiers kept with their system.

An Observation's own ``subject`` wins over its DiagnosticReport's; a report that lists
results of several patients is split into one panel per patient (issue 12 §4).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from guttests._models import Identifier, Panel
from guttests._readers.fhir import read_fhir
from guttests.testing import panels, to_fhir

JSON = dict[str, Any]


def _patient(pid: str, mrn: str, gender: str = "female") -> JSON:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": "urn:oid:1.2.3", "value": mrn}],
        "gender": gender,
    }


def _obs(oid: str, value: str, subject: str | JSON | None = None, **more: Any) -> JSON:
    obs: JSON = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "Calprotectin"},
        "valueString": value,
    }
    if isinstance(subject, str):
        obs["subject"] = {"reference": subject}
    elif subject is not None:
        obs["subject"] = subject
    obs.update(more)
    return obs


def _report(subject: str, *results: str) -> JSON:
    return {
        "resourceType": "DiagnosticReport",
        "id": "rep",
        "status": "final",
        "code": {"text": "Stool panel"},
        "subject": {"reference": subject},
        "result": [{"reference": f"Observation/{r}"} for r in results],
    }


def _bundle(*resources: JSON) -> str:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
        }
    )


def _where(ps: list[Panel]) -> dict[str | None, str | None]:
    """Observation id -> the patient id its result was filed under."""
    return {r.provenance.source_id: p.patient.patient_id for p in ps for r in p.results}


def test_observation_subject_wins_over_its_report() -> None:
    """A report listing another patient's Observation is split: each result under its patient."""
    doc = _bundle(
        _patient("a", "MRN-A"),
        _patient("b", "MRN-B", gender="male"),
        _report("Patient/a", "o1", "o2", "o3"),
        _obs("o1", "50", "Patient/a"),
        _obs("o2", "60", "Patient/b"),
        _obs("o3", "70"),  # no subject: the report's
    )
    ps = read_fhir(doc)
    assert [(p.name, p.patient.patient_id) for p in ps] == [
        ("Stool panel", "MRN-A"),
        ("Stool panel", "MRN-B"),
    ]
    assert _where(ps) == {"o1": "MRN-A", "o2": "MRN-B", "o3": "MRN-A"}
    assert ps[1].patient.sex == "male"
    # both panels name the report's position, never the patient
    assert {p.provenance.location for p in ps if p.provenance} == {"entry 3 (DiagnosticReport)"}


def test_report_of_an_unresolved_patient_keeps_its_own_first() -> None:
    """The report's own patient's panel comes first even when another's result is listed first."""
    doc = _bundle(
        _patient("b", "MRN-B"),
        _report("Patient/a", "o2", "o1"),
        _obs("o1", "50"),
        _obs("o2", "60", "Patient/b"),
    )
    ps = read_fhir(doc)
    assert [p.patient.patient_id for p in ps] == [None, "MRN-B"]
    assert _where(ps) == {"o1": None, "o2": "MRN-B"}


def test_group_members_keep_their_own_subject() -> None:
    """A hasMember member that names another subject is not filed under its group's patient."""
    group = _obs(
        "g",
        "",
        "Patient/a",
        hasMember=[{"reference": "Observation/m1"}, {"reference": "Observation/m2"}],
    )
    del group["valueString"]
    doc = _bundle(
        _patient("a", "MRN-A"),
        _patient("b", "MRN-B"),
        group,
        _obs("m1", "1"),
        _obs("m2", "2", "Patient/b"),
    )
    ps = read_fhir(doc)
    assert _where(ps) == {"g": "MRN-A", "m1": "MRN-A", "m2": "MRN-B"}
    assert len(ps) == 2


def test_logical_subject_identifier_is_an_identity() -> None:
    """A subject given only as an identifier is that patient, with its system kept."""
    ident = {"system": "urn:oid:9.9", "value": "X-1"}
    doc = _bundle(
        _obs("o1", "1", {"identifier": ident}),
        _obs("o2", "2", {"identifier": {**ident, "value": "X-2"}}),
        _obs("o3", "3", {"identifier": ident}),
    )
    ps = read_fhir(doc)
    assert [[r.value_text for r in p.results] for p in ps] == [["1", "3"], ["2"]]
    assert ps[0].patient.identifiers == (Identifier(value="X-1", system="urn:oid:9.9"),)


def test_same_value_under_two_systems_is_two_patients() -> None:
    doc = _bundle(
        _obs(
            "o1",
            "1",
            {"identifier": {"system": "urn:a", "value": "7"}},
        ),
        _obs(
            "o2",
            "2",
            {"identifier": {"system": "urn:b", "value": "7"}},
        ),
    )
    ps = read_fhir(doc)
    assert len(ps) == 2


def test_identifiers_keep_system_assigner_and_type() -> None:
    """Patient.identifier and Observation.identifier are kept as given; Observation.id too."""
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "identifier": [
            {
                "system": "http://hospital.example/mrn",
                "value": "000123",
                "assigner": {"display": "General Hospital"},
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
            },
            {"value": "no-system"},
            {"system": "urn:empty"},  # no value: not an identifier
        ],
    }
    obs = _obs(
        "lab-77",
        "50",
        "Patient/p",
        identifier=[{"system": "http://lab.example/filler", "value": "F-9", "type": {"text": "x"}}],
    )
    (panel,) = read_fhir(_bundle(patient, obs))
    assert panel.patient.patient_id == "000123"
    assert panel.patient.identifiers == (
        Identifier(
            value="000123",
            system="http://hospital.example/mrn",
            assigner="General Hospital",
            type="MR",
        ),
        Identifier(value="no-system"),
    )
    (result,) = panel.results
    assert result.identifiers == (Identifier(value="F-9", system="http://lab.example/filler"),)
    assert result.provenance.source_id == "lab-77"
    assert "lab-77" not in result.provenance.location
    assert "000123" not in result.provenance.describe()


# --- the property: patients in = patients out, no result under two patients --------------


@st.composite
def _reassigned_bundles(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A guttests.testing bundle whose Observations are re-pointed at random patients.

    Returns the bundle and, per Observation id, the identity of the patient it belongs
    to (its own subject when it has one, else its report's).
    """
    ps = draw(st.lists(panels(), min_size=1, max_size=3))
    bundle = json.loads(to_fhir(ps))
    entries = bundle["entry"]
    patient_urls = []
    for n, entry in enumerate(entries):
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            res["identifier"] = [{"system": "urn:test", "value": f"patient-{n}"}]
            patient_urls.append((entry["fullUrl"], f"patient-{n}"))
    identity = dict(patient_urls)
    choices = [*patient_urls, ("logical", "logical-1"), ("logical", "logical-2"), (None, None)]
    report_of: dict[str, str] = {}
    for entry in entries:
        res = entry["resource"]
        if res["resourceType"] == "DiagnosticReport":
            for ref in res.get("result", []):
                report_of[ref["reference"]] = identity[res["subject"]["reference"]]
    owner: dict[str, str] = {}
    for entry in entries:
        res = entry["resource"]
        if res["resourceType"] != "Observation":
            continue
        url, who = draw(st.sampled_from(choices))
        if url is None:
            del res["subject"]
            who = report_of[entry["fullUrl"]]
        elif url == "logical":
            res["subject"] = {"identifier": {"system": "urn:test", "value": who}}
        else:
            res["subject"] = {"reference": url}
        owner[res["id"]] = who
    return json.dumps(bundle), owner


@settings(max_examples=40)
@given(_reassigned_bundles())
def test_patients_out_equal_patients_in(sample: tuple[str, dict[str, str]]) -> None:
    text, owner = sample
    ps = read_fhir(text)
    filed: dict[str, list[str | None]] = {}
    for p in ps:
        who = {i.value for i in p.patient.identifiers}
        assert len(who) <= 1
        for r in p.results:
            assert r.provenance.source_id is not None
            filed.setdefault(r.provenance.source_id, []).append(next(iter(who), None))
    # every Observation once, under its own patient
    assert filed == {k: [v] for k, v in owner.items()}
    # the set of patients out is the set of distinct patient identities in
    out = {i.value for p in ps if p.results for i in p.patient.identifiers}
    assert out == set(owner.values())
