"""Bounded resources, safe files and hostile text (issue 14 §2-§6, issue 12 §5).

Each test here would have caught one defect class found by the adversarial review.
"""

from __future__ import annotations

import gc
import io
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import weakref
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

import guttests
import guttests._readers
from guttests import (
    Age,
    Coding,
    Interpretation,
    LimitExceededError,
    Panel,
    PatientContext,
    Provenance,
    Result,
    UnitError,
    build_report,
    interpret_panel,
    parse_unit,
    parse_value,
    render,
)
from guttests._readers import iter_panel_parts
from guttests._reports._model import SerialPoint, _previous_points
from guttests._units import MAX_UNIT_CHARS
from guttests.cli import cli

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"


def _run(*args: str | Path, input: bytes | str | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    return res.exit_code, res.stdout, res.stderr


# --- JSON input: duplicate keys and lone surrogates ----------------------------------------


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "fhir"])
def test_lone_surrogates_and_duplicate_keys_never_reach_a_renderer(
    tmp_path: Path, fmt: str
) -> None:
    """Refused lines are listed as not interpretable; no renderer fails (exit 0, no
    'internal error')."""
    target = tmp_path / "report"
    code, _, err = _run(
        "report",
        BAD / "json_ndjson_refused_lines.ndjson",
        "--input-format",
        "json",
        "-f",
        fmt,
        "-o",
        target,
    )
    assert code == 0, err
    out = target.read_text("utf-8")
    assert "internal error" not in err
    assert "\ud800" not in out
    assert "\udc00" not in out


def test_lone_surrogate_in_batch_is_a_result_not_a_crash() -> None:
    code, out, err = _run(
        "batch", BAD / "json_ndjson_refused_lines.ndjson", "--input-format", "json", "-q"
    )
    assert code == 0, err
    assert len(out.splitlines()) == 3


# --- the serial-results section is not quadratic -------------------------------------------


