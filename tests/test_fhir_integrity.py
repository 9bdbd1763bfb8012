"""FHIR input integrity: references not in the file are counted, never silent (issue 12 §6)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from guttests import GuttestsWarning
from guttests._errors import FHIRError
from guttests._readers.fhir import read_fhir
from guttests.cli import cli

REFS_ONLY = (
    Path(__file__).resolve().parent / "fixtures" / "bad" / "fhir_report_references_only.json"
)

JSON = dict[str, Any]


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def test_report_with_only_outside_references_is_an_error_with_the_count() -> None:
    with pytest.raises(FHIRError, match="references 3 Observations not in the input") as err:
        read_fhir(REFS_ONLY.read_text(encoding="utf-8"), source="refs.json")
    assert err.value.source == "refs.json"
    assert "stool-2024-118" not in str(err.value)


def test_some_references_outside_the_file_warn_with_the_count() -> None:
    doc = json.loads(REFS_ONLY.read_text(encoding="utf-8"))
    doc["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "calpro-118",
                "status": "final",
                "code": {"text": "Calprotectin"},
                "valueQuantity": {"value": 62, "unit": "ug/g"},
            }
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (panel,) = read_fhir(json.dumps(doc))
    assert len(panel.results) == 1
    messages = [str(w.message) for w in caught if isinstance(w.message, GuttestsWarning)]
    assert messages == [
        "DiagnosticReport.result references 2 Observations not in the input (not read)"
    ]


def test_all_references_in_the_file_say_nothing() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "valueString": "Negative",
    }
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "x"},
        "result": [{"reference": "Observation/o1"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": report}, {"resource": obs}],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (panel,) = read_fhir(json.dumps(bundle))
    assert len(panel.results) == 1


def test_report_and_batch_agree_on_missing_references(tmp_path: Path) -> None:
    """Both commands fail (exit 1) with the same message naming the count."""
    runner = _runner()
    rep = runner.invoke(cli, ["report", str(REFS_ONLY)])
    out = tmp_path / "out.ndjson"
    bat = runner.invoke(cli, ["batch", str(REFS_ONLY), "-o", str(out)])
    assert rep.exit_code == bat.exit_code == 1
    for res in (rep, bat):
        assert "references 3 Observations not in the input" in res.stderr
        assert "no lab results found" not in res.stderr
