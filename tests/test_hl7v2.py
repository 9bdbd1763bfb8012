"""Tests of the HL7 v2 ORU^R01 reader (guttests._readers.hl7v2)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import hl7  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests._errors import HL7Error
from guttests._models import Panel, Result
from guttests._readers.hl7v2 import (
    Encoding,
    extract,
    iter_panels,
    parse_timestamp,
    read_hl7v2,
    split_message,
    unescape,
)
from guttests._types import ResultStatus, Specimen
from guttests._values import CensoredValue, OrdinalValue, QualitativeValue, QuantityValue

MSH = r"MSH|^~\&|LIS|Northfield Digestive Lab|EHR|Clinic|20240301120000||ORU^R01|1|P|2.5.1"


def _results(panels: list[Panel]) -> list[Result]:
    return [r for p in panels for r in p.results]


def _obx_lines(text: str) -> int:
    """Oracle: OBX segments counted with a plain line scan."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return sum(1 for line in lines if line.strip(" \t\x0b\x1c").startswith("OBX"))


def _one(obx: str, *, before: str = "") -> Result:
    text = "\r".join(s for s in (MSH, before, "OBR|1|||GI^Stool^L|||20240229", obx) if s)
    [result] = _results(read_hl7v2(text, source="t.hl7"))
    return result


def _read_fixture(fixtures: Path, name: str) -> tuple[str, list[Panel]]:
    path = fixtures / "hl7v2" / name
    text = path.read_bytes().decode("utf-8")
    return text, read_hl7v2(text, source=name)


# --- fixtures ----------------------------------------------------------------------------

FIXTURE_NAMES = [
    "stool_comprehensive.hl7",
    "permeability.hl7",
    "food_igg.hl7",
    "batch_mllp.hl7",
    "crlf.hl7",
    "escapes.hl7",
    "custom_delimiters.hl7",
    "truncated.hl7",
]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_obx_of_a_fixture_is_one_result(fixtures: Path, name: str) -> None:
    """Each fixture reads, and the result count equals the OBX count of a line scan."""
    text, panels = _read_fixture(fixtures, name)
    results = _results(panels)
    assert len(results) == _obx_lines(text) > 0
    assert all(r.provenance.format == "hl7v2" and r.provenance.source == name for r in results)
    assert len({r.provenance.location for r in results}) == len(results)


def test_stool_panel(fixtures: Path) -> None:
    """The comprehensive stool panel keeps every field a report needs."""
    _, [panel] = _read_fixture(fixtures, "stool_comprehensive.hl7")
    assert panel.name == "Comprehensive Stool Analysis"
    assert panel.lab == "Northfield Digestive Lab"
    assert panel.collected == datetime(2024, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=1)))
    assert panel.patient.patient_id == "MRN-448812"
    assert panel.patient.name == "Okafor, Amara N"
    assert panel.patient.sex == "female"
    assert panel.patient.birth_date == date(1986, 4, 12)
    by_name = {r.label: r for r in panel.results}
    calpro = panel.results[0]
    assert calpro.code is not None
    assert calpro.code.system == "LN"  # the coding-system name as sent (issue 15)
    assert calpro.code.is_loinc
    assert calpro.code.code == "38445-3"
    assert calpro.codes[0].code == "CALP"
    assert calpro.codes[0].display == "Calprotectin, Feces"
    assert calpro.value == QuantityValue(text="112.4", value=112.4)
    assert calpro.unit == "ug/g"
    assert calpro.lab_range_text == "<=50.0"
    assert calpro.lab_range is not None
    assert calpro.lab_range.machine_readable
    assert calpro.lab_flags == ("H",)
    assert calpro.method == "Enzyme immunoassay"
    assert calpro.specimen is Specimen.STOOL
    assert calpro.specimen_text == "Stool specimen"
    assert calpro.panel == "Comprehensive Stool Analysis"
    assert calpro.analyte is None
    assert calpro.provenance.location == "message 1, OBX 1 (line 5)"
    elastase = panel.results[1]
    assert isinstance(elastase.value, CensoredValue)
    assert (elastase.value_text, elastase.value.comparator, elastase.value.limit) == (
        ">500",
        ">",
        500,
    )
    assert by_name["Bacteroides fragilis (qPCR)"].value == QuantityValue(text="1.2e5", value=1.2e5)
    cdiff = by_name["Clostridioides difficile toxin A (qPCR)"].value
    assert isinstance(cdiff, CensoredValue)
    assert cdiff.detection_limit
    occult = panel.results[4].value
    assert isinstance(occult, QualitativeValue)
    assert occult.term == "not_detected"
    giardia = by_name["Giardia lamblia (PCR)"]
    assert isinstance(giardia.value, QualitativeValue)
    assert giardia.value.term == "detected"
    assert giardia.lab_flags == ("A",)
    assert by_name["Eosinophil Protein X, Feces"].status is ResultStatus.PRELIMINARY
    comment = by_name["Laboratory comment"]
    assert comment.value is None
    assert comment.value_error is not None
    assert comment.value_text.splitlines() == [
        "Results reviewed by laboratory director.",
        "Specimen received ambient, within stability.",
    ]
    # NTE between OBX 5 and OBX 6 is skipped, and the OBX count goes on.
    assert (
        by_name["Bacteroides fragilis (qPCR)"].provenance.location == "message 1, OBX 6 (line 11)"
    )


