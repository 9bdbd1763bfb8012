"""Issue 12 §4 and issue 15 (HL7 reader side): every result under the right patient, and
the source's identities kept: PID-3 with its assigning authority, filler order numbers with
OBX set ids, coding-system names as sent."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import guttests
from guttests import Identifier, Panel
from guttests._cli._context import group_by_patient, patient_key
from guttests._readers.hl7v2 import read_hl7v2
from guttests.testing import panels, to_hl7v2

FIXTURES = Path(__file__).parent / "fixtures" / "hl7v2"
MSH = "MSH|^~\\&|LIS|Regional Reference Lab|EHR|Clinic|20240520140000||ORU^R01|G-1|P|2.5.1"


def test_pid_inside_a_message_starts_a_new_patient() -> None:
    read = guttests.read(FIXTURES / "two_patients_one_message.hl7")
    by_value = [[r.value_text for r in p.results] for p in read]
    assert by_value == [["35"], ["180", "175"], ["Negative"]]
    names = [p.patient.name for p in read]
    assert names == ["Lindqvist, Maja", "Haddad, Omar", "Osei, Kwame"]
    # OBX after a PID and no OBR: not added to the previous patient's order
    assert read[2].patient.patient_id == "555"


def test_assigning_authority_is_part_of_identity() -> None:
    read = guttests.read(FIXTURES / "two_patients_one_message.hl7")
    assert read[0].patient.patient_id == read[1].patient.patient_id == "123"
    assert group_by_patient(read) == [[0], [1], [2]]
    assert patient_key(read[0].patient) != patient_key(read[1].patient)


def test_every_pid3_repetition_is_an_identifier() -> None:
    [first, second, _] = guttests.read(FIXTURES / "two_patients_one_message.hl7")
    assert first.patient.identifiers == (
        Identifier(value="123", assigner="HOSPA", type="MR"),
        Identifier(value="998877", assigner="SSA", type="SS"),
    )
    assert all(i.system is None for i in first.patient.identifiers)  # no URI made up
    assert second.patient.identifiers == (Identifier(value="123", assigner="HOSPB", type="MR"),)


def test_universal_id_as_assigner_when_no_namespace() -> None:
    msg = f"{MSH}\rPID|1||P77^^^&2.16.840.1.113883.3.72&ISO^MR\rOBX|1|NM|x^pH||6.5|||||F\r"
    [panel] = read_hl7v2(msg)
    assert panel.patient.identifiers == (
        Identifier(value="P77", assigner="2.16.840.1.113883.3.72", type="MR"),
    )


def test_results_carry_order_number_and_set_id() -> None:
    read = guttests.read(FIXTURES / "two_patients_one_message.hl7")
    ids = [[r.identifiers for r in p.results] for p in read]
    assert ids[0] == [(Identifier(value="FA-77/1", assigner="REFLAB", type="FILL"),)]
    assert ids[1] == [
        (Identifier(value="FB-12/1", assigner="REFLAB", type="FILL"),),
        (Identifier(value="FB-12/2/1", assigner="REFLAB", type="FILL"),),  # sub-id 1
    ]
    assert ids[2] == [()]  # no order, no identifier made up


def test_placer_number_when_no_filler_number() -> None:
    msg = f"{MSH}\rPID|1||9\rOBR|1|PL-5^CLINIC||x^Panel\rOBX|3|NM|x^pH||6.5|||||F\r"
    [panel] = read_hl7v2(msg)
    assert panel.results[0].identifiers == (
        Identifier(value="PL-5/3", assigner="CLINIC", type="PLAC"),
    )


def test_coding_system_names_kept_as_given() -> None:
    msg = (
        f"{MSH}\rPID|1||9\rOBR|1||F1|x^Panel\r"
        "OBX|1|NM|38445-3^Calprotectin^LN^CALP^Calprotectin, Feces^99zzz||50|ug/g||||F\r"
        "OBX|2|NM|ZON^Zonulin^L||50|ng/mL||||F\r"
    )
    [panel] = read_hl7v2(msg)
    first, second = panel.results
    assert first.code is not None
    assert first.code.system == "LN"
    assert first.code.is_loinc
    assert [c.system for c in first.codes] == ["99zzz"]
    assert second.code is not None
    assert second.code.system == "L"


# --- property: patients out = distinct patient identities in -------------------------------

identities = st.tuples(st.sampled_from(("100", "200", "300")), st.sampled_from(("HOSPA", "HOSPB")))


def _message(
    groups: list[tuple[tuple[str, str], Panel, bool]],
) -> tuple[str, dict[tuple[int, int], tuple[str, str]]]:
    """ORU^R01 text with a PATIENT_RESULT group per item (segments from to_hl7v2), a new
    message before an item when its flag says so, and the identity each OBX was written
    under, by (message number, OBX number in the message)."""
    segments = [MSH]
    owners: dict[tuple[int, int], tuple[str, str]] = {}
    message, k = 1, 0
    for (value, authority), panel, new_message in groups:
        if new_message and len(segments) > 1:
            segments.append(MSH)
            message, k = message + 1, 0
        segments.append(f"PID|1||{value}^^^{authority}^MR")
        for line in to_hl7v2([panel]).split("\r"):
            if line[:3] in ("OBR", "OBX", "SPM", "NTE"):
                segments.append(line)
                if line.startswith("OBX"):
                    k += 1
                    owners[(message, k)] = (value, authority)
    return "\r".join(segments) + "\r", owners


_WHERE = re.compile(r"message (\d+), OBX (\d+)")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(identities, panels(max_results=3), st.booleans()), min_size=1, max_size=6)
)
def test_patients_out_equal_identities_in(
    groups: list[tuple[tuple[str, str], Panel, bool]],
) -> None:
    text, owners = _message(groups)
    read = read_hl7v2(text)
    # nothing lost
    results = [(p, r) for p in read for r in p.results]
    assert len(results) == len(owners)
    # the set of patients out is the set of identities in
    out = {patient_key(p.patient) for p in read}
    assert out == {("id", value, "", authority) for value, authority in owners.values()}
    assert len(group_by_patient(read)) == len(set(owners.values()))
    # each result under the patient it was written under, and under one only
    seen = set()
    for panel, result in results:
        where = _WHERE.search(result.provenance.location)
        assert where is not None
        key = (int(where.group(1)), int(where.group(2)))
        assert key not in seen
        seen.add(key)
        value, authority = owners[key]
        assert patient_key(panel.patient) == ("id", value, "", authority)


# --- real-world kinds that stay not interpretable, with their reasons ----------------------


def test_public_health_observations_keep_clear_reasons() -> None:
    """The kinds of OBX in public reporting messages that carry no lab value guttests can
    place (dates, yes/no answers, places, notes): each kept with its reason."""
    got = [
        (i.result.value_text, i.status, i.reason)
        for p in guttests.read(FIXTURES / "public_health_kinds.hl7")
        for i in guttests.interpret_panel(p)
    ]
    assert len(got) == 10  # nothing lost
    reasons = [r for _, status, r in got if status == "not_interpretable"]
    assert len(reasons) == 10
    assert reasons[0] == "OBX-2 value type 'TS' is not a lab value guttests reads"
    assert reasons[1] == "OBX-2 value type 'DT' is not a lab value guttests reads"
    assert reasons[2] is not None
    assert reasons[2].startswith("code Y (HL70136: Yes) is a yes/no")
    assert reasons[3] == "not a lab value (text 'UNITED STATES')"
    assert reasons[4] == "not a lab value (text 'Not performed')"
    assert reasons[5] == "OBX-2 value type 'FN' is not a lab value guttests reads"
    assert reasons[6] == (
        "analyte 'Illness duration' is not in the catalogue and the lab gave no reference range"
    )
    assert reasons[7] is not None
    assert "the lab gave no reference range" in reasons[7]
    assert reasons[8] == "not a lab value (text 'Exon 7 Absent')"
    assert reasons[9] == "empty value (text '')"
