"""The CSV reader: columns, values, locations, grouping, mapping, and what it does with bad rows."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from guttests._errors import CSVError
from guttests._models import Age, Panel
from guttests._readers.csv import (
    CsvMapping,
    iter_panels,
    parse_age,
    parse_when,
    read_csv,
    sex_from_text,
    specimen_from_text,
    status_from_text,
)
from guttests._types import ResultStatus, Specimen

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "csv"
EU = CsvMapping(decimal_comma=True, date_formats=("%d.%m.%Y",))


def _read(name: str, mapping: CsvMapping | None = None) -> list[Panel]:
    with (FIXTURES / name).open(encoding="utf-8-sig", newline="") as f:
        return list(iter_panels(f, source=name, mapping=mapping))


def _results(text: str, mapping: CsvMapping | None = None) -> list:  # type: ignore[type-arg]
    return [r for p in read_csv(text, mapping=mapping) for r in p.results]


# --- the comprehensive stool export ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "kind", "number", "unit"),
    [
        (2, "Calprotectin, Feces", "quantity", 112.4, "µg/g"),
        (3, "Pancreatic Elastase 1, Feces", "censored", 500.0, "µg/g"),
        (7, "Bacteroides fragilis (qPCR)", "quantity", 1.2e5, "CFU/g"),
        (8, "Clostridioides difficile\nToxin A/B (qPCR)", "censored", None, "genome copies/g"),
        (10, "Akkermansia muciniphila (qPCR)", "quantity", 3.4e6, "CFU/g"),
        (11, "Giardia lamblia", "qualitative", None, None),
        (12, "Blastocystis hominis", "qualitative", None, None),
        (13, "Acetate", "quantity", 62.1, "%"),
        (16, "pH", "quantity", 6.4, None),
    ],
)
def test_stool_export_values(line: int, name: str, kind: str, number: float | None, unit: str):
    """Each row of a real-looking stool export reads as the lab wrote it, at its physical line."""
    [panel] = _read("stool_comprehensive.csv")
    [r] = [r for r in panel.results if r.provenance.location == f"line {line}"]
    assert r.name == name
    assert r.value is not None
    assert r.value.kind == kind
    if number is not None:
        assert getattr(r.value, "value", None) == number or getattr(r.value, "limit", 0) == number
    assert r.unit == unit
    assert r.provenance.source == "stool_comprehensive.csv"
    assert r.provenance.format == "csv"


def test_stool_export_panel_context():
    """Rows of one patient and collection form one panel carrying patient, lab and codes."""
    [panel] = _read("stool_comprehensive.csv")
    assert len(panel.results) == 14
    assert panel.name == "GI Comprehensive Stool Profile"
    assert panel.patient.patient_id == "GX-20417"
    assert panel.patient.sex == "female"
    assert panel.patient.birth_date == date(1979, 5, 14)
    assert panel.collected == datetime(2024, 3, 11, 8, 40)
    assert panel.lab == "Northfield Digestive Lab"
    assert panel.provenance is not None
    assert panel.provenance.location == "lines 2-16"
    calpro = panel.results[0]
    assert calpro.code is not None
    assert calpro.code.is_loinc
    assert calpro.code.code == "38445-3"
    assert calpro.lab_flags == ("H",)
    assert calpro.lab_range_text == "<=50"
    assert calpro.lab_range is not None
    assert calpro.lab_range.machine_readable
    assert calpro.specimen is Specimen.STOOL
    assert calpro.specimen_text == "Feces"
    assert calpro.analyte is None
    assert panel.results[-1].status is ResultStatus.PRELIMINARY
    dl = panel.results[6]
    assert dl.value is not None
    assert dl.value.kind == "censored"
    assert dl.value.detection_limit


def test_quoted_multiline_field_keeps_line_numbers():
    """A quoted line break inside a field does not shift the line numbers of later rows."""
    text = 'Test,Result\n"Zonulin\n(serum)",45.2\n"a ""quoted"" name",3\nLast,1\n'
    rs = _results(text)
    assert [r.provenance.location for r in rs] == ["line 2", "line 4", "line 5"]
    assert rs[0].name == "Zonulin\n(serum)"
    assert rs[1].name == 'a "quoted" name'


# --- European export and custom mappings ---------------------------------------------------


def test_european_export_with_mapping():
    """BOM, semicolons, decimal commas and day.month.year dates read with a mapping."""
    [panel] = _read("permeability_eu.csv", EU)
    values = [(r.name, r.value.value if r.value else None, r.unit) for r in panel.results]
    assert values == [
        ("Zonulin", 45.2, "ng/mL"),
        ("Lactulose recovery", 0.35, "%"),
        ("Mannitol recovery", 14.2, "%"),
        ("Lactulose/Mannitol ratio", 0.025, None),
    ]
    assert panel.collected == date(2024, 3, 4)
    assert panel.patient.age == Age(value=45, unit="a")
    assert panel.patient.sex == "male"
    zonulin = panel.results[0]
    assert zonulin.specimen is Specimen.SERUM
    assert zonulin.lab_range_text == "<48,0"
    assert zonulin.lab_range is not None
    assert zonulin.lab_range.bands[0].high == 48.0


def test_european_export_without_mapping_reports_not_guesses():
    """Without decimal_comma a comma value is an error naming the text; dates stay empty."""
    with pytest.warns(UserWarning, match="collection date"):
        [panel] = _read("permeability_eu.csv")
    assert all(r.value is None for r in panel.results)
    assert "decimal_comma" in (panel.results[0].value_error or "")
    assert panel.collected is None


def test_custom_mapping_from_toml():
    """A TOML mapping reads a tab-separated portal export with German headers."""
    mapping = CsvMapping.from_toml(FIXTURES / "food_igg_portal.toml")
    assert mapping.delimiter == "\t"
    assert mapping.lab == "Beispiel-Labor"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the ignored column raises no warning
        [panel] = _read("food_igg_portal.tsv", mapping)
    r = panel.results
    assert [x.name for x in r] == ["Kuhmilch (Casein)", "Hühnerei (Eiweiß)", "Weizen", "Erdnuss"]
    assert r[0].value is not None
    assert r[0].value.kind == "quantity"
    assert r[0].unit == "µg/mL"
    assert r[2].value is not None
    assert r[2].value.kind == "censored"
    assert r[3].value is not None
    assert r[3].value.kind == "qualitative"
    assert r[0].lab_flags == ("2",)
    assert panel.patient.sex == "female"
    assert panel.patient.age == Age(value=38)
    assert panel.collected == date(2024, 2, 12)
    assert panel.lab == "Beispiel-Labor"
    assert r[0].lab == "Beispiel-Labor"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("delimiter = ':'\n", "delimiter"),
        ("[columns]\nvalu = 'x'\n", "columns"),
        ("decimal_comma = \n", "cannot read"),
        ("[columns]\nvalue = 'Result'\nname = 'Result'\n", "both"),
    ],
)
def test_bad_mapping_file(tmp_path: Path, toml: str, message: str):
    """A mapping file that is not valid raises CSVError naming the file and the key."""
    path = tmp_path / "mapping.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(CSVError, match=message) as info:
        CsvMapping.from_toml(path)
    assert info.value.source == str(path)


def test_mapping_rejects_a_header_for_two_fields():
    """One header cannot mean two fields."""
    with pytest.raises(ValidationError):
        CsvMapping(columns={"value": "Result", "unit": ("Result",)})


# --- header aliases ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field", "cell", "expected"),
    [
        ("Test Name", "name", "Zonulin", "Zonulin"),
        ("ANALYTE", "name", "Zonulin", "Zonulin"),
        ("Units", "unit", "ng/mL", "ng/mL"),
        ("Ref. Range", "lab_range_text", "<48", "<48"),
        ("reference_range", "lab_range_text", "<48", "<48"),
        ("Abnormal Flag", "lab_flags", "H~A", ("H", "A")),
        ("Collection Date", "collected", "2024-03-01", date(2024, 3, 1)),
        ("Specimen Type", "specimen", "SER", Specimen.SERUM),
        ("Laboratory", "lab", "Northfield", "Northfield"),
        ("Status", "status", "corrected", ResultStatus.CORRECTED),
        ("Method", "method", "ELISA", "ELISA"),
        ("LOINC", "code", "38445-3", "38445-3"),
        ("Test Code", "code", "CALP", "CALP"),
    ],
)
def test_header_aliases(header: str, field: str, cell: str, expected: object):
    """Common header spellings are recognised case- and punctuation-insensitively."""
    prefix = "" if field == "name" else "Test,"
    [r] = _results(f"{prefix}Result,{header}\n{'x,' if prefix else ''}45,{cell}\n")
    got = getattr(r, field)
    if field == "code":
        got = got.code
    assert got == expected


@pytest.mark.parametrize(
    ("header", "attr", "cell", "expected"),
    [
        ("Gender", "sex", "W", "female"),
        ("Sex", "sex", "other", None),
        ("DOB", "birth_date", "1980-01-02", date(1980, 1, 2)),
        ("Date of Birth", "birth_date", "1980-01-02T00:00:00", date(1980, 1, 2)),
        ("Age", "age", "6 mo", Age(value=6, unit="mo")),
        ("MRN", "patient_id", "A-1", "A-1"),
        ("Patient Name", "name", "Doe, Jane", "Doe, Jane"),
    ],
)
def test_patient_columns(header: str, attr: str, cell: str, expected: object):
    """Patient columns build the panel's context."""
    [panel] = read_csv(f'Test,Result,{header}\npH,6.5,"{cell}"\n')
    assert getattr(panel.patient, attr) == expected