def test_permeability_panel(fixtures: Path) -> None:
    """Two orders of one message: serum and urine, lab taken from OBX-23 when MSH-4 is empty."""
    _, panels = _read_fixture(fixtures, "permeability.hl7")
    zonulin_panel, sugar_panel = panels
    assert [p.name for p in panels] == [
        "Zonulin, Serum",
        "Lactulose/Mannitol Intestinal Permeability",
    ]
    assert zonulin_panel.patient.birth_date is None  # "1974-03-02" is not an HL7 date
    assert zonulin_panel.patient.sex == "male"
    [zonulin] = zonulin_panel.results
    assert zonulin.specimen is Specimen.SERUM
    assert zonulin.lab == "Meridian Reference Laboratory" == zonulin_panel.lab
    assert zonulin.method == "ELISA (IDK K5601)"
    assert zonulin.unit == "ng/mL"
    assert {r.specimen for r in sugar_panel.results} == {Specimen.URINE}
    ratio = sugar_panel.results[2]
    assert ratio.unit is None
    assert ratio.value == QuantityValue(text="0.029", value=0.029)
    # OBX-14 overrides OBR-7 for the result
    assert sugar_panel.collected == datetime(2024, 3, 7, 7, 0)
    assert ratio.collected == datetime(2024, 3, 7, 13, 0)
    assert next(r.provenance.location for r in sugar_panel.results) == "message 1, OBX 2 (line 7)"
    assert sugar_panel.provenance is not None
    assert sugar_panel.provenance.location == "message 1, OBR 2 (line 6)"


def test_food_igg_panel(fixtures: Path) -> None:
    """Classes, grades, scores and censored SN values of a food IgG panel; OBX-11 X is cancelled."""
    _, [panel] = _read_fixture(fixtures, "food_igg.hl7")
    values = [r.value for r in panel.results]
    assert values[1] == OrdinalValue(text="Class 3", scale="class", value=3)
    assert isinstance(values[3], QualitativeValue)
    assert values[3].term == "grade_2"
    assert isinstance(values[6], QualitativeValue)
    assert values[6].term == "very_low"
    soy = values[7]
    assert isinstance(soy, CensoredValue)
    assert (soy.comparator, soy.limit) == ("<", 0.15)
    assert values[8] == OrdinalValue(text="score 14", scale="score", value=14)
    rice = panel.results[9]
    assert rice.status is ResultStatus.CANCELLED
    assert rice.value is None
    assert rice.value_error == "result cannot be obtained (OBX-11 X)"


def test_batch_with_mllp_framing(fixtures: Path) -> None:
    """FHS/BHS envelopes and MLLP bytes around three messages give three panels."""
    _, panels = _read_fixture(fixtures, "batch_mllp.hl7")
    assert [p.patient.patient_id for p in panels] == ["MRN-100201", "MRN-100202", "MRN-100203"]
    assert [p.patient.sex for p in panels] == ["male", "female", "female"]
    locations = [r.provenance.location for r in _results(panels)]
    assert locations[2:4] == ["message 2, OBX 1 (line 13)", "message 2, OBX 2 (line 14)"]
    second = panels[1].results[0].value
    assert isinstance(second, CensoredValue)
    assert second.limit == 10


