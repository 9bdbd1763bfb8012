"""The ``guttests`` command: exit codes, streams, files, formats, and what never leaks."""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings

from guttests import __version__
from guttests._readers import iter_results
from guttests.cli import cli
from guttests.testing import csv_texts, hl7_messages

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures"
CLI_FIX = FIX / "cli"
STOOL_HL7 = FIX / "hl7v2" / "stool_comprehensive.hl7"
EXAMPLE_PATIENT = ("EX-1001", "Example, Robin")


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def invoke(*args: str | Path, input: bytes | str | None = None) -> Result:
    return _runner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def run_module(
    *args: str | Path, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}
    env.pop("GUTTESTS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "guttests", *(str(a) for a in args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so that default output files land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


_LOOKS_LIKE = {
    "html": lambda s: s.lstrip().lower().startswith("<!doctype html"),
    "md": lambda s: s.lstrip().startswith("#"),
    "json": lambda s: json.loads(s)["schema"] == "guttests-report/1",
    "fhir": lambda s: json.loads(s)["resourceType"] == "Bundle",
    "text": lambda s: s.startswith("LABORATORY RESULTS SUMMARY"),
    "hl7": lambda s: (
        s.startswith("MSH|^~\\&|") and any(x.startswith("OBX|1|") for x in s.splitlines())
    ),
}


# --- report: formats and destinations ----------------------------------------------------


def test_example_text_report_goes_to_stdout_and_nothing_else() -> None:
    """`report --example` prints one full report of the example patient; stderr stays empty."""
    res = invoke("report", "--example")
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    out = res.stdout
    assert out.startswith("LABORATORY RESULTS SUMMARY")
    assert out.count("LABORATORY RESULTS SUMMARY") == 1
    for name in ("stool.hl7", "permeability.csv", "food_sensitivity.json", *EXAMPLE_PATIENT):
        assert name in out
    for panel in ("Comprehensive Stool Analysis", "Intestinal Permeability", "Food Antibody"):
        assert panel in out
    assert "Results not interpreted" in out  # the examples include results without a range


@pytest.mark.parametrize("fmt", ["text", "md", "json", "fhir", "hl7"])
def test_every_stream_format(fmt: str) -> None:
    """text, md, json, fhir and hl7 reports go to stdout and are well-formed."""
    res = invoke("report", "--example", "--format", fmt)
    assert res.exit_code == 0, res.stderr
    assert _LOOKS_LIKE[fmt](res.stdout)


def test_html_without_output_goes_to_a_file_named_after_the_input(in_tmp: Path) -> None:
    """`lab.hl7 --format html` writes ./lab.html, names it on stderr, prints nothing on stdout."""
    shutil.copy(STOOL_HL7, in_tmp / "lab.hl7")
    res = invoke("report", "lab.hl7", "--format", "html")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    assert "lab.html" in res.stderr
    html = (in_tmp / "lab.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")


def test_example_html_default_name(in_tmp: Path) -> None:
    """The example's HTML report gets a fixed name in the current directory."""
    res = invoke("report", "--example", "--format", "html")
    assert res.exit_code == 0, res.stderr
    assert (in_tmp / "guttests-example.html").is_file()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("report.html", "html"),
        ("report.md", "md"),
        ("report.json", "json"),
        ("report.fhir.json", "fhir"),
        ("report.txt", "text"),
        ("report.hl7", "hl7"),
    ],
)
def test_output_file_format_follows_its_suffix(in_tmp: Path, name: str, fmt: str) -> None:
    """Without --format, -o's suffix chooses the format; stdout stays empty."""
    res = invoke("report", "--example", "-o", name)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    assert f"wrote {name}" in res.stderr
    assert _LOOKS_LIKE[fmt]((in_tmp / name).read_text(encoding="utf-8"))
    assert [p.name for p in in_tmp.iterdir()] == [name]  # no temporary file left behind


def test_explicit_format_wins_over_suffix(in_tmp: Path) -> None:
    """--format md with -o out.txt writes Markdown."""
    res = invoke("report", "--example", "--format", "md", "-o", "out.txt")
    assert res.exit_code == 0
    assert (in_tmp / "out.txt").read_text(encoding="utf-8").lstrip().startswith("#")