def test_missing_columns_raise():
    """A file without a value column, or without a name or code column, is a CSVError."""
    with pytest.raises(CSVError, match="no column for value"):
        read_csv("Test,Units\npH,\n")
    with pytest.raises(CSVError, match="test name"):
        read_csv("Result,Units\n6.5,\n")


def test_two_columns_for_one_field_raise():
    """Two columns that both mean 'value' are never chosen between silently."""
    with pytest.raises(CSVError, match="two columns for value") as info:
        read_csv("Test,Result,Value\npH,6.5,6.5\n", source="x.csv")
    assert info.value.location == "line 1"


def test_unknown_columns_warn():
    """Columns that are not read are counted in a warning (by position), unless ignored."""
    with pytest.warns(UserWarning, match=r"1 column not read \(column 3 of line 1"):
        read_csv("Test,Result,Comment\npH,6.5,fasting\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_csv("Test,Result,Comment\npH,6.5,x\n", mapping=CsvMapping(ignore=("comment",)))


def test_empty_input_raises():
    """An empty file or one with only blank lines has no header: CSVError."""
    for text in ("", "\n\n  \n"):
        with pytest.raises(CSVError, match="empty"):
            read_csv(text)


def test_header_only_gives_no_panels():
    """A header without rows is zero results, not an error."""
    assert read_csv("Test,Result,Unit\n") == []


# --- bad rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "error", "unit"),
    [
        (2, "not a lab value", "µg/g"),
        (4, None, "ng/mL"),
        (5, None, "µg/g"),
        (6, "comma in a number is ambiguous", "µg/mL"),
        (7, None, "µg/g"),
        (8, "not a lab value", None),
        (10, "empty value", "%"),
    ],
)
def test_problem_rows(line: int, error: str | None, unit: str | None):
    """Every data row becomes a result; a broken one carries value_error and the rest is read."""
    [panel] = _read("problems.csv")
    [r] = [r for r in panel.results if r.provenance.location == f"line {line}"]
    if error is None:
        assert r.value is not None
        assert r.value_error is None
    else:
        assert r.value is None
        assert error in (r.value_error or "")
    assert r.unit == unit


