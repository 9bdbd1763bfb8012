"""read / iter_results / detect_format: sources, detection, decoding, limits and streaming."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from guttests._errors import FormatError, InputError, LimitExceededError
from guttests._readers import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RESULTS,
    CsvMapping,
    ReadItem,
    detect_format,
    iter_panels,
    iter_results,
    read,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"

HL7 = (
    "MSH|^~\\&|LIS|Northfield Digestive Lab||CLINIC|20240311120000||ORU^R01|1|P|2.5.1\r"
    "PID|1||GX-20417||Doe^Jane||19790514|F\r"
    "OBR|1|||GI^GI Comprehensive Stool Profile^L|||20240311084000\r"
    "OBX|1|NM|38445-3^Calprotectin, Feces^LN||112.4|ug/g^^UCUM|<=50|H|||F\r"
)
FHIR = (
    '{"resourceType": "Observation", "id": "calpro", "status": "final",'
    ' "code": {"text": "Calprotectin, Feces"},'
    ' "valueQuantity": {"value": 62, "unit": "ug/g"}}'
)
GUTTESTS_DOC = (
    '{"format": "guttests-results/1", "panels": [{"results": [{"name": "pH", "value": "6.4"}]}]}'
)


def _has(module: str) -> bool:
    return importlib.util.find_spec(f"guttests._readers.{module}") is not None


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (HL7, "hl7v2"),
        ("\x0b" + HL7 + "\x1c\r", "hl7v2"),
        ("\ufeff" + HL7, "hl7v2"),
        ("\n\n  " + HL7.replace("\r", "\n"), "hl7v2"),
        ("FHS|^~\\&|LIS\rBHS|^~\\&|LIS\r" + HL7, "hl7v2"),
        ("BHS|^~\\&|LIS\r" + HL7, "hl7v2"),
        (FHIR, "fhir"),
        ('{\n  "resourceType": "Bundle",\n  "type": "collection",\n  "entry": []\n}', "fhir"),
        (FHIR + "\n" + FHIR + "\n", "fhir"),
        (GUTTESTS_DOC, "json"),
        ('{\n  "format": "guttests-results/1",\n  "panels": []\n}\n', "json"),
        ('{"format": "guttests-results/1"}\n{"name": "pH", "value": "6.4"}\n', "json"),
        ('{"name": "Zonulin", "value": "45.2", "unit": "ng/mL"}\n', "json"),
        ("Test,Result,Units\nCalprotectin,112.4,ug/g\n", "csv"),
        ("\ufeffTest;Result;Unit\r\nZonulin;45,2;ng/mL\r\n", "csv"),
        ("Allergen\tWert\tEinheit\nWeizen\t<2,0\tµg/mL\n", "csv"),
        ('"Patient ID","Test","Result"\n"A","pH","6.4"\n', "csv"),
        ("\n\nTest,Result\n", "csv"),
    ],
)
def test_detect_inline_samples(content: str, expected: str):
    """Each format is recognised from its first lines, after BOM, MLLP byte and blank lines."""
    assert detect_format(io.StringIO(content)) == expected
    assert detect_format(content.encode("utf-8")) == expected


@pytest.mark.parametrize(
    ("content", "seen"),
    [
        ("hello world\n", "hell"),
        ("12,34\n56,78\n", "12,3"),
        ("[1, 2, 3]\n", "[1, "),
        ('{\n  "foo": 1,\n  "bar": 2\n}\n', "{\\n  "),
        ("MSHX|^~\\&|\r", "MSHX"),
        ("abc\x00\x01def\n", "abc\\x00"),
    ],
)
def test_undetectable_content_names_what_was_seen(content: str, seen: str):
    """An unknown format raises FormatError naming the source and the first 4 characters, escaped.

    Four characters show a signature (``%PDF``, ``PID|``) and no more: what follows
    may be a patient's name (tests/test_security.py)."""
    with pytest.raises(FormatError) as info:
        detect_format(io.StringIO(content), source_name="upload.dat")
    assert info.value.source == "upload.dat"
    assert info.value.text is not None
    assert seen.replace('\\"', '"') in info.value.text
    assert "upload.dat" in str(info.value)