def test_stdin_dash_reads_the_pipe() -> None:
    """`-` reads the input from stdin and names it 'stdin'."""
    res = invoke("report", "-", "--format", "json", input=STOOL_HL7.read_bytes())
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["counts"]["total"] == 17
    assert doc["inputs"] == ["stdin"]


def test_several_inputs_of_one_patient_give_one_report() -> None:
    """Two files of the same patient: one report, both inputs listed, all results counted."""
    perm = REPO / "src" / "guttests" / "_data" / "examples" / "permeability.csv"
    stool = REPO / "src" / "guttests" / "_data" / "examples" / "stool.hl7"
    res = invoke("report", stool, perm, "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["inputs"] == ["stool.hl7", "permeability.csv"]
    assert doc["counts"]["total"] == 1 + 18 + 7


# --- several patients --------------------------------------------------------------------


def test_several_patients_text_reports_are_concatenated() -> None:
    """Text output holds one full report per patient, in input order."""
    res = invoke("report", CLI_FIX / "two_patients.csv")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.count("LABORATORY RESULTS SUMMARY") == 2
    assert res.stdout.index("PT-1001") < res.stdout.index("PT-2002")


@pytest.mark.parametrize("fmt", ["json", "fhir", "html"])
def test_several_patients_need_a_directory_or_patient(in_tmp: Path, fmt: str) -> None:
    """One JSON/FHIR/HTML document covers one patient: a usage error explains the choices."""
    res = invoke("report", CLI_FIX / "two_patients.csv", "--format", fmt)
    assert res.exit_code == 2
    assert "--patient" in res.stderr
    assert "DIRECTORY" in res.stderr
    assert list(in_tmp.iterdir()) == []


def test_several_patients_into_a_directory(in_tmp: Path) -> None:
    """-o DIR writes one file per patient, numbered, without identifiers in the names."""
    (in_tmp / "out").mkdir()
    res = invoke("report", CLI_FIX / "two_patients.csv", "--format", "json", "-o", "out")
    assert res.exit_code == 0, res.stderr
    files = sorted(p.name for p in (in_tmp / "out").iterdir())
    assert files == ["two_patients-patient-1.json", "two_patients-patient-2.json"]
    ids = [json.loads((in_tmp / "out" / f).read_text())["patient"]["id"] for f in files]
    assert ids == ["PT-1001", "PT-2002"]


def test_patient_option_selects_one() -> None:
    """--patient ID reports only that patient's panels."""
    res = invoke("report", CLI_FIX / "two_patients.csv", "--patient", "PT-2002", "-f", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["patient"]["id"] == "PT-2002"
    assert doc["counts"]["total"] == 1


# --- patient context from the command line -----------------------------------------------


def test_missing_age_leaves_age_dependent_result_uninterpreted() -> None:
    """Calprotectin ranges depend on age: without it the result is not interpreted (exit 0)."""
    res = invoke("report", CLI_FIX / "no_context.csv", "-f", "json")
    assert res.exit_code == 0
    rows = json.loads(res.stdout)["results"]
    assert rows[0]["status"] == "not_interpretable"
    assert "age" in rows[0]["reason"]


def test_age_option_fills_context_and_says_so() -> None:
    """--age fills the missing age; the result that used it carries a note naming the option."""
    res = invoke("report", CLI_FIX / "no_context.csv", "--age", "45", "-f", "json")
    assert res.exit_code == 0, res.stderr
    row = json.loads(res.stdout)["results"][0]
    assert row["status"] == "interpreted"
    assert row["interpretation"] == "H"
    assert "age from the command line (--age 45)" in row["notes"]


@pytest.mark.parametrize(
    "args",
    [
        ["--sex", "M"],
        ["--birth-date", "1972-09-01"],
        ["--age", "30"],
    ],
)
def test_context_that_contradicts_the_input_is_a_usage_error(args: list[str]) -> None:
    """The input's sex, birth date or age is never silently overridden."""
    res = invoke("report", CLI_FIX / "two_patients.csv", "--patient", "PT-1001", *args)
    assert res.exit_code == 2
    assert "disagrees with the input" in res.stderr
    assert "two_patients.csv" in res.stderr


def test_context_that_agrees_with_the_input_is_accepted() -> None:
    """Repeating what the input says is fine."""
    res = invoke("report", CLI_FIX / "two_patients.csv", "--patient", "PT-1001", "--sex", "F")
    assert res.exit_code == 0, res.stderr


def test_context_options_with_several_patients_need_patient() -> None:
    """--sex for a file of two patients is ambiguous: usage error."""
    res = invoke("report", CLI_FIX / "two_patients.csv", "--sex", "F")
    assert res.exit_code == 2
    assert "--patient" in res.stderr


# --- de-identification -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "md", "json", "fhir", "html"])
def test_deidentify_removes_name_and_identifier(in_tmp: Path, fmt: str) -> None:
    """No name, identifier or birth date of the example patient in any de-identified format."""
    res = invoke("report", "--example", "--deidentify", "-f", fmt, "-o", f"r.{fmt}")
    assert res.exit_code == 0, res.stderr
    text = (in_tmp / f"r.{fmt}").read_text(encoding="utf-8")
    for secret in (*EXAMPLE_PATIENT, "Robin", "1984-05-17"):
        assert secret not in text
    assert "Calprotectin" in text


# --- exit codes and error messages -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["report"], "no INPUT"),
        (["report", "--example", "x.hl7"], "not both"),
        (["report", "--example", "--format", "docx"], "docx"),
        (["report", "--example", "-o", "report.out"], ".pdf, .hl7"),
        (["report", "--example", "-o", "report"], "extension"),
        (["report", "--example", "--attach-pdf"], "--attach-pdf"),
        (["report", "--example", "--age", "adult"], "not an age"),
        (["report", "--example", "--age", "4", "--birth-date", "2020-01-01"], "not both"),
        (["report", "--example", "--birth-date", "01/02/2020"], "01/02/2020"),
        (["report", "-", "-"], "once"),
        (["ranges", "show", "no-such-analyte"], "no analyte"),
        (["analytes", "--family", "blood"], "blood"),
        (["nonsense-command"], "nonsense-command"),
    ],
)
def test_usage_errors_exit_2(args: list[str], needle: str) -> None:
    """Wrong options or arguments: exit 2 with a message naming the problem."""
    res = invoke(*args)
    assert res.exit_code == 2
    assert needle in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize(
    ("path", "needles"),
    [
        (CLI_FIX / "missing.hl7", ["missing.hl7", "no such file"]),
        (CLI_FIX / "not_results.txt", ["not_results.txt", "line 1"]),
        (FIX / "csv" / "empty.csv", ["empty.csv"]),
        (CLI_FIX / "broken_bundle.json", ["broken_bundle.json"]),
        (CLI_FIX, ["directory"]),
    ],
)
def test_unreadable_input_exits_1_with_a_sentence(path: Path, needles: list[str]) -> None:
    """Input that cannot be read: exit 1, the file named, no traceback, nothing on stdout."""
    res = _runner().invoke(cli, ["report", str(path)])
    assert res.exit_code == 1, res.stdout
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("guttests: error: ")
    for needle in needles:
        assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 3