def test_problem_file_counts():
    """Blank lines and delimiter-only rows are skipped; all 7 data rows are results."""
    [panel] = _read("problems.csv")
    assert len(panel.results) == 7
    short = next(r for r in panel.results if r.provenance.location == "line 4")
    assert short.value_text == "45.2"  # a row without its last (range) cell: still its columns


def test_long_row_is_an_error_unless_extra_fields_are_blank():
    """Extra non-empty fields are an error naming the line; trailing empty ones are accepted."""
    rs = _results("Test,Result\npH,6.5,\n")
    assert rs[0].value is not None
    with pytest.raises(CSVError, match="row has 3 fields, header has 2") as info:
        _results("Test,Result\npH,6.5,\npH,6.5,extra\n")
    assert info.value.location == "line 3"


@pytest.mark.parametrize(
    ("text", "kind", "unit"),
    [
        ("45 ug/g", "quantity", "ug/g"),
        ("<10 mg/L", "censored", "mg/L"),
        ("3.4 x 10^6 CFU/g", "quantity", "CFU/g"),
        ("62.1 %", "quantity", "%"),
        ("1.2e5 copies/g", "quantity", "copies/g"),
        ("Not detected", "qualitative", None),
        ("45 H", None, None),
        ("Neg Rare", None, None),
        ("45ug/g", None, None),
        ("<dl units", None, None),
    ],
)
def test_value_with_unit_split(text: str, kind: str | None, unit: str | None):
    """A trailing unit is split off only when the rest is a number and the tail is not a flag."""
    [r] = _results(f"Test,Result,Unit\nx,{text},\n")
    if kind is None:
        assert r.value is None
        assert r.value_error
        assert r.unit is None
    else:
        assert r.value is not None
        assert r.value.kind == kind
        assert r.unit == unit
    assert r.value_text == text


