"""De-identification holds in every format and every message (issue 14 §1).

Patients get random names, identifiers, birth dates and file names; under ``deidentify``
none of those strings may appear in any rendered format (text, md, html, json, fhir), in a
batch NDJSON record, or in any error or warning the command line prints. Messages never
quote a birth date or a CSV cell, with or without ``--deidentify``.
"""

from __future__ import annotations

import contextlib
import string
import tempfile
from datetime import date
from pathlib import Path

import orjson
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guttests import Catalogue, build_report, interpret_panel, render, result_record
from guttests._models import Identifier, Panel, Provenance
from guttests.cli import cli
from guttests.testing import panels, to_csv, to_fhir, to_hl7v2

_CATALOGUE = Catalogue.default()
_FORMATS = ("text", "md", "html", "json", "fhir")

# Tokens long and odd enough never to occur in a report by chance ("Qz" + letters/digits).
_tokens = st.text(string.ascii_letters + string.digits, min_size=6, max_size=10).map(
    lambda s: f"Qz{s}"
)
# Birth dates before any generated collection date (2015 onwards), so that the date
# cannot legitimately appear as a collection date.
_births = st.dates(date(1920, 1, 1), date(2010, 12, 31))


class _Secrets:
    def __init__(self, family: str, given: str, mrn: str, other_id: str, birth: date) -> None:
        self.family, self.given, self.mrn, self.other_id, self.birth = (
            family,
            given,
            mrn,
            other_id,
            birth,
        )

    @property
    def strings(self) -> tuple[str, ...]:
        return (
            self.family,
            self.given,
            self.mrn,
            self.other_id,
            self.birth.isoformat(),
            self.birth.strftime("%Y%m%d"),
        )

    def leaked(self, text: str) -> list[str]:
        return [s for s in self.strings if s in text]


@st.composite
def _identified_panels(draw: st.DrawFn) -> tuple[Panel, _Secrets]:
    secrets = _Secrets(draw(_tokens), draw(_tokens), draw(_tokens), draw(_tokens), draw(_births))
    panel = draw(panels(max_results=4, ages=False))
    patient = panel.patient.model_copy(
        update={
            "patient_id": secrets.mrn,
            "name": f"{secrets.family}, {secrets.given}",
            "birth_date": secrets.birth,
            "age": None,
            "identifiers": (
                Identifier(value=secrets.mrn, system="urn:oid:1.2.3", type="MR"),
                Identifier(value=secrets.other_id, assigner="HOSP"),
            ),
        }
    )
    results = tuple(
        r.model_copy(
            update={
                "identifiers": (Identifier(value=f"{secrets.other_id}-{n}"),),
                "provenance": Provenance(
                    source=f"{secrets.family}.hl7",
                    location=f"line {n + 2}",
                    source_id=f"obs-{secrets.mrn}-{n}",
                ),
            }
        )
        for n, r in enumerate(panel.results)
    )
    panel = panel.model_copy(
        update={
            "patient": patient,
            "results": results,
            "provenance": Provenance(
                source=f"{secrets.family}.hl7", location="lines 2-9", source_id=secrets.other_id
            ),
        }
    )
    return panel, secrets


@settings(max_examples=40, deadline=None)
@given(_identified_panels())
def test_deidentified_reports_hold_no_identifier_in_any_format(
    case: tuple[Panel, _Secrets],
) -> None:
    """Names, identifiers (patient and result), source ids, file names and the birth date
    appear in no rendered format and in no batch record of a de-identified report."""
    panel, secrets = case
    interps = interpret_panel(panel, catalogue=_CATALOGUE)
    report = build_report(
        [panel], [interps], catalogue_hash="x", version="0", deidentify=True, catalogue=_CATALOGUE
    )
    for fmt in _FORMATS:
        text = render(report, fmt)
        assert not secrets.leaked(text), fmt
    for interp in interps:
        record = orjson.dumps(result_record(interp, panel=panel, deidentify=True)).decode()
        assert not secrets.leaked(record)


@settings(max_examples=10, deadline=None)
@given(_identified_panels())
def test_identified_reports_still_show_the_patient(case: tuple[Panel, _Secrets]) -> None:
    """The control: without deidentify the same report names the patient (the test can fail)."""
    panel, secrets = case
    interps = interpret_panel(panel, catalogue=_CATALOGUE)
    report = build_report([panel], [interps], catalogue_hash="x", version="0")
    assert secrets.mrn in render(report, "json")
    assert secrets.family in render(report, "text")


_WRITERS = {"csv": (to_csv, ".csv"), "hl7v2": (to_hl7v2, ".hl7"), "fhir": (to_fhir, ".json")}


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=_identified_panels(), kind=st.sampled_from(sorted(_WRITERS)))
def test_cli_deidentify_leaks_nothing_in_outputs_or_messages(
    case: tuple[Panel, _Secrets], kind: str
) -> None:
    """Through the command line, from CSV, HL7 v2 and FHIR files named after the patient:
    no identifier in any report format, in batch NDJSON, or on stderr."""
    panel, secrets = case
    write, suffix = _WRITERS[kind]
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        path = Path(tmp) / f"{secrets.family}-{secrets.mrn}{suffix}"
        path.write_text(write([panel]), encoding="utf-8")
        for fmt in _FORMATS:
            res = runner.invoke(cli, ["report", str(path), "--deidentify", "-f", fmt])
            assert res.exit_code == 0, res.stderr
            written = "".join(p.read_text("utf-8") for p in Path().glob("*.html"))
            for p in Path().glob("*.html"):
                p.unlink()
            assert not secrets.leaked(res.stdout + written), (fmt, secrets.leaked(res.stdout))
            assert not secrets.leaked(res.stderr), fmt
        res = runner.invoke(cli, ["batch", str(path), "--deidentify", "-q"])
        assert res.exit_code == 0, res.stderr
        assert not secrets.leaked(res.stdout + res.stderr)