def test_unexpected_error_is_one_sentence_without_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug ends in exit 1 and the error's type only (its text might quote patient data)."""
    import guttests._interpret

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Example, Robin EX-1001")

    monkeypatch.setattr(guttests._interpret, "interpret_panel", broken)
    res = _runner().invoke(cli, ["report", "--example"])
    assert res.exit_code == 1
    assert "internal error (RuntimeError)" in res.stderr
    assert "--debug" in res.stderr
    assert "EX-1001" not in res.stderr


def test_hints_name_command_line_options() -> None:
    """The library's hints about Python arguments become option names on the command line."""
    res = invoke("report", "-", input=b"just a line of text\n")
    assert res.exit_code == 1
    assert "--input-format" in res.stderr
    assert "format=" not in res.stderr


def test_bad_range_file_on_report_exits_1() -> None:
    """A --ranges file with an error: exit 1 naming the file and entry."""
    res = invoke("report", "--example", "--ranges", CLI_FIX / "bad_ranges.toml")
    assert res.exit_code == 1
    assert 'bad_ranges.toml, range "calprotectin.typo"' in res.stderr


def test_user_ranges_are_used_and_labelled() -> None:
    """A lab's range file given with --ranges and --prefer-catalogue is used as a user range."""
    res = invoke(
        "report",
        "--example",
        "-f",
        "json",
        "--prefer-catalogue",
        "--ranges",
        CLI_FIX / "lab_ranges.toml",
    )
    assert res.exit_code == 0, res.stderr
    rows = json.loads(res.stdout)["results"]
    siga = next(r for r in rows if r["name"] == "Secretory IgA, Stool")
    assert siga["range"]["origin"] == "user"