def test_crlf_separators(fixtures: Path) -> None:
    """\\r\\n counts as one line break; OBX-11 C is corrected."""
    _, [panel] = _read_fixture(fixtures, "crlf.hl7")
    assert [r.provenance.location for r in panel.results] == [
        "message 1, OBX 1 (line 4)",
        "message 1, OBX 2 (line 5)",
    ]
    assert panel.results[1].status is ResultStatus.CORRECTED
    assert panel.results[0].unit == "mg/kg"


def test_escape_sequences(fixtures: Path) -> None:
    """Escapes are undone in names, units, ranges and text; SN ranges and ratios are errors."""
    _, [panel] = _read_fixture(fixtures, "escapes.hl7")
    assert panel.lab == "Kaleva Lab & Diagnostics"
    assert panel.name == "Short chain fatty acids & pH"
    assert panel.patient.name == "O^Brien, Maeve"
    calpro, parasites, note, titre, siga, literal = panel.results
    assert calpro.name == "Calprotectin|Feces"
    assert calpro.unit == "µg/g"
    assert calpro.lab_range_text == "≤50.0"
    assert parasites.name == "Ova & parasites"
    assert note.value_text == (
        "Calprotectin above the lab's range.\nRepeat at the lab's discretion.\nReviewed."
    )
    assert titre.value is None
    assert titre.value_error == "structured numeric ratio 1:256 is not a single value"
    assert siga.value is None
    assert siga.value_text == "100-200"
    assert siga.value_error == "structured numeric range 100-200 is not a single value"
    assert literal.value_text == "\\ and bold and \\Z01\\"


def test_custom_delimiters(fixtures: Path) -> None:
    """A message declaring MSH*%$@! is read with its own delimiters."""
    _, [panel] = _read_fixture(fixtures, "custom_delimiters.hl7")
    assert panel.name == "Zonulin, Serum"
    assert panel.patient.patient_id == "MRL-9001"
    zonulin, note, elastase = panel.results
    assert zonulin.value == QuantityValue(text="39.5", value=39.5)
    assert zonulin.specimen is Specimen.SERUM
    assert note.value_text == "haemolysed* mild! slight"
    assert elastase.lab_flags == ("N", "A")


def test_truncated_message_reads_what_is_there(fixtures: Path) -> None:
    """A file cut inside an OBX still gives that OBX as a result."""
    _, [panel] = _read_fixture(fixtures, "truncated.hl7")
    last = panel.results[-1]
    assert last.value == QuantityValue(text="28", value=28.0)
    assert last.unit is None
    assert last.status is ResultStatus.UNKNOWN