def _serial_panel(n: int) -> tuple[Panel, tuple[Interpretation, ...]]:
    start = date(2000, 1, 1)
    results = tuple(
        Result(
            name="Calprotectin",
            code=Coding(system="http://loinc.org", code="38445-3"),
            value_text=str(20 + i % 90),
            value=parse_value(str(20 + i % 90)),
            unit="ug/g",
            # Distinct days, and a few days with two results (one of them censored).
            collected=start + timedelta(days=i // 2 if i % 10 == 0 else i),
            provenance=Provenance(location=f"line {i + 2}"),
        )
        for i in range(n)
    )
    panel = Panel(patient=PatientContext(sex="female", age=Age(value=40)), results=results)
    return panel, interpret_panel(panel)


def _report_time(n: int) -> float:
    panel, interps = _serial_panel(n)
    gc.collect()
    start = time.process_time()
    report = build_report([panel], [interps], catalogue_hash="x", version="0")
    took = time.process_time() - start
    [series] = report.serial
    assert len(series.points) == n
    return took


def test_serial_section_takes_linear_time() -> None:
    """Ten times the serial results of one analyte take about ten times as long to build,
    never a hundred (the earlier-result search was quadratic: 8,000 results took 12-21 s)."""
    small_t = _report_time(500)
    large_t = _report_time(5_000)
    assert large_t < 25 * max(small_t, 0.05), (small_t, large_t)


class _CountingStr(str):
    """A collection time that counts its comparisons."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _CountingStr.compared += 1
        return str.__eq__(self, other)

    def __lt__(self, other: str) -> bool:
        _CountingStr.compared += 1
        return str.__lt__(self, other)

    __hash__ = str.__hash__


@pytest.mark.parametrize("n", [10, 1_000, 20_000])
def test_previous_result_search_compares_each_point_a_constant_number_of_times(n: int) -> None:
    """The comparison count of the earlier-result search grows linearly with the points."""
    points = [
        SerialPoint.model_construct(
            collected=_CountingStr(f"2024-{1 + i // 1000:04d}-{i % 1000:03d}"),
            value=1.0,
            value_text="1",
            comparator="<" if i % 3 == 0 else None,
            result_index=i,
        )
        for i in range(n)
    ]
    _CountingStr.compared = 0
    previous = _previous_points(points)
    assert _CountingStr.compared <= 3 * n
    assert previous[0] is None
    assert all(p is not None and p.result_index == i - 1 for i, p in enumerate(previous[1:], 1))


# --- a unit longer than the cap is refused before parsing ----------------------------------


def test_unit_longer_than_the_cap_is_refused_before_parsing() -> None:
    """A 120 KB unit (32 s and 840 MB before) is a UnitError at once; 64 characters parse."""
    annotated = "ug/g{" + "x" * (MAX_UNIT_CHARS - 6) + "}"
    assert len(annotated) == MAX_UNIT_CHARS
    assert parse_unit(annotated).canonical.startswith("ug/g")
    with pytest.raises(UnitError, match=f"unit longer than {MAX_UNIT_CHARS} characters"):
        parse_unit(annotated + "x")
    with pytest.raises(UnitError, match=r"\(120,000\)") as info:
        parse_unit("(ug/" * 30_000)
    assert len(str(info.value)) < 300  # the text is clipped in the message


# --- reading stops at the limits -----------------------------------------------------------


class _CountingStream(io.StringIO):
    """A text stream that counts the characters handed out."""

    handed = 0

    def read(self, size: int | None = -1) -> str:
        got = super().read(size)
        self.handed += len(got)
        return got

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        got = super().readline(size)
        self.handed += len(got)
        return got


def test_max_results_stops_reading_inside_one_panel() -> None:
    """A CSV without patient columns is one panel: --max-results stops after N rows of it,
    having read a small part of the input, with the line named."""
    rows = "".join(f"Zonulin,{40 + i % 9},ng/mL\n" for i in range(200_000))
    stream = _CountingStream("Test,Result,Units\n" + rows)
    with pytest.raises(LimitExceededError, match="more than 1,000 results") as info:
        guttests.read(stream, "csv", max_results=1_000)
    assert info.value.location == "line 1002"
    assert stream.handed < len(stream.getvalue()) / 10


def test_batch_max_results_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    src = tmp_path / "one-panel.csv"
    src.write_text("Test,Result,Units\n" + "Zonulin,45,ng/mL\n" * 5_000, encoding="utf-8")
    out = tmp_path / "out.ndjson"
    code, _, err = _run("batch", src, "-o", out, "--max-results", "10", "-q")
    assert code == 1
    assert "more than 10 results" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_report_stdin_stops_at_the_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """`report -` reads stdin as a stream, counted against the byte limit as it flows."""
    monkeypatch.setattr(guttests._readers, "DEFAULT_MAX_BYTES", 4_096)
    big = "Test,Result,Units\n" + "Zonulin,45,ng/mL\n" * 1_000
    code, _, err = _run("report", "-", input=big)
    assert code == 1
    assert "stdin" in err
    assert "larger than 4,096 bytes" in err
    small = "Test,Result,Units\n" + "Zonulin,45,ng/mL\n" * 10
    code, out, err = _run("report", "-", "-f", "json", input=small)
    assert code == 0, err
    assert len(orjson.loads(out)["results"]) == 10


# --- output files ----------------------------------------------------------------------------

_LAB_CSV = "Patient ID,Test,Result,Units,Reference Range\nP1,Zonulin,45,ng/mL,<48\n"


def _lab(tmp_path: Path, name: str = "lab.csv") -> Path:
    path = tmp_path / name
    path.write_text(_LAB_CSV, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["report", "batch"])
def test_output_to_dev_null_writes_to_it_and_never_replaces_it(
    tmp_path: Path, command: str
) -> None:
    """-o /dev/null (a character device) is written to, not replaced by a regular file."""
    before = os.stat("/dev/null")
    code, _, err = _run(command, _lab(tmp_path), "-o", "/dev/null")
    assert code == 0, err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_output_to_a_fifo_writes_into_the_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = _run("report", _lab(tmp_path), "-f", "json", "-o", fifo)
    reader.join(timeout=10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert orjson.loads(got[0])["results"][0]["value"] == "45"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_output_through_a_symlink_writes_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real" / "report.md"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    code, _, err = _run("report", _lab(tmp_path), "-o", link)
    assert code == 0, err
    assert link.is_symlink()
    assert "Zonulin" in target.read_text("utf-8")


def test_an_input_file_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`report data.html -f html` would write data.html over its own input."""
    monkeypatch.chdir(tmp_path)
    data = _lab(tmp_path, "data.html")
    code, _, err = _run("report", "data.html", "--input-format", "csv", "-f", "html")
    assert code == 2
    assert "never overwritten" in err
    assert data.read_text("utf-8") == _LAB_CSV
    code, _, err = _run("report", data, "--input-format", "csv", "-o", tmp_path / "data.html")
    assert code == 2
    code, _, err = _run("batch", data, "--input-format", "csv", "-o", data)
    assert code == 2
    assert data.read_text("utf-8") == _LAB_CSV


def test_file_modes_new_replaced_and_umask(tmp_path: Path) -> None:
    """New files are 0600; a replaced file keeps its mode; --umask-mode uses the umask."""
    src = _lab(tmp_path)
    new = tmp_path / "new.txt"
    assert _run("report", src, "-o", new)[0] == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    kept = tmp_path / "kept.txt"
    kept.write_text("old", encoding="utf-8")
    kept.chmod(0o640)
    assert _run("report", src, "-o", kept)[0] == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert "Zonulin" in kept.read_text("utf-8")
    old = os.umask(0o027)
    try:
        shared = tmp_path / "shared.ndjson"
        assert _run("batch", src, "-o", shared, "--umask-mode", "-q")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640


def test_write_errors_name_the_path_given_never_the_temporary_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "report.txt"
    code, _, err = _run("report", _lab(tmp_path), "-o", missing)
    assert code == 1
    assert str(missing) in err
    assert ".tmp" not in err


def test_sigterm_removes_the_temporary_file(tmp_path: Path) -> None:
    """SIGTERM while batch writes: no hidden .tmp with patient data stays behind."""
    out = tmp_path / "out.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "guttests", "batch", "-", "-o", str(out), "-q"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdin is not None
    # More than the 64 KiB looked at for detection, then the pipe stays open: batch waits.
    proc.stdin.write(("Test,Result,Units,Range\n" + "Zonulin,45,ng/mL,<48\n" * 8_000).encode())
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".out.ndjson.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.ndjson.*.tmp")), "the temporary file never appeared"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    proc.stdin.close()
    assert proc.returncode == 143
    assert list(tmp_path.iterdir()) == []