def test_unit_column_wins_over_split():
    """With a unit in its column, '45 ug/g' in the value column is not split: it is an error."""
    [r] = _results("Test,Result,Unit\nx,45 ug/g,ug/g\n")
    assert r.value is None
    assert r.unit == "ug/g"


def test_unparseable_date_leaves_collected_empty():
    """A date that matches no format gives collected=None and one summary warning."""
    with pytest.warns(UserWarning, match=r"2 rows with a collection date .*line 2\)") as got:
        rs = _results("Test,Result,Date\npH,6.5,03/04/2024\nSCFA,60,03/04/2024\n")
    assert all("2024" not in str(w.message) for w in got)  # dates are never quoted
    assert [r.collected for r in rs] == [None, None]
    assert all(r.value is not None for r in rs)


def test_unknown_status_is_unknown_and_warned():
    """A status text guttests does not know is read as unknown, with a warning."""
    with pytest.warns(UserWarning, match="status"):
        [r] = _results("Test,Result,Status\npH,6.5,verified-ish\n")
    assert r.status is ResultStatus.UNKNOWN


def test_delimiter_override():
    """A mapping's delimiter wins over sniffing."""
    [r] = _results("Test|Result\npH|6,5\n", CsvMapping(delimiter="|", decimal_comma=True))
    assert r.value is not None
    assert r.value.kind == "quantity"


def test_malformed_csv_raises_csv_error():
    """A csv-module error becomes a CSVError with a line."""
    big = "x" * (csv.field_size_limit() + 10)
    with pytest.raises(CSVError, match="malformed CSV") as info:
        read_csv(f'Test,Result\npH,"{big}"\n')
    assert info.value.location is not None
    assert info.value.location.startswith("line")


# --- grouping ----------------------------------------------------------------------------


def test_grouping_consecutive_rows():
    """Consecutive rows of the same patient and date form one panel; a change starts another."""
    text = (
        "Patient ID,Date,Test,Result\n"
        "A,2024-01-01,pH,6.5\n"
        "A,2024-01-01,SCFA,60\n"
        "A,2024-02-01,pH,6.6\n"
        "B,2024-02-01,pH,6.7\n"
        "A,2024-02-01,pH,6.8\n"
    )
    panels = read_csv(text)
    assert [(p.patient.patient_id, len(p.results)) for p in panels] == [
        ("A", 2),
        ("A", 1),
        ("B", 1),
        ("A", 1),
    ]
    assert panels[0].results[0].collected == date(2024, 1, 1)