# --- tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obx", "value_text", "value", "error"),
    [
        (
            "OBX|1|SN|X^x^L||<^10|ug/g",
            "<10",
            CensoredValue(text="<10", comparator="<", limit=10),
            None,
        ),
        (
            "OBX|1|SN|X^x^L||>^100",
            ">100",
            CensoredValue(text=">100", comparator=">", limit=100),
            None,
        ),
        ("OBX|1|SN|X^x^L||<=^5", "<=5", CensoredValue(text="<=5", comparator="<=", limit=5), None),
        ("OBX|1|SN|X^x^L||^100", "100", QuantityValue(text="100", value=100), None),
        ("OBX|1|SN|X^x^L||=^7.5", "7.5", QuantityValue(text="7.5", value=7.5), None),
        (
            "OBX|1|SN|X^x^L||>200",
            ">200",
            CensoredValue(text=">200", comparator=">", limit=200),
            None,
        ),
        (
            "OBX|1|SN|X^x^L||^2^+",
            "2+",
            QualitativeValue(text="2+", term="grade_2", polarity="positive", grade=2),
            None,
        ),
        (
            "OBX|1|SN|X^x^L||^100^-^200",
            "100-200",
            None,
            "structured numeric range 100-200 is not a single value",
        ),
        (
            "OBX|1|SN|X^x^L||1^:^256",
            "1:256",
            None,
            "structured numeric ratio 1:256 is not a single value",
        ),
        (
            "OBX|1|SN|X^x^L||1^/^8",
            "1/8",
            None,
            "structured numeric ratio 1/8 is not a single value",
        ),
        (
            "OBX|1|SN|X^x^L||<>^5",
            "<>5",
            None,
            "structured numeric comparator '<>' is not a single value",
        ),
        ("OBX|1|NM|X^x^L||1.2e5", "1.2e5", QuantityValue(text="1.2e5", value=1.2e5), None),
        ("OBX|1|NM|X^x^L||5~6", "5; 6", None, "OBX-5 holds 2 repetitions, not a single value"),
        ("OBX|1|NM|X^x^L||", "", None, "empty value (text '')"),
        ("OBX|1|NM|X^x^L||abc", "abc", None, "not a lab value (text 'abc')"),
        (
            "OBX|1|ST|X^x^L||Negative",
            "Negative",
            QualitativeValue(text="Negative", term="negative", polarity="negative", grade=0),
            None,
        ),
        (
            "OBX|1|CE|X^x^L||260373001^Detected^SCT",
            "Detected",
            QualitativeValue(text="Detected", term="detected", polarity="positive"),
            None,
        ),
        (
            "OBX|1|CWE|X^x^L||NEG^^L",
            "NEG",
            QualitativeValue(text="NEG", term="negative", polarity="negative", grade=0),
            None,
        ),
        (
            "OBX|1|CWE|X^x^L||^^^^Few",
            "Few",
            QualitativeValue(text="Few", term="few", polarity="positive", grade=2),
            None,
        ),
        (
            "OBX|1|TX|X^x^L||Rare~",
            "Rare\n",
            QualitativeValue(text="Rare\n", term="rare", polarity="positive", grade=1),
            None,
        ),
        (
            "OBX|1|DT|X^x^L||20240101",
            "20240101",
            None,
            "OBX-2 value type 'DT' is not a lab value guttests reads",
        ),
        ("OBX|1||X^x^L||45.2", "45.2", QuantityValue(text="45.2", value=45.2), None),
    ],
)
def test_obx_values(obx: str, value_text: str, value: object, error: str | None) -> None:
    """OBX-5 is read according to OBX-2; what is not a single value keeps its reason."""
    result = _one(obx)
    assert (result.value_text, result.value, result.value_error) == (value_text, value, error)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("F", ResultStatus.FINAL, None),
        ("f", ResultStatus.FINAL, None),
        ("P", ResultStatus.PRELIMINARY, None),
        ("C", ResultStatus.CORRECTED, None),
        ("A", ResultStatus.AMENDED, None),
        ("R", ResultStatus.PRELIMINARY, None),
        ("S", ResultStatus.PRELIMINARY, None),
        ("I", ResultStatus.REGISTERED, None),
        ("D", ResultStatus.ENTERED_IN_ERROR, None),
        ("W", ResultStatus.ENTERED_IN_ERROR, None),
        ("X", ResultStatus.CANCELLED, "result cannot be obtained (OBX-11 X)"),
        ("N", ResultStatus.CANCELLED, "observation was not sought (OBX-11 N)"),
        ("", ResultStatus.UNKNOWN, None),
        ("Q", ResultStatus.UNKNOWN, None),
    ],
)
def test_status_mapping(code: str, status: ResultStatus, error: str | None) -> None:
    """OBX-11 maps onto ResultStatus; X and N keep the fact in value_error."""
    result = _one(f"OBX|1|NM|X^x^L||12|ug/g|||||{code}")
    assert (result.status, result.value_error) == (status, error)
    assert result.value_text == "12"


@pytest.mark.parametrize(
    ("spm4", "specimen", "text"),
    [
        ("119339001^Stool specimen^SCT", Specimen.STOOL, "Stool specimen"),
        ("STL^Stool^HL70487", Specimen.STOOL, "Stool"),
        ("^Faeces", Specimen.STOOL, "Faeces"),
        ("SER^Serum^HL70487", Specimen.SERUM, "Serum"),
        ("PLAS^Plasma^HL70487", Specimen.PLASMA, "Plasma"),
        (
            "122555007^Venous blood specimen^SCT^BLDV^Blood venous^HL70070",
            Specimen.BLOOD,
            "Venous blood specimen",
        ),
        ("UR^Urine^HL70487", Specimen.URINE, "Urine"),
        ("SAL^Saliva", Specimen.SALIVA, "Saliva"),
        ("SER^Serum or plasma", None, "Serum or plasma"),
        ("TISS^Tissue^HL70487", None, "Tissue"),
        ("XYZ", None, "XYZ"),
    ],
)
def test_specimen_mapping(spm4: str, specimen: Specimen | None, text: str) -> None:
    """SPM-4 maps onto Specimen only when one kind is named; the text is kept as given."""
    text_in = "\r".join([MSH, "OBR|1|||GI^Stool^L", "OBX|1|NM|X^x^L||5", f"SPM|1|||{spm4}"])
    [result] = _results(read_hl7v2(text_in))
    assert (result.specimen, result.specimen_text) == (specimen, text)