# --- ranges and analytes -----------------------------------------------------------------


def test_ranges_list_shows_every_range() -> None:
    """`ranges list` has one line per catalogue range."""
    from guttests._catalogue import Catalogue

    res = invoke("ranges", "list")
    assert res.exit_code == 0
    for r in Catalogue.default().ranges:
        assert r.id in res.stdout


def test_ranges_list_family_filter() -> None:
    """`ranges list --family food_sensitivity` shows only that family's ranges."""
    res = invoke("ranges", "list", "--family", "food_sensitivity")
    assert res.exit_code == 0
    assert "food_ige.mayo" in res.stdout
    assert "calprotectin" not in res.stdout


@pytest.mark.parametrize("query", ["calprotectin", "Faecal calprotectin", "38445-3"])
def test_ranges_show_by_id_alias_or_loinc(query: str) -> None:
    """`ranges show` finds an analyte by id, alias or LOINC code and lists sources and bands."""
    res = invoke("ranges", "show", query)
    assert res.exit_code == 0, res.stderr
    assert "calprotectin.mayo" in res.stdout
    assert "Mayo Clinic Laboratories" in res.stdout
    assert "50–120" in res.stdout


def test_ranges_show_suggests_close_names() -> None:
    """An unknown name gets the closest known names."""
    res = invoke("ranges", "show", "Calprotectin, quantitative")
    assert res.exit_code == 2
    assert "closest known" in res.stderr


def test_ranges_validate_good_file_prints_warnings_and_exits_0() -> None:
    """A valid file: exit 0, its gap reported as a warning naming file and range."""
    res = invoke("ranges", "validate", CLI_FIX / "lab_ranges.toml")
    assert res.exit_code == 0, res.stderr
    assert 'lab_ranges.toml, range "secretory_iga.harbourside"' in res.stdout
    assert "above 2010" in res.stdout
    assert "valid range set (1 warning)" in res.stdout


def test_ranges_validate_bad_file_exits_1_naming_file_and_entry() -> None:
    """An invalid file: exit 1, the error names the file, the range and the band."""
    res = invoke("ranges", "validate", CLI_FIX / "bad_ranges.toml")
    assert res.exit_code == 1
    assert 'bad_ranges.toml, range "calprotectin.typo": bands[2].flag' in res.stderr
    assert "Traceback" not in res.stderr


def test_ranges_validate_missing_file_exits_1() -> None:
    """A path that does not exist is input that cannot be read."""
    res = invoke("ranges", "validate", CLI_FIX / "nope.toml")
    assert res.exit_code == 1
    assert "nope.toml" in res.stderr


def test_ranges_validate_optimal_rejects_reference_set() -> None:
    """--optimal checks that every range is a practitioner range."""
    res = invoke("ranges", "validate", "--optimal", CLI_FIX / "lab_ranges.toml")
    assert res.exit_code == 1
    assert "lab_ranges.toml" in res.stderr


def test_ranges_schema_is_the_published_schema() -> None:
    """`ranges schema` prints the JSON Schema that ships as reference_ranges/schema.json."""
    from guttests._catalogue import range_file_schema

    res = invoke("ranges", "schema")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == range_file_schema()