@pytest.mark.parametrize("content", ["", "   \n\r\n\t", "\ufeff"])
def test_empty_input_is_a_format_error(content: str):
    """Empty or blank input cannot be detected: FormatError 'empty input'."""
    with pytest.raises(FormatError, match="empty input"):
        read(content.encode("utf-8"))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        *[(p, "hl7v2") for p in sorted((FIXTURES / "hl7v2").glob("*.hl7"))],
        *[(p, "fhir") for p in sorted((FIXTURES / "fhir").glob("*.json"))],
        *[(p, "fhir") for p in sorted((FIXTURES / "fhir").glob("*.ndjson"))],
        (FIXTURES / "csv" / "stool_comprehensive.csv", "csv"),
        (FIXTURES / "csv" / "permeability_eu.csv", "csv"),
        (FIXTURES / "csv" / "food_igg_portal.tsv", "csv"),
        (FIXTURES / "json" / "stool_document.json", "json"),
        (FIXTURES / "json" / "food_igg.ndjson", "json"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_detect_fixture_files(path: Path, expected: str):
    """The project's fixture files (every format's) are detected as their format."""
    if path.name == "truncated.hl7":
        pytest.skip("a deliberately broken file")
    assert detect_format(path) == expected


def test_detect_shared_conformance_files(conformance: Path):
    """Public HL7 v2 and FHIR example files are detected as their format."""
    for path in sorted((conformance / "hl7v2").glob("*.hl7")):
        assert detect_format(path) == "hl7v2", path.name
    for path in sorted((conformance / "fhir-r4").glob("*.json")):
        assert detect_format(path) == "fhir", path.name


# --- what a source is --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "is_content"),
    [
        ("Test,Result\npH,6.4\n", True),
        ("MSH|^~\\&|LIS", True),
        ('  {"resourceType": "Observation"}', True),
        ("[1]", True),
        ("\ufeffFHS|^~\\&|", True),
        ("results/export.csv", False),
        ("Test,Result", False),
    ],
)
def test_str_is_content_or_path(text: str, is_content: bool):
    """A str with a line break, or starting like JSON or HL7, is content; otherwise a path."""
    if is_content:
        with contextlib.suppress(FormatError):  # content, maybe not detectable; no file opened
            detect_format(text)
    else:
        with pytest.raises(InputError, match="cannot open file") as info:
            detect_format(text)
        assert info.value.hint is not None
        assert "io.StringIO" in info.value.hint


def test_path_object_and_str_path_read_the_file(tmp_path: Path):
    """A Path and a str naming an existing file read the file; provenance names the file."""
    path = tmp_path / "export.csv"
    path.write_text("Test,Result\npH,6.4\n", encoding="utf-8")
    for source in (path, str(path)):
        [panel] = read(source)
        assert panel.results[0].provenance.source == "export.csv"
    with pytest.raises(InputError, match="cannot open file"):
        read(tmp_path / "MSH|missing.hl7")


def test_source_name_overrides():
    """source_name names the input in provenance and errors."""
    [panel] = read(b"Test,Result\npH,6.4\n", source_name="upload.csv")
    assert panel.results[0].provenance.describe() == "upload.csv, line 2"