# --- small mappings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45", Age(value=45)),
        ("45 y", Age(value=45)),
        ("45 years", Age(value=45)),
        ("6 mo", Age(value=6, unit="mo")),
        ("3 wk", Age(value=3, unit="wk")),
        ("10 d", Age(value=10, unit="d")),
        ("1,5 a", Age(value=1.5)),
        ("adult", None),
        ("-3", None),
        ("6 m", None),
    ],
)
def test_parse_age(text: str, expected: Age | None):
    """Ages with and without units; a bare number is years; 'm' is ambiguous and refused."""
    assert parse_age(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("F", "female"), ("female", "female"), ("W", "female"), ("M", "male"), ("Male", "male"),
     ("U", None), ("other", None), ("", None), (None, None)],
)  # fmt: skip
def test_sex_from_text(text: str | None, expected: str | None):
    """Sex as given maps onto female/male; anything else is None."""
    assert sex_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Stool", Specimen.STOOL), ("FEC", Specimen.STOOL), ("faeces", Specimen.STOOL),
     ("SER", Specimen.SERUM), ("Plasma", Specimen.PLASMA), ("WB", Specimen.BLOOD),
     ("UR", Specimen.URINE), ("saliva", Specimen.SALIVA), ("swab", None), (None, None)],
)  # fmt: skip
def test_specimen_from_text(text: str | None, expected: Specimen | None):
    """Specimen words and HL7 abbreviations; unknown is None."""
    assert specimen_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("final", ResultStatus.FINAL), ("F", ResultStatus.FINAL),
     ("Preliminary", ResultStatus.PRELIMINARY), ("C", ResultStatus.CORRECTED),
     ("canceled", ResultStatus.CANCELLED), ("entered-in-error", ResultStatus.ENTERED_IN_ERROR),
     ("done", None)],
)  # fmt: skip
def test_status_from_text(text: str, expected: ResultStatus | None):
    """FHIR status words and HL7 OBX-11 letters."""
    assert status_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "formats", "expected"),
    [
        ("2024-03-01", (), date(2024, 3, 1)),
        ("2024-03-01T08:30:00", (), datetime(2024, 3, 1, 8, 30)),
        ("2024-03-01 08:30", (), datetime(2024, 3, 1, 8, 30)),
        ("01.03.2024", (), None),
        ("01.03.2024", ("%d.%m.%Y",), date(2024, 3, 1)),
        ("01.03.2024 08:30", ("%d.%m.%Y", "%d.%m.%Y %H:%M"), datetime(2024, 3, 1, 8, 30)),
        ("03/04/2024", ("%d.%m.%Y",), None),
    ],
)
def test_parse_when(text: str, formats: tuple[str, ...], expected: object):
    """ISO first, then the configured formats in order; never a guess between D/M and M/D."""
    assert parse_when(text, formats) == expected


# --- properties --------------------------------------------------------------------------

_cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
_values = st.one_of(
    st.sampled_from(["<10", ">=200", "<dl", "Not Detected", "Detected", "1+", "Class 3", "VL"]),
    st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda x: f"{x:g}"),
    st.integers(min_value=0, max_value=10**6).map(str),
)
_units = st.sampled_from(["ug/g", "µg/g", "ng/mL", "%", "CFU/g", "genome copies/g", "U/mL"])
_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(',;"\n'),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() != "")