# --- range files: user content is labelled; hostile text is inert ----------------------------

RANGES = Path(__file__).resolve().parent / "fixtures" / "ranges"
_CALPRO = 'Test,Result,Units,Reference Range\n"Calprotectin, Feces",112,ug/g,<=50\n'


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "fhir"])
def test_user_file_replacing_shipped_content_is_labelled_and_warned_once(
    tmp_path: Path, fmt: str
) -> None:
    lab = tmp_path / "lab.csv"
    lab.write_text(_CALPRO, encoding="utf-8")
    override = RANGES / "user_replaces_shipped.toml"
    code, _, err = _run(
        "report", lab, "--ranges", override, "--age", "40", "-f", fmt, "-o", tmp_path / "r"
    )
    assert code == 0, err
    # Wrapped lines joined; Markdown's escapes removed.
    text = " ".join((tmp_path / "r").read_text("utf-8").replace("\\", "").split())
    assert "A local note on medicines." in text
    assert "user content: from range file user_replaces_shipped.toml" in text
    assert "nalyte definition from user range file user_replaces_shipped.toml" in text
    warnings = [line for line in err.splitlines() if "replaces the shipped" in line]
    assert len(warnings) == 2  # one per replaced entry, once
    assert "calprotectin-not-diagnostic" in warnings[1]  # the dropped shipped caveats


_HOSTILE = "Zonulin\x1b]0;pwned\x07\x1b[2J\u202eLm/gn\x9b31m\rX"


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_control_and_bidi_characters_are_inert_in_text_outputs(tmp_path: Path, fmt: str) -> None:
    """ESC/OSC/CSI, C1, NUL, CR and bidi overrides from the input never reach text output."""
    lab = tmp_path / "lab.csv"
    lab.write_text(
        f'Test,Result,Units,Reference Range\n"{_HOSTILE}",45,ng/mL,<48\n', encoding="utf-8"
    )
    code, _, err = _run("report", lab, "-f", fmt, "--color", "-o", tmp_path / "out")
    assert code == 0, err
    text = (tmp_path / "out").read_text("utf-8")
    shown = text.replace("\\", "")
    assert "]0;" in shown  # shown, inert (text may wrap after the ';')
    assert "pwned" in shown
    for ch in ("\x1b", "\x07", "\x00", "\x9b", "\r", "\u202e"):
        assert ch not in text, repr(ch)


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_nul_and_bidi_from_the_api_are_inert(fmt: str) -> None:
    """Readers refuse NUL; a Result built in code with NUL or U+202E renders inert."""
    r = Result(
        name="Zon\x00ulin \u202e8>",
        value_text="45",
        value=parse_value("45"),
        unit="ng/mL",
        provenance=Provenance(location="row 1"),
    )
    panel = Panel(results=(r,))
    report = build_report([panel], [interpret_panel(panel)], catalogue_hash="x", version="0")
    text = render(report, fmt)
    assert "\x00" not in text
    assert "\u202e" not in text
    assert "ulin" in text


def test_terminal_report_keeps_its_own_colours_but_no_input_escapes(tmp_path: Path) -> None:
    lab = tmp_path / "lab.csv"
    lab.write_text(
        f'Test,Result,Units,Reference Range\n"{_HOSTILE}",45,ng/mL,<48\n', encoding="utf-8"
    )
    code, out, err = _run("report", lab, "--color")
    assert code == 0, err
    assert "\x1b]" not in out
    assert "\x1b[2J" not in out
    assert "\u202e" not in out


