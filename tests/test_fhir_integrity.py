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


# --- JSON: duplicate keys, exact decimals, lone surrogates (issue 14 §6) -----------------


def _obs_text(value_json: str, extra: str = "") -> str:
    return (
        '{"resourceType": "Observation", "id": "o1", "status": "final",'
        f' "code": {{"text": "Calprotectin"}}{extra}, "valueQuantity": {value_json}}}'
    )


@pytest.mark.parametrize(
    ("text", "location"),
    [
        (_obs_text('{"value": 50, "value": 500, "unit": "ug/g"}'), "document"),
        (_obs_text('{"value": 50}', ', "status": "final"'), "document"),
        (
            '{"resourceType": "Bundle", "type": "collection", "entry": ['
            '{"resource": {"resourceType": "Patient"}},'
            f'{{"resource": {_obs_text("""{"value": 1, "unit": "x", "unit": "y"}""")}}}]}}',
            "entry 2",
        ),
        (
            '{"resourceType": "Patient", "id": "p"}\n'
            + _obs_text('{"value": 1, "value": 2}').replace("\n", " "),
            "line 2",
        ),
    ],
)
def test_duplicate_keys_are_an_error_naming_where(text: str, location: str) -> None:
    """Last-wins would silently pick one of two values: refused, with the place."""
    with pytest.raises(FHIRError, match="duplicate key") as err:
        read_fhir(text, source="dup.json")
    assert err.value.location == location


def test_duplicate_top_level_key_of_a_bundle_is_an_error() -> None:
    text = '{"resourceType": "Bundle", "type": "collection", "type": "searchset", "entry": []}'
    with pytest.raises(FHIRError, match="duplicate key 'type'"):
        read_fhir(text)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        ("12.40", "12.40"),
        ("0.000", "0.000"),
        ("1.5E+3", "1.5E+3"),
        ("1e2", "1e2"),
        ("62", "62"),
        ("-0.50", "-0.50"),
        ("123456789012345678901234567890.5", "123456789012345678901234567890.5"),
    ],
)
def test_decimals_keep_their_exact_text(number: str, text: str) -> None:
    panels = read_fhir(_obs_text(f'{{"value": {number}, "unit": "ug/g"}}'))
    (result,) = panels[0].results
    assert result.value_text == text
    assert result.value is not None
    assert result.value.text == text


def test_censored_decimal_keeps_its_text() -> None:
    panels = read_fhir(_obs_text('{"value": 10.0, "comparator": "<", "unit": "ug/g"}'))
    (result,) = panels[0].results
    assert result.value_text == "<10.0"
    assert result.value is not None
    assert result.value.text == "<10.0"


@pytest.mark.parametrize("number", ["1e-400", "2.5E-999", "0.1e-330"])
def test_a_number_too_small_for_a_float_is_not_zero(number: str) -> None:
    (result,) = read_fhir(_obs_text(f'{{"value": {number}, "unit": "ug/g"}}'))[0].results
    assert result.value is None
    assert result.value_text == number
    assert result.value_error is not None  # refused (here or by parse_value), never 0.0


def test_underflow_reason_is_named() -> None:
    (result,) = read_fhir(_obs_text('{"value": 1e-400, "unit": "ug/g"}'))[0].results
    assert result.value_error is not None
    assert "too small to represent" in result.value_error


def test_true_zeros_stay_values() -> None:
    for number in ("0", "0.0", "0e5", "-0.000"):
        (result,) = read_fhir(_obs_text(f'{{"value": {number}, "unit": "ug/g"}}'))[0].results
        assert result.value is not None, number
        assert result.value_text == number


def test_a_huge_integer_is_kept_as_text_not_a_crash() -> None:
    digits = "9" * 5000
    (result,) = read_fhir(_obs_text(f'{{"value": {digits}, "unit": "ug/g"}}'))[0].results
    assert result.value_text == digits
    assert result.value is None


@pytest.mark.parametrize("string", ["\\ud800", "abc\\udfff", "\\udc00\\ud800", "\\ud83d"])
def test_lone_surrogates_are_refused_at_the_reader(string: str) -> None:
    text = (
        '{"resourceType": "Observation", "status": "final",'
        f' "code": {{"text": "x{string}"}}, "valueString": "5"}}'
    )
    with pytest.raises(FHIRError, match="lone surrogate"):
        read_fhir(text)


def test_surrogate_pairs_are_fine() -> None:
    text = (
        '{"resourceType": "Observation", "status": "final",'
        ' "code": {"text": "x\\ud83d\\ude00"}, "valueString": "5"}'
    )
    (result,) = read_fhir(text)[0].results
    assert result.name == "x\U0001f600"


def test_a_raw_lone_surrogate_in_a_str_is_refused() -> None:
    """A str handed to the reader directly can hold a lone surrogate unescaped."""
    text = '{"resourceType": "Observation", "status": "final", "valueString": "5\ud800"}'
    with pytest.raises(FHIRError, match="lone surrogate"):
        read_fhir(text)
