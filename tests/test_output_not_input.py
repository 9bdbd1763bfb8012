"""guttests' own output fed back as input is refused with a clear message (issue 15):
`guttests batch` NDJSON and the JSON report are not lab results; the FHIR output is FHIR
and reads back (tests/test_fhir_out.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from guttests import FormatError, build_report, interpret_panels, read, render, result_record
from guttests.cli import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "guttests" / "_data" / "examples"


def _batch_lines() -> str:
    import orjson

    panels = read(EXAMPLE / "stool.hl7")
    interps = interpret_panels(panels)
    return "".join(
        orjson.dumps(result_record(i, panel=p, panel_index=k)).decode() + "\n"
        for k, (p, ints) in enumerate(zip(panels, interps, strict=True))
        for i in ints
    )


def test_batch_ndjson_is_refused_as_input() -> None:
    with pytest.raises(FormatError, match=r"guttests output, not lab input.*batch"):
        read(_batch_lines())


def test_json_report_is_refused_as_input() -> None:
    panels = read(EXAMPLE / "stool.hl7")
    text = render(build_report(panels, interpret_panels(panels)), "json")
    with pytest.raises(FormatError, match=r"guttests output, not lab input.*JSON report"):
        read(text)


def test_cli_report_on_batch_output_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "batch.ndjson"
    path.write_text(_batch_lines(), encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(path)])
    assert result.exit_code != 0
    assert "guttests output, not lab input" in result.output
    assert "Traceback" not in result.output