def test_range_commands_print_no_control_characters(tmp_path: Path) -> None:
    """`ranges show`, `ranges list`, `analytes` and `ranges validate` neutralise range text."""
    hostile = tmp_path / "hostile.toml"
    hostile.write_text(
        'format = "guttests-ranges/1"\nfamily = "stool"\n\n[[analyte]]\nid = "evil"\n'
        'name = "Evil\\u001b]8;;http://x\\u0007 \\u202eanalyte"\nspecimen = "stool"\n'
        'kind = "quantitative"\nunit = "ug/g"\n\n[[range]]\nid = "evil.r"\nanalyte = "evil"\n'
        'unit = "ug/g"\nsource = { text = "Lab \\u001b[31mred\\u009b handbook" }\n'
        'bands = [{ label = "normal", flag = "N", high = 50 }]\n',
        encoding="utf-8",
    )
    outputs = [
        _run("ranges", "show", "evil", "--ranges", hostile),
        _run("ranges", "list", "--ranges", hostile),
        _run("analytes", "--ranges", hostile),
        _run("analytes", "--format", "json", "--ranges", hostile),
        _run("ranges", "validate", hostile),
    ]
    for code, out, err in outputs:
        assert code == 0, err
        for ch in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert ch not in out + err, repr(ch)
    assert "Evil\ufffd]8;;" in outputs[0][1]


# --- batch streams results, not panels -------------------------------------------------------


def test_batch_path_holds_one_part_of_a_long_panel_at_a_time() -> None:
    """A CSV without patient columns is one panel (a 12 MB one-patient CSV took 2.6 GB in
    batch): the batch path reads it in parts of at most 1,000 results sharing one index,
    and a part is released before the next is read."""
    rows = "Test,Result,Units\n" + "Zonulin,45,ng/mL\n" * 5_500
    sizes: list[int] = []
    indexes: set[int] = set()
    alive: list[weakref.ref[Panel]] = []
    for index, part in iter_panel_parts(rows):
        sizes.append(len(part.results))
        indexes.add(index)
        alive.append(weakref.ref(part))
        del part
        gc.collect()
        assert sum(ref() is not None for ref in alive) <= 1
    assert sum(sizes) == 5_500
    assert max(sizes) == 1_000
    assert indexes == {0}


def test_batch_records_of_one_long_panel_share_its_index(tmp_path: Path) -> None:
    src = tmp_path / "two-panels.csv"
    rows = ["Patient ID,Test,Result,Units,Reference Range"]
    rows += [f"A,Zonulin,{i % 50},ng/mL,<48" for i in range(2_500)]
    rows += [f"B,Zonulin,{i % 50},ng/mL,<48" for i in range(10)]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = _run("batch", src)
    assert code == 0, err
    assert "2,510 results in 2 panels" in err
    indexes = [orjson.loads(line)["panel_index"] for line in out.splitlines()]
    assert indexes == [0] * 2_500 + [1] * 10


# --- --encoding: a usage error for codecs that are not text encodings of files ---------------


@pytest.mark.parametrize("command", ["report", "batch"])
@pytest.mark.parametrize(
    "encoding", ["rot13", "hex", "base64", "bz2", "punycode", "utf-16", "nope"]
)
def test_unusable_encodings_are_usage_errors_naming_the_option(
    tmp_path: Path, command: str, encoding: str
) -> None:
    out = tmp_path / "o.json"
    code, _, err = _run(command, _lab(tmp_path), "--encoding", encoding, "-o", out)
    assert code == 2, err
    assert "--encoding" in err
    assert "internal error" not in err
    assert not out.exists()


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "lab16.csv"
    path.write_bytes(_LAB_CSV.encode("utf-16"))  # with a BOM
    code, out, err = _run("report", path, "--encoding", "utf-16", "-f", "json")
    assert code == 0, err
    assert orjson.loads(out)["results"][0]["value"] == "45"


def test_lone_surrogate_in_csv_text_is_refused_at_the_reader() -> None:
    """CSV given as str can hold a lone surrogate: refused with the line, not an orjson or
    encoding failure in a renderer later."""
    with pytest.raises(guttests.CSVError, match="lone surrogate") as info:
        guttests.read("Test,Result,Units\npH,6.5,\nZon\ud800ulin,45,ng/mL\n")
    assert info.value.location == "line 3"


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "fhir"])
def test_lone_surrogate_built_in_code_renders_in_every_format(fmt: str) -> None:
    """A Result built in code can hold a lone surrogate: every renderer writes it as U+FFFD
    instead of failing (UnicodeEncodeError in md/html, orjson TypeError in json/fhir)."""
    r = Result(
        name="Zon\ud800ulin",
        value_text="45",
        value=parse_value("45"),
        unit="ng/mL",
        provenance=Provenance(location="row 1"),
    )
    panel = Panel(results=(r,))
    report = build_report([panel], [interpret_panel(panel)], catalogue_hash="x", version="0")
    out = render(report, fmt)
    assert "\ud800" not in out
    out.encode("utf-8")  # writable