def test_cli_deidentify_errors_and_warnings_name_no_file_or_patient(tmp_path: Path) -> None:
    """An error and a warning under --deidentify name the input by position, not by name."""
    bad = tmp_path / "Kowalska-MRN5512.csv"
    bad.write_text("Patient ID,Test,Result\nMRN5512,pH,6.5,extra\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(bad), "--deidentify"])
    assert res.exit_code == 1
    assert "input 1, line 2" in res.stderr
    assert "Kowalska" not in res.stderr
    assert "MRN5512" not in res.stderr
    warned = tmp_path / "Kowalska-MRN5512-w.csv"
    warned.write_text("Patient ID,Test,Result,Remark\nMRN5512,pH,6.5,x\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(warned), "--deidentify"])
    assert res.exit_code == 0, res.stderr
    assert "warning: input 1" in res.stderr
    assert "Kowalska" not in res.stderr
    res = CliRunner().invoke(cli, ["report", str(warned), "--deidentify", "--patient", "MRN9999"])
    assert res.exit_code == 2
    assert "MRN9999" not in res.stderr


def test_birth_date_disagreement_quotes_neither_date(tmp_path: Path) -> None:
    """The --birth-date disagreement error names the option, never the input's or the
    user's date (with or without --deidentify)."""
    path = tmp_path / "lab.csv"
    path.write_text(
        "Patient ID,DOB,Test,Result,Units\nP1,1984-05-17,Zonulin,45,ng/mL\n", encoding="utf-8"
    )
    res = CliRunner().invoke(cli, ["report", str(path), "--birth-date", "1984-05-18"])
    assert res.exit_code == 2
    assert "--birth-date disagrees with the input" in res.stderr
    assert "1984" not in res.stderr


def test_birth_date_note_names_the_option_not_the_date(tmp_path: Path) -> None:
    """The note on a result whose range used --birth-date says so without the date."""
    path = tmp_path / "lab.hl7"
    path.write_text(
        "MSH|^~\\&|LIS|LAB|||20240301||ORU^R01|1|P|2.5.1\r"
        "PID|1||P1||Doe^Jane||||||||||||\r"
        "OBR|1|||TEST|||20240301\r"
        "OBX|1|NM|27925-7^Calprotectin^LN||112.4|ug/g|||||F|||20240301\r",
        encoding="utf-8",
    )
    res = CliRunner().invoke(
        cli, ["report", str(path), "--birth-date", "1981-02-03", "-f", "json", "--deidentify"]
    )
    assert res.exit_code == 0, res.stderr
    assert "1981" not in res.stdout
    assert "birth date from the command line (--birth-date)" in res.stdout


def test_csv_warnings_never_quote_a_date_or_a_header_that_is_data() -> None:
    """A first line that is data: the 'columns not read' warning gives positions only; a
    collection date that matches no format is not quoted."""
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_text(
            "Jane Doe 1984-05-17,Test,Result,Collected\na,pH,6.5,17/05/2024\n",
            encoding="utf-8",
        )
        res = runner.invoke(cli, ["report", str(path)])
    assert res.exit_code == 0, res.stderr
    assert "column 1 of line 1" in res.stderr
    assert "Jane" not in res.stderr
    assert "2024" not in res.stderr


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    case=_identified_panels(),
    kind=st.sampled_from(sorted(_WRITERS)),
    cut=st.floats(0.05, 0.95),
    deidentify=st.booleans(),
)
def test_errors_and_warnings_from_broken_files_name_no_patient(
    case: tuple[Panel, _Secrets], kind: str, cut: float, deidentify: bool
) -> None:
    """A file cut short anywhere: whatever the error or warning, it quotes no name, id or
    birth date (with or without --deidentify), and no file name under --deidentify."""
    panel, secrets = case
    write, suffix = _WRITERS[kind]
    text = write([panel])
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        path = Path(tmp) / f"{secrets.family}-{secrets.mrn}{suffix}"
        path.write_text(text[: int(len(text) * cut)], encoding="utf-8")
        args = ["report", str(path), "-f", "json"] + (["--deidentify"] if deidentify else [])
        res = runner.invoke(cli, args)
        assert "internal error" not in res.stderr
        shown = res.stderr.replace(str(path), "").replace(path.name, "")
        if deidentify:
            shown = res.stderr
        assert not secrets.leaked(shown), (res.stderr, secrets.leaked(shown))


def test_deidentify_redaction_replaces_whole_names_only(tmp_path: Path) -> None:
    """Under --deidentify, input names become "input N" as whole names: a file named "12"
    does not turn "line 12" into "line input 1"."""
    rows = "Patient ID,Test,Result\n" + "".join(f"P{i},pH,6.5\n" for i in range(10))
    path = tmp_path / "12"
    path.write_text(rows + "P11,pH,6.5,extra\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(path), "--deidentify", "--input-format", "csv"])
    assert res.exit_code == 1
    assert "input 1, line 12: row has 4 fields" in res.stderr