def test_stream_name_is_used(tmp_path: Path):
    """An open text file's name becomes the source."""
    path = tmp_path / "named.csv"
    path.write_text("Test,Result\npH,6.4\n", encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as f:
        [panel] = read(f)
    assert panel.results[0].provenance.source == "named.csv"


class _OneWayStream(io.TextIOBase):
    """A text stream that cannot seek, like a pipe."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return next(self._lines, "")

    def read(self, size: int | None = -1) -> str:
        return "".join(self._lines) if size is None or size < 0 else self.readline()


def test_non_seekable_stream():
    """Detection peeks without seeking, so pipes and generators work."""
    lines = iter(["Test,Result\n", *[f"row{i},{i}\n" for i in range(1000)]])
    results = list(iter_results(_OneWayStream(lines)))
    assert len(results) == 1000
    assert results[-1].result.provenance.location == "line 1001"


# --- decoding ----------------------------------------------------------------------------


def test_utf8_bom_is_stripped():
    """A UTF-8 BOM does not reach the header."""
    [panel] = read(b"\xef\xbb\xbfTest,Result,Units\nCalprotectin,45,\xc2\xb5g/g\n")
    assert panel.results[0].name == "Calprotectin"
    assert panel.results[0].unit == "µg/g"


def test_non_utf8_csv_is_reported_with_offset_and_line():
    """A Latin-1 µ is an InputError naming byte offset and line, with a hint; never a crash."""
    path = FIXTURES / "csv" / "latin1.csv"
    with pytest.raises(InputError, match="not UTF-8") as info:
        read(path)
    err = info.value
    assert err.location == "line 2, byte 34"  # "Test,Result,Units\n" + "Calprotectin,45,"
    assert err.source == "latin1.csv"
    assert err.hint is not None
    assert "encoding='latin-1'" in err.hint


def test_encoding_parameter_reads_latin1():
    """encoding='latin-1' reads the same file."""
    [panel] = read(FIXTURES / "csv" / "latin1.csv", encoding="latin-1")
    assert [r.unit for r in panel.results] == ["µg/g", "ng/mL"]


def test_bad_byte_far_into_the_file():
    """A bad byte after the detection window is reported at its exact offset while streaming."""
    head = b"Test,Result,Unit\n" + b"Zonulin,45.2,ng/mL\n" * 4_000
    data = head + b"Calprotectin,45,\xb5g/g\n"
    with pytest.raises(InputError) as info:
        read(data)
    assert info.value.location == f"line 4002, byte {len(head) + 16}"


def test_binary_garbage_is_an_input_error():
    """Binary data is an InputError (not UTF-8, or NUL bytes), not a traceback."""
    with pytest.raises(InputError):
        read(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(InputError):
        read(bytes(range(256)))


def test_unknown_encoding():
    """An encoding Python does not know is an InputError."""
    with pytest.raises(InputError, match="unknown encoding"):
        read(b"Test,Result\n", encoding="klingon-8")


# --- formats and dispatch ----------------------------------------------------------------


def test_forced_format():
    """format= skips detection: a pipe-delimited export is read as CSV with its mapping."""
    text = "Test|Result\npH|6.4\n"
    with pytest.raises(FormatError):
        read(text)
    [panel] = read(text, "csv", csv_mapping=CsvMapping(delimiter="|"))
    assert panel.results[0].value is not None


def test_unknown_format_name():
    """A format name guttests does not know is a FormatError listing the known ones."""
    with pytest.raises(FormatError, match="hl7v2, fhir, csv, json"):
        read("Test,Result\n", "xml")  # type: ignore[arg-type]


@pytest.mark.skipif(not _has("hl7v2"), reason="HL7 v2 reader not present")
def test_read_hl7_content():
    """HL7 v2 content is dispatched to the HL7 reader."""
    [panel] = read(HL7.encode("ascii"), source_name="lab.hl7")
    assert panel.results[0].provenance.format == "hl7v2"
    assert panel.results[0].provenance.source == "lab.hl7"


@pytest.mark.skipif(not _has("fhir"), reason="FHIR reader not present")
def test_read_fhir_content():
    """FHIR JSON content is dispatched to the FHIR reader."""
    [panel] = read(FHIR)
    assert panel.results[0].provenance.format == "fhir"


def test_read_each_own_format():
    """CSV and guttests JSON content read through read()."""
    assert read(GUTTESTS_DOC)[0].results[0].provenance.format == "json"
    assert read("Test,Result\npH,6.4\n")[0].results[0].provenance.format == "csv"


def test_iter_results_items():
    """iter_results yields ReadItem(panel_name, patient, result) in input order."""
    text = "Patient ID,Panel,Test,Result\nA,GI,pH,6.4\nA,GI,SCFA,60\nB,GI,pH,7.0\n"
    items = list(iter_results(text))
    assert all(isinstance(i, ReadItem) for i in items)
    assert [(i.panel_name, i.patient.patient_id, i.result.name) for i in items] == [
        ("GI", "A", "pH"),
        ("GI", "A", "SCFA"),
        ("GI", "B", "pH"),
    ]
    panel_name, _, result = items[0]
    assert result.panel == panel_name


def test_iter_panels_matches_read():
    """iter_panels and read give the same panels."""
    text = (FIXTURES / "csv" / "stool_comprehensive.csv").read_bytes()
    assert list(iter_panels(text)) == read(text)


# --- limits ------------------------------------------------------------------------------


def test_defaults():
    """The default limits are 512 MiB and five million results."""
    assert DEFAULT_MAX_BYTES == 512 * 1024 * 1024
    assert DEFAULT_MAX_RESULTS == 5_000_000


def _csv(rows: int) -> str:
    return "Test,Result\n" + "".join(f"t{i},{i}\n" for i in range(rows))


@pytest.mark.parametrize("kind", ["path", "bytes", "str", "stream"])
def test_max_bytes(kind: str, tmp_path: Path):
    """Input above max_bytes raises LimitExceededError; None disables the limit."""
    text = _csv(200)
    path = tmp_path / "big.csv"
    path.write_text(text, encoding="utf-8")

    def source() -> object:
        return {
            "path": path,
            "bytes": text.encode(),
            "str": text,
            "stream": io.StringIO(text, newline=""),
        }[kind]

    with pytest.raises(LimitExceededError, match="larger than 1,000 bytes") as info:
        read(source(), max_bytes=1000)  # type: ignore[arg-type]
    assert info.value.hint is not None
    assert "max_bytes" in info.value.hint
    assert len(read(source(), max_bytes=None)[0].results) == 200  # type: ignore[arg-type]
    assert len(read(source(), max_bytes=len(text.encode()))[0].results) == 200  # type: ignore[arg-type]


def test_max_bytes_on_a_stream_stops_early():
    """A stream over the limit is stopped while reading, not after reading it all."""
    lines = itertools.chain(["Test,Result\n"], itertools.repeat("x,1\n"))
    with pytest.raises(LimitExceededError):
        read(_OneWayStream(lines), max_bytes=10_000)


def test_max_results():
    """More results than max_results raise LimitExceededError; None disables it."""
    text = _csv(50)
    with pytest.raises(LimitExceededError, match="more than 10 results"):
        read(text, max_results=10)
    assert len(read(text, max_results=50)[0].results) == 50
    assert len(read(text, max_results=None)[0].results) == 50


# --- streaming ---------------------------------------------------------------------------


def test_iter_results_runs_in_constant_memory(tmp_path: Path):
    """Memory held while streaming does not grow with the file: 4x the rows, about the same peak."""
    peaks = []
    for n in (1_500, 6_000):
        path = tmp_path / f"rows{n}.csv"
        lines = "".join(
            f"P{i // 10},2024-03-01,Calprotectin,{i % 300},ug/g,<=50\n" for i in range(n)
        )
        path.write_text("Patient ID,Date,Test,Result,Units,Reference Range\n" + lines)
        tracemalloc.start()
        count = sum(1 for _ in iter_results(path))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == n
    assert peaks[1] < peaks[0] * 1.5, peaks
    assert peaks[1] < 8 * 1024 * 1024, peaks