@pytest.mark.parametrize(
    ("pid8", "sex"),
    [
        ("F", "female"),
        ("f", "female"),
        ("W", "female"),
        ("female", "female"),
        ("M", "male"),
        ("male", "male"),
        ("U", None),
        ("O", None),
        ("A", None),
        ("", None),
    ],
)
def test_sex_mapping(pid8: str, sex: str | None) -> None:
    """PID-8 F/W/female is female, M/male is male, anything else unknown."""
    text = "\r".join([MSH, f"PID|1||P1||Doe^Jo||19800101|{pid8}", "OBX|1|NM|X^x^L||5"])
    [panel] = read_hl7v2(text)
    assert panel.patient.sex == sex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240229", date(2024, 2, 29)),
        ("2024022913", datetime(2024, 2, 29, 13)),
        ("202402291305", datetime(2024, 2, 29, 13, 5)),
        ("20240229130507", datetime(2024, 2, 29, 13, 5, 7)),
        ("20240229130507.25", datetime(2024, 2, 29, 13, 5, 7, 250000)),
        ("20240229130507.1234", datetime(2024, 2, 29, 13, 5, 7, 123400)),
        ("200808151030-0700", datetime(2008, 8, 15, 10, 30, tzinfo=timezone(-timedelta(hours=7)))),
        (
            "20240301073000+0530",
            datetime(2024, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        ("20240301+0100", date(2024, 3, 1)),
        ("2024", None),
        ("202403", None),
        ("20240230", None),
        ("20241301", None),
        ("2024010125", None),
        ("196203520", None),
        ("1974-03-02", None),
        ("", None),
        ("2024030112000+0100", None),
        ("20240301120000+2400", None),
    ],
)
def test_parse_timestamp(text: str, expected: date | datetime | None) -> None:
    """HL7 TS values; malformed or coarser-than-a-day ones are None."""
    assert parse_timestamp(text) == expected


def test_malformed_dates_never_crash() -> None:
    """A malformed OBX-14 gives collected None; a malformed PID-7 gives birth_date None."""
    text = "\r".join(
        [
            MSH,
            "PID|1||P1||Doe^Jo||19801345|F",
            "OBR|1|||GI^Stool|||20240229",
            "OBX|1|NM|X^x^L||5||||||F|||2024022",
            "OBX|2|NM|X^x^L||5||||||F|||202402281000^M",
        ]
    )
    [panel] = read_hl7v2(text)
    assert panel.patient.birth_date is None
    assert [r.collected for r in panel.results] == [None, datetime(2024, 2, 28, 10, 0)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("a\\F\\b", "a|b"),
        ("a\\S\\b\\T\\c\\R\\d\\E\\e", "a^b&c~d\\e"),
        ("line1\\.br\\line2", "line1\nline2"),
        ("\\X41\\\\X4243\\", "ABC"),
        ("\\XC2B5\\g/g", "µg/g"),
        ("\\XB5\\g", "µg"),
        ("\\H\\bold\\N\\ ", "bold "),
        ("\\Zlocal\\ kept", "\\Zlocal\\ kept"),
        ("\\XZZ\\ bad hex", "\\XZZ\\ bad hex"),
        ("dangling\\", "dangling\\"),
        ("a\\F\\b\\unterminated", "a|b\\unterminated"),
    ],
)
def test_unescape(raw: str, expected: str) -> None:
    """Escape sequences are undone; unknown or broken ones are kept as written."""
    assert unescape(raw) == expected