def test_analytes_family_stool() -> None:
    """`analytes --family stool` lists stool analytes only, with units and LOINC codes."""
    res = invoke("analytes", "--family", "stool")
    assert res.exit_code == 0
    assert "calprotectin" in res.stdout
    assert "38445-3" in res.stdout
    assert "zonulin_serum" not in res.stdout
    res_json = invoke("analytes", "--family", "stool", "--format", "json")
    records = json.loads(res_json.stdout)
    assert records
    assert {r["family"] for r in records} == {"stool"}
    calpro = next(r for r in records if r["id"] == "calprotectin")
    assert calpro["unit"] == "ug/g"
    assert "Faecal calprotectin" in calpro["aliases"]


# --- batch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        STOOL_HL7,
        FIX / "hl7v2" / "batch_mllp.hl7",
        FIX / "fhir" / "food-igg-export.ndjson",
        FIX / "json" / "food_igg.ndjson",
        FIX / "csv" / "stool_comprehensive.csv",
        CLI_FIX / "two_patients.csv",
    ],
    ids=lambda p: p.name,
)
def test_batch_writes_one_line_per_input_result(in_tmp: Path, source: Path) -> None:
    """NDJSON line count equals the input's result count; every line is a result record."""
    expected = sum(1 for _ in iter_results(source))
    res = invoke("batch", source, "-o", "out.ndjson")
    assert res.exit_code == 0, res.stderr
    lines = (in_tmp / "out.ndjson").read_bytes().splitlines()
    assert len(lines) == expected
    records = [orjson.loads(line) for line in lines]
    assert all(r["status"] in ("interpreted", "not_interpretable") for r in records)
    assert f"{expected:,} results" in res.stderr
    interpreted = sum(r["status"] == "interpreted" for r in records)
    assert f"{interpreted:,} interpreted" in res.stderr


def test_batch_keeps_input_order_and_panel_index() -> None:
    """Records come in input order, with the index of their panel."""
    res = invoke("batch", CLI_FIX / "two_patients.csv", "--quiet")
    assert res.exit_code == 0
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["value"] for r in records] == ["32", "Not Detected", "184"]
    assert [r["panel_index"] for r in records] == [0, 0, 1]
    assert res.stderr == ""


def test_batch_from_stdin_to_stdout() -> None:
    """`batch -` streams stdin to stdout."""
    res = invoke("batch", "-", "-q", input=STOOL_HL7.read_bytes())
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == 17


def test_batch_deidentify_drops_file_names() -> None:
    """--deidentify leaves the source file out of each record."""
    res = invoke("batch", STOOL_HL7, "-q", "--deidentify")
    assert all(json.loads(line)["source"]["file"] is None for line in res.stdout.splitlines())


def test_batch_failure_leaves_no_output_file(in_tmp: Path) -> None:
    """When the input cannot be read, no partial output file appears; exit 1."""
    res = invoke("batch", CLI_FIX / "not_results.txt", "-o", "out.ndjson")
    assert res.exit_code == 1
    assert list(in_tmp.iterdir()) == []


def test_batch_limit() -> None:
    """--max-results stops with an error naming the option, not the Python argument."""
    res = invoke("batch", STOOL_HL7, "--max-results", "3", "-q")
    assert res.exit_code == 1
    assert "more than 3 results" in res.stderr
    assert "--max-results" in res.stderr


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=hl7_messages())
def test_batch_loses_nothing_hl7(sample: object) -> None:
    """Property: for any generated HL7 input, batch writes one record per result."""
    text: str = sample.text  # type: ignore[attr-defined]
    res = _runner().invoke(cli, ["batch", "-", "-q"], input=text.encode("utf-8"))
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == sample.result_count  # type: ignore[attr-defined]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=csv_texts())
def test_reports_count_every_result_csv(sample: object) -> None:
    """Property: over the per-patient JSON reports, the counts add up to the input's results."""
    text: str = sample.text  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as out:
        res = _runner().invoke(
            cli, ["report", "-", "-f", "json", "-o", out], input=text.encode("utf-8")
        )
        if res.exit_code == 1:  # one identifier with two sexes: refused, never merged
            assert "disagree" in res.stderr, res.stderr
            return
        assert res.exit_code == 0, res.stderr
        docs = [json.loads(p.read_text(encoding="utf-8")) for p in Path(out).iterdir()]
    assert sum(d["counts"]["total"] for d in docs) == sample.result_count  # type: ignore[attr-defined]


