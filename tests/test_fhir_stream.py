"""FHIR Bundles are read one entry at a time; long ones in windows (issue 17 §2)."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests._models import Panel
from guttests._readers import fhir
from guttests._readers.fhir import iter_panels, read_fhir
from guttests.testing import panels, to_fhir

JSON = dict[str, Any]


def _patient(n: int) -> JSON:
    return {
        "fullUrl": f"urn:uuid:p-{n}",
        "resource": {"resourceType": "Patient", "gender": "female" if n % 2 else "male"},
    }


def _obs(n: int, patient: int | None) -> JSON:
    res: JSON = {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "code": {"text": "Calprotectin"},
        "valueQuantity": {"value": n, "unit": "ug/g"},
    }
    if patient is not None:
        res["subject"] = {"reference": f"urn:uuid:p-{patient}"}
    return {"fullUrl": f"urn:uuid:o-{n}", "resource": res}


def _report(patient: int, observations: range) -> JSON:
    return {
        "resource": {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": {"text": "Stool panel"},
            "subject": {"reference": f"urn:uuid:p-{patient}"},
            "result": [{"reference": f"urn:uuid:o-{n}"} for n in observations],
        }
    }


def _bundle(entries: list[JSON]) -> str:
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


class _CountingStream(io.StringIO):
    """A text stream that records how many characters were read from it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.consumed = 0

    def read(self, size: int | None = -1) -> str:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


def test_a_long_bundle_yields_panels_before_it_is_read_whole() -> None:
    entries = [_patient(0)] + [_obs(n, 0) for n in range(10_000)]
    stream = _CountingStream(_bundle(entries))
    panels = iter_panels(stream)
    first = next(panels)
    assert len(first.results) == fhir._WINDOW - 1  # the Patient was entry 1
    assert stream.consumed < len(stream.getvalue()) / 4
    rest = list(panels)
    assert sum(len(p.results) for p in [first, *rest]) == 10_000
    assert {p.patient.sex for p in [first, *rest]} == {"male"}  # the Patient is remembered


@pytest.mark.parametrize("window", [1, 2, 3, 5, 7, 1000])
def test_windows_keep_every_result_under_its_patient_and_report(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports before their Observations: grouping and patients survive window edges."""
    monkeypatch.setattr(fhir, "_WINDOW", window)
    entries: list[JSON] = []
    owner: dict[str, str] = {}
    n = 0
    for p in range(4):
        entries.append(_patient(p))
        entries.append(_report(p, range(n, n + 3)))
        for k in range(n, n + 3):
            entries.append(_obs(k, None if k % 2 else p))  # half inherit the report's subject
            owner[f"o{k}"] = "female" if p % 2 else "male"
        n += 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        panels = read_fhir(_bundle(entries))
    got = {r.provenance.source_id: p.patient.sex for p in panels for r in p.results}
    assert got == owner
    assert all(p.name == "Stool panel" for p in panels)
    locations = [r.provenance.location for p in panels for r in p.results]
    assert len(locations) == len(set(locations)) == 12


def test_window_results_are_identical_to_whole_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [_patient(0), _patient(1)] + [_obs(n, n % 2) for n in range(40)]
    text = _bundle(entries)
    whole = [r for p in read_fhir(text) for r in p.results]
    monkeypatch.setattr(fhir, "_WINDOW", 4)
    windowed = [r for p in read_fhir(text) for r in p.results]
    assert sorted(whole, key=lambda r: r.provenance.location) == sorted(
        windowed, key=lambda r: r.provenance.location
    )


def test_missing_references_in_a_windowed_bundle_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir, "_WINDOW", 2)
    entries = [_patient(0), _report(0, range(3)), _obs(0, 0), _obs(7, 0), _obs(8, 0)]
    with pytest.warns(UserWarning, match="references 2 Observations not found near the report"):
        panels = read_fhir(_bundle(entries))
    assert sum(len(p.results) for p in panels) == 3


def test_bundle_keys_after_entry_and_before_resource_type() -> None:
    """Key order does not matter: entry before resourceType is read (whole), after too."""
    obs = _obs(1, None)
    a = '{"entry": [' + json.dumps(obs) + '], "resourceType": "Bundle", "type": "collection"}'
    b = '{"resourceType": "Bundle", "entry": [' + json.dumps(obs) + '], "total": 1}'
    for text in (a, b):
        (panel,) = read_fhir(text)
        assert panel.results[0].value_text == "1"


def test_truncated_bundle_is_an_error_with_a_line() -> None:
    text = _bundle([_obs(n, None) for n in range(5)])[:-30]
    with pytest.raises(fhir.FHIRError, match="not JSON") as err:
        list(iter_panels(io.StringIO(text)))
    assert err.value.location is not None
    assert err.value.location.startswith("line 1")


def test_ndjson_after_a_pretty_printed_first_resource() -> None:
    first = json.dumps(_obs(1, None)["resource"], indent=2)
    second = json.dumps(_obs(2, None)["resource"])
    panels = read_fhir(first + "\n" + second + "\n")
    assert [p.results[0].value_text for p in panels] == ["1", "2"]
    assert panels[1].results[0].provenance.location == "line 13 (Observation)"


@settings(max_examples=25, deadline=None)
@given(ps=st.lists(panels(), min_size=1, max_size=4), window=st.integers(1, 6))
def test_windowed_reading_files_every_result_as_whole_reading(ps: list[Panel], window: int) -> None:
    """Property: for reports written before their Observations (as guttests.testing writes
    them), reading in windows gives the same results under the same patients."""
    text = to_fhir(ps)

    def view(panels: list[Panel]) -> list[tuple[str | None, Any, str, str | None]]:
        return sorted(
            (r.provenance.source_id, p.patient.model_dump_json(), r.value_text, p.name)
            for p in panels
            for r in p.results
        )

    whole = read_fhir(text)
    original = fhir._WINDOW
    fhir._WINDOW = window
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            windowed = read_fhir(text)
    finally:
        fhir._WINDOW = original
    assert view(windowed) == view(whole)
    assert sum(len(p.results) for p in ps) == len(view(windowed))
