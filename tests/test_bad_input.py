"""The bad-input corpus (tests/fixtures/bad): each file fails, or is read, exactly as expected.

``expected.toml`` holds, for each case, either the exact error (class, message, location)
or the results read (by provenance location) with their value error and, after
interpretation, their status and exact reason. Everything goes through the public API.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path
from typing import Any

import pytest

import guttests
from guttests import Catalogue, GuttestsError, interpret_panels

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
CASES: list[dict[str, Any]] = tomllib.loads((BAD / "expected.toml").read_text("utf-8"))["case"]
_HELPERS = {"expected.toml", "absolute_limits.toml"}


def _id(case: dict[str, Any]) -> str:
    return case["file"] + (f"-as-{case['format']}" if "format" in case else "")


def _run(case: dict[str, Any]) -> list[tuple[guttests.Interpretation, ...]]:
    path = BAD / case["file"]
    if path.suffix == ".toml":
        Catalogue.load(Path(case["file"]))
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panels = guttests.read(path, case.get("format"))
    catalogue = (
        Catalogue.load(BAD / case["catalogue"]) if "catalogue" in case else Catalogue.default()
    )
    return interpret_panels(panels, catalogue=catalogue)


def test_every_bad_file_has_an_expectation() -> None:
    """No file in the corpus is left without its expected outcome."""
    files = {p.name for p in BAD.iterdir()} - _HELPERS
    assert files == {c["file"] for c in CASES}


@pytest.mark.parametrize("case", [c for c in CASES if "error" in c], ids=_id)
def test_bad_file_raises_exactly(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The error's class, message and location are exactly the expected ones."""
    monkeypatch.chdir(BAD)  # range-file errors name the path as given
    with pytest.raises(GuttestsError) as info:
        _run(case)
    err = info.value
    assert type(err).__name__ == case["error"]
    assert str(err) == case["message"]
    assert err.location == case.get("location")
    assert err.source == case["file"]


@pytest.mark.parametrize("case", [c for c in CASES if "error" not in c], ids=_id)
def test_bad_file_results_say_why(case: dict[str, Any]) -> None:
    """Every observation is a result; each says exactly why it is not interpretable."""
    interps = [i for panel in _run(case) for i in panel]
    assert len(interps) == case["results"]
    expected = {r["location"]: r for r in case["result"]}
    assert [i.result.provenance.location for i in interps] == list(expected)
    for interp in interps:
        want = expected[interp.result.provenance.location]
        assert interp.result.value_text == want["value_text"]
        assert interp.result.value_error == want.get("value_error")
        assert interp.status == want["status"]
        assert interp.reason == want.get("reason")
        if interp.status == "not_interpretable":
            assert interp.reason  # a result that could not be interpreted says why


def test_duplicated_obx_set_ids_are_both_kept() -> None:
    """Two OBX segments with set ID 1 are two results at their own positions: nothing lost."""
    [panel] = guttests.read(BAD / "duplicate_obx_set_id.hl7")
    calpro = [r for r in panel.results if r.name == "Calprotectin, Feces"]
    assert [r.value_text for r in calpro] == ["112.4", "98.0"]
    assert [r.status for r in calpro] == [
        guttests.ResultStatus.FINAL,
        guttests.ResultStatus.CORRECTED,
    ]


def test_wrong_unit_names_both_units() -> None:
    """ng/mL for stool calprotectin is not interpretable, and the reason names both units."""
    [[interp]] = interpret_panels(guttests.read(BAD / "wrong_unit.hl7"))
    assert interp.status == "not_interpretable"
    assert interp.reason is not None
    assert "ng/mL" in interp.reason
    assert "ug/g" in interp.reason


def test_calprotectin_without_birth_date_depends_on_age() -> None:
    """Without a birth date the age-dependent calprotectin range cannot be chosen."""
    [[interp]] = interpret_panels(guttests.read(BAD / "needs_age.hl7"))
    assert interp.reason is not None
    assert "depends on age at collection" in interp.reason


@pytest.mark.parametrize(
    ("file", "fmt", "cause"),
    [
        ("latin1.csv", None, UnicodeDecodeError),
        ("not_json.json", None, json.JSONDecodeError),
        ("bad_segment.hl7", None, type(None)),
    ],
)
def test_third_party_errors_are_wrapped_with_their_cause(
    file: str, fmt: str | None, cause: type[BaseException]
) -> None:
    """A wrapped error keeps the library's exception as __cause__ (raise ... from exc)."""
    with pytest.raises(GuttestsError) as info:
        guttests.read(BAD / file, fmt)  # type: ignore[arg-type]
    assert isinstance(info.value.__cause__, cause)
    assert info.value.source == file