@given(rows=st.lists(st.tuples(_names, _values, _units), max_size=25))
def test_roundtrip_rows_written_with_csv_module(rows: list[tuple[str, str, str]]):
    """Rows written by the csv module read back with the same names, value texts and units."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["Test", "Result", "Units"])
    writer.writerows(rows)
    results = _results(buf.getvalue())
    assert [(r.name, r.value_text, r.unit) for r in results] == [
        (name.strip(), value, unit) for name, value, unit in rows
    ]
    assert all(r.value is not None for r in results)


@given(
    rows=st.lists(st.lists(_cell_text, min_size=1, max_size=5), max_size=25),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_count_results_equal_non_blank_rows(rows: list[list[str]], delimiter: str):
    """Whatever the cells hold, results out == non-blank data rows in, or a CSVError names
    the first row whose cell count differs from the header's: never a partial read."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(["Test", "Result", "Unit", "Reference Range"])
    writer.writerows(rows)
    non_blank = [row for row in rows if any(c.strip() for c in row)]
    misfit = [
        row
        for row in non_blank
        if len(row) != 4 and not (len(row) > 4 and not "".join(row[4:]).strip())
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if misfit:
            with pytest.raises(CSVError, match="fields, header has 4"):
                _results(buf.getvalue())
            return
        results = _results(buf.getvalue())
    assert len(results) == len(non_blank)


def test_short_row_is_an_error_that_quotes_nothing():
    """A short row is a CSVError naming the line; it never quotes the row's cells."""
    with pytest.raises(CSVError, match="row has 4 fields, header has 5") as info:
        _results("Patient ID,Patient Name,Test,Result,Unit\nP-77,Doe Jane,pH,6.5\n")
    assert info.value.location == "line 2"
    assert "P-77" not in str(info.value)
    assert "Doe" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        # An unterminated quote would swallow the rest of the file.
        (
            'Patient ID,Patient Name,Test,Result,Unit\nP1,Jane Doe,"Calprotectin,50,ug/g\n'
            "P1,Jane Doe,Zonulin,45,ng/mL\n",
            2,
            "never closed",
        ),
        # A stray quote: "50"0 must not read as 500.
        ('Test,Result,Unit\npH,6.5,\nCalprotectin,"50"0,ug/g\n', 3, "after a closing quote"),
        # An unquoted comma in a name shifts every cell after it.
        (
            "Patient Name,Birth Date,Test,Result\nDoe, Jane,1984-05-17,pH,6.5\n",
            2,
            "row has 5 fields, header has 4",
        ),
    ],
)
def test_malformed_rows_are_errors_naming_the_line(text: str, line: int, what: str) -> None:
    """Strict CSV: a malformed row is a CSVError naming its line and quoting no cell."""
    with pytest.raises(CSVError, match=what) as info:
        _results(text)
    assert info.value.location == f"line {line}"
    for secret in ("Jane", "Doe", "1984"):
        assert secret not in str(info.value)


def test_quoted_cells_with_delimiters_and_line_breaks_read() -> None:
    """Strict quoting still reads quoted delimiters, doubled quotes and quoted line breaks."""
    rs = _results('Test,Result,Unit\n"Calprotectin, Feces",50,ug/g\n"pH ""stool""\nx",6.5,\n')
    assert [r.name for r in rs] == ["Calprotectin, Feces", 'pH "stool"\nx']
    assert rs[1].provenance.location == "line 3"


@pytest.mark.parametrize(
    ("toml", "what"),
    [
        ('decimal_comma = "yes"\n', "decimal_comma"),
        ("decimal_comma = 1\n", "decimal_comma"),
        ('format = "guttests-csv-mapping/9"\n', "format must be"),
        ("format = 3\n", "format must be"),
    ],
)
def test_invalid_mapping_values_are_csv_errors(tmp_path: Path, toml: str, what: str) -> None:
    """A CSV mapping with a wrong decimal_comma or format is a CSVError naming the file."""
    path = tmp_path / "mapping.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(CSVError, match=what) as info:
        CsvMapping.from_toml(path)
    assert info.value.source == str(path)


def test_valid_mapping_format_marker_is_accepted(tmp_path: Path) -> None:
    """The documented marker and a boolean decimal_comma load."""
    path = tmp_path / "mapping.toml"
    path.write_text('format = "guttests-csv-mapping/1"\ndecimal_comma = true\n', "utf-8")
    assert CsvMapping.from_toml(path).decimal_comma is True