# --- help and version --------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["report"],
        ["batch"],
        ["ranges"],
        ["ranges", "list"],
        ["ranges", "show"],
        ["ranges", "validate"],
        ["ranges", "schema"],
        ["analytes"],
    ],
)
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    """--help works everywhere and shows examples."""
    res = invoke(*command, "--help")
    assert res.exit_code == 0
    assert "Example" in res.stdout
    assert "guttests" in res.stdout


def test_version() -> None:
    """--version prints the package version."""
    res = invoke("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"guttests {__version__}"


# --- documentation ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api.md", "interpretation.md"])
def test_doc_examples_run(name: str) -> None:
    """The >>> examples in the practitioner's docs run and give what the docs say."""
    failed, attempted = doctest.testfile(
        str(REPO / "docs" / name),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert attempted > 10
    assert failed == 0


_MY_DOCS = ["quickstart.md", "cli.md", "interpretation.md", "api.md", "integration.md"]


@pytest.fixture(scope="module")
def forbidden() -> Any:
    """tests/forbidden_phrases.py, the reports' neutral-language list (loaded by path)."""
    path = Path(__file__).with_name("forbidden_phrases.py")
    if not path.is_file():
        pytest.skip("tests/forbidden_phrases.py is not present")
    spec = importlib.util.spec_from_file_location("forbidden_phrases", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [*_MY_DOCS, "dependencies.md"])
def test_docs_use_neutral_language(forbidden: Any, name: str) -> None:
    """The practitioner's docs keep the neutral-language policy of the reports."""
    assert forbidden.find_forbidden((REPO / "docs" / name).read_text(encoding="utf-8")) == []


def test_help_texts_use_neutral_language(forbidden: Any) -> None:
    """No command's help says what a report must never say."""
    for command in ([], ["report"], ["batch"], ["ranges"], ["ranges", "validate"], ["analytes"]):
        assert forbidden.find_forbidden(invoke(*command, "--help").stdout) == [], command


# --- the real entry points ---------------------------------------------------------------


def test_module_entry_point_runs_the_example(tmp_path: Path) -> None:
    """`python -m guttests report --example` works as a new user runs it."""
    proc = run_module("report", "--example", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode("utf-8").startswith("LABORATORY RESULTS SUMMARY")
    assert proc.stderr == b""


def test_module_entry_point_reads_a_pipe(tmp_path: Path) -> None:
    """A real pipe into `report -`: only the report on stdout."""
    proc = run_module("report", "-", "-f", "json", cwd=tmp_path, stdin=STOOL_HL7.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["total"] == 17


def test_module_entry_point_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    """Real process: bad input exits 1 without a traceback; a usage error exits 2."""
    bad = run_module("report", CLI_FIX / "not_results.txt", cwd=tmp_path)
    assert bad.returncode == 1
    assert b"Traceback" not in bad.stderr
    assert b"not_results.txt" in bad.stderr
    usage = run_module("report", cwd=tmp_path)
    assert usage.returncode == 2


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """--debug lets the traceback through (exit 1), for bug reports."""
    proc = run_module("report", CLI_FIX / "not_results.txt", "--debug", cwd=tmp_path)
    assert proc.returncode == 1
    assert b"Traceback" in proc.stderr
    assert b"CSVError" in proc.stderr


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("guttests")
    return shutil.which("guttests") or (str(beside) if beside.is_file() else None)


@pytest.mark.skipif(_console_script() is None, reason="console script not installed")
def test_console_script(tmp_path: Path) -> None:
    """The installed `guttests` script is the same command."""
    exe = _console_script()
    assert exe is not None
    proc = subprocess.run(
        [exe, "ranges", "show", "calprotectin"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"calprotectin.mayo" in proc.stdout