# --- whole-file errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "location"),
    [
        ("", "empty input", "start of input"),
        ("  \r\n\n\x0b\x1c\r", "empty input", "start of input"),
        ("PID|1||P1\rOBX|1|NM|X||5", "does not start with an MSH", "line 1"),
        ("\nHello, world\n", "does not start with an MSH", "line 2"),
        ("MSH|^~", "too short", "message 1, line 1"),
        ("MSH|^~\\&\rOBX|1\rob x|2", "invalid segment id", "line 3"),
        ("MSH|^~\\&\rOBX|1\rOBXX|2", "not followed by the field separator", "line 3"),
        ("MSH|^~\\&\rOBX|1\rBTS|1\rOBX|2", "outside a message", "line 4"),
        ("MSH|^^\\&|A", "must all differ", "message 1, line 1"),
        ("MSH|^~\\A|A", "cannot be letters", "message 1, line 1"),
        ("MSH|^~\\&x!|A", "must hold 4 encoding characters", "message 1, line 1"),
        ("BHS|^~", "too short", "line 1"),
    ],
)
def test_whole_file_errors(text: str, message: str, location: str) -> None:
    """Input that is not HL7 v2 raises HL7Error naming the source and where."""
    with pytest.raises(HL7Error, match=message) as info:
        read_hl7v2(text, source="bad.hl7")
    assert info.value.source == "bad.hl7"
    assert info.value.location == location


def test_error_text_never_carries_patient_data() -> None:
    """An error on a PID line shows the segment id only, not the name in it."""
    with pytest.raises(HL7Error) as info:
        read_hl7v2("PID|1||P1||Secretname^Jo\r", source="x.hl7")
    assert "Secretname" not in str(info.value)


# --- message structure -------------------------------------------------------------------


def test_obx_before_any_obr_and_non_oru_messages() -> None:
    """OBX before OBR form an unnamed panel; an ADT adds nothing; OBX of other types count."""
    text = "\r".join(
        [
            r"MSH|^~\&|A|Lab A|||20240101||ADT^A01|1|P|2.5",
            "PID|1||P1||Doe^Jo||19800101|F",
            r"MSH|^~\&|A|Lab A|||20240101||ORU^R01|2|P|2.5",
            "OBX|1|NM|X^x^L||1",
            "OBR|1|||GI^Stool|||20240102",
            "OBX|2|NM|X^x^L||2",
            r"MSH|^~\&|A|Lab A|||20240101||ORU^R30|3|P|2.5",
            "OBX|1|NM|Y^y^L||3",
        ]
    )
    panels = read_hl7v2(text)
    assert [(p.name, len(p.results)) for p in panels] == [(None, 1), ("Stool", 1), (None, 1)]
    assert [r.provenance.location for r in _results(panels)] == [
        "message 2, OBX 1 (line 4)",
        "message 2, OBX 2 (line 6)",
        "message 3, OBX 1 (line 8)",
    ]


def test_batch_in_one_delimiter_set_wrapping_messages_in_another() -> None:
    """Each MSH declares its own delimiters; envelope trailers are read in theirs."""
    text = "\n".join(
        [
            "BHS|^~\\&|LIS",
            "MSH*%$@!*LIS*Lab A",
            "OBX*1*NM*X%x**5",
            "MSH|^~\\&|LIS|Lab B",
            "OBX|1|NM|X^x||6",
            "BTS|2",
        ]
    )
    panels = read_hl7v2(text)
    assert [(p.lab, p.results[0].value_text) for p in panels] == [("Lab A", "5"), ("Lab B", "6")]


def test_each_pid_starts_a_new_patient_context() -> None:
    """A message with two PATIENT_RESULT groups keeps each patient with its own orders."""
    text = "\r".join(
        [
            MSH,
            "PID|1||P1||A^A||19800101|F",
            "OBR|1|||GI^Stool",
            "OBX|1|NM|X^x||1",
            "PID|2||P2||B^B||19900101|M",
            "OBR|2|||GI^Stool",
            "OBX|1|NM|X^x||2",
        ]
    )
    panels = read_hl7v2(text)
    assert [p.patient.patient_id for p in panels] == ["P1", "P2"]


def test_lab_from_obx15_and_panel_lab_when_labs_differ() -> None:
    """Without MSH-4, OBX-23 then OBX-15 name the lab; a panel of two labs names none."""
    text = "\r".join(
        [
            r"MSH|^~\&|LIS||||20240101||ORU^R01|1|P|2.5",
            "OBR|1|||GI^Stool",
            "OBX|1|NM|X^x||1||||||F||||LABX^Lab X^L",
            "OBX|2|NM|X^x||1||||||F||||LABX^Lab X^L||||||||Lab Y^L",
        ]
    )
    [panel] = read_hl7v2(text)
    assert [r.lab for r in panel.results] == ["Lab X", "Lab Y"]
    assert panel.lab is None


def test_stream_is_read_in_chunks(monkeypatch: pytest.MonkeyPatch, fixtures: Path) -> None:
    """Tiny chunks (splitting \\r\\n pairs and segments) give the same panels as one read."""
    import guttests._readers.hl7v2 as mod

    for name in ("crlf.hl7", "batch_mllp.hl7", "permeability.hl7"):
        text, expected = _read_fixture(fixtures, name)
        for size in (1, 2, 3, 7):
            monkeypatch.setattr(mod, "_CHUNK", size)
            got = list(iter_panels(io.StringIO(text, newline=""), source=name))
            assert got == expected, (name, size)


# --- the tokenizer against python-hl7 ----------------------------------------------------

_DELIMS = "|^~\\&*%$@!#+=:;/?,_"
_TEXT = st.text(alphabet="abcXYZ019 .-", max_size=6)
_ESCAPES = st.sampled_from(["F", "S", "T", "R", "E", ".br", "X41", "X4243", "X7A"])


_Leaf = list[str | tuple[str]]
"""Tokens of one leaf value: text, or a 1-tuple holding an escape code."""
_Field = list[list[list[_Leaf]]]
"""repetitions > components > subcomponents > leaf"""
_Case = tuple[Encoding, str, list[list[_Field]]]


@st.composite
def _message(draw: st.DrawFn) -> _Case:
    chars = draw(st.permutations(_DELIMS).map(lambda p: "".join(p[:5])))
    enc = Encoding(chars[0], chars[1], chars[2], chars[3], chars[4])
    leaf = st.lists(st.one_of(_TEXT, _ESCAPES.map(lambda e: (e,))), max_size=3)
    subs = st.lists(leaf, min_size=1, max_size=2)
    comps = st.lists(subs, min_size=1, max_size=3)
    reps = st.lists(comps, min_size=1, max_size=3)
    fields = st.lists(reps, min_size=1, max_size=7)
    segments = draw(
        st.lists(st.tuples(st.sampled_from(["PID", "OBR", "OBX", "ZX1"]), fields), max_size=4)
    )
    msh_fields = draw(st.lists(reps, max_size=4))
    lines = []
    structure = []
    for sid, flds in [("MSH", msh_fields), *segments]:
        encoded = [_encode_field(f, enc) for f in flds] + ["END"]
        if sid == "MSH":
            lines.append("MSH" + enc.field + chars[1:] + enc.field + enc.field.join(encoded))
        else:
            lines.append(enc.field.join([sid, *encoded]))
        structure.append(flds)
    return enc, "\r".join(lines), structure


def _encode_leaf(tokens: _Leaf, enc: Encoding) -> str:
    return "".join(t if isinstance(t, str) else enc.escape + t[0] + enc.escape for t in tokens)


def _expected_leaf(tokens: _Leaf, enc: Encoding) -> str:
    decoded = {"F": enc.field, "S": enc.component, "T": enc.subcomponent, "R": enc.repetition}
    decoded |= {"E": enc.escape, ".br": "\n", "X41": "A", "X4243": "BC", "X7A": "z"}
    return "".join(t if isinstance(t, str) else decoded[t[0]] for t in tokens)


def _encode_field(reps: _Field, enc: Encoding) -> str:
    sub, comp = enc.subcomponent, enc.component
    return enc.repetition.join(
        comp.join(sub.join(_encode_leaf(s, enc) for s in c) for c in rep) for rep in reps
    )


@given(_message())
def test_tokenizer_agrees_with_python_hl7(case: _Case) -> None:
    """split_message/extract give what python-hl7's accessors give, for any delimiters."""
    enc, text, structure = case
    got_enc, segments = split_message(text)
    assert got_enc == enc
    theirs = hl7.parse(text)
    assert len(theirs) == len(segments) == len(structure)
    for i, (seg, fields) in enumerate(zip(segments, structure, strict=True)):
        h = theirs[i]
        assert seg[0] == str(h[0])
        offset = 3 if seg[0] == "MSH" else 1
        if seg[0] == "MSH":
            assert extract(seg, enc, 1) == h.extract_field(1, 1) == enc.field
            assert extract(seg, enc, 2) == h.extract_field(1, 2)
        for f, reps in enumerate(fields, offset):
            for r, comps in enumerate(reps, 1):
                for c, subs in enumerate(comps, 1):
                    for s, tokens in enumerate(subs, 1):
                        mine = extract(seg, enc, f, r, c, s)
                        assert mine == _expected_leaf(tokens, enc)
                        # python-hl7 renders \.br\ as \r; guttests as a line break
                        assert mine == h.extract_field(1, f, r, c, s).replace("\r", "\n")


@pytest.mark.parametrize("name", ["stool_comprehensive.hl7", "food_igg.hl7", "escapes.hl7"])
def test_fixture_fields_agree_with_python_hl7(fixtures: Path, name: str) -> None:
    """Every OBX field and component of a fixture matches python-hl7's reading of it."""
    text = (fixtures / "hl7v2" / name).read_text(encoding="utf-8")
    enc, segments = split_message(text)
    theirs = hl7.parse(text.replace("\n", "\r"))
    for i, seg in enumerate(segments):
        if seg[0] != "OBX":
            continue
        for f in range(1, len(seg)):
            if any(enc.escape + c in seg[f] for c in "XHNZ"):
                # Deliberate differences: python-hl7 decodes \Xhh\ byte by byte as Latin-1
                # (guttests as UTF-8), renders \H\ \N\ as "_" and drops unknown escapes.
                continue
            first_rep = seg[f].split(enc.repetition)[0]
            # python-hl7 raises beyond the components a field has; compare those it has
            for c in range(1, first_rep.count(enc.component) + 2):
                mine = extract(seg, enc, f, 1, c)
                assert mine == theirs[i].extract_field(1, f, 1, c).replace("\r", "\n")


# --- invariants --------------------------------------------------------------------------

_FIELD_TEXT = st.text(
    alphabet=st.characters(exclude_characters="|\r\n\x0b\x1c", exclude_categories=["Cs"]),
    max_size=12,
)


@st.composite
def _oru(draw: st.DrawFn) -> str:
    lines = [MSH]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["PID", "OBR", "OBX", "OBX", "NTE", "SPM"]))
        fields = draw(st.lists(_FIELD_TEXT, max_size=24))
        if kind == "OBX" and fields:
            fields[min(1, len(fields) - 1)] = draw(
                st.sampled_from(["NM", "ST", "SN", "CE", "CWE", "TX", "FT", "DT", "", "XX"])
            )
        lines.append("|".join([kind, *fields]))
    sep = draw(st.sampled_from(["\r", "\n", "\r\n"]))
    return sep.join(lines)


@given(_oru())
def test_any_structurally_valid_message_accounts_for_every_obx(text: str) -> None:
    """Whatever the field contents, reading never fails and gives one result per OBX."""
    panels = read_hl7v2(text)
    results = _results(panels)
    assert len(results) == _obx_lines(text)
    for r in results:
        assert (r.value is None) == (r.value_error is not None)


@given(st.data())
def test_truncation_reads_what_is_there(data: st.DataObject) -> None:
    """A stool message cut anywhere after its header reads what is there.

    Only a cut inside a segment id (``OB``) is an error: that line is no segment.
    """
    path = Path(__file__).parent / "fixtures" / "hl7v2" / "stool_comprehensive.hl7"
    text = path.read_bytes().decode("utf-8")
    cut = text[: data.draw(st.integers(min_value=8, max_value=len(text)))]
    last = cut.replace("\r", "\n").rsplit("\n", 1)[-1]
    if 0 < len(last) < 3:
        with pytest.raises(HL7Error, match="invalid segment id"):
            read_hl7v2(cut)
        return
    assert len(_results(read_hl7v2(cut))) == _obx_lines(cut)


# --- conformance -------------------------------------------------------------------------

_SHARED_HL7 = Path(__file__).resolve().parent / "fixtures" / "conformance" / "hl7v2"


@pytest.mark.parametrize(
    "path",
    sorted(_SHARED_HL7.glob("*.hl7")),
    ids=lambda p: p.name,
)
def test_conformance_messages(path: Path) -> None:
    """Public NIST and HL7 sample messages read without error, every OBX accounted for."""
    text = path.read_bytes().decode("utf-8")
    panels = read_hl7v2(text, source=path.name)
    results = _results(panels)
    assert len(results) == _obx_lines(text) > 0
    assert all(r.provenance.location.startswith("message 1, OBX ") for r in results)
