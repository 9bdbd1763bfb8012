"""Fuzzing the readers and the whole pipeline: only GuttestsError escapes, nothing hangs.

Every input goes through the public API, once with each format forced and once with
detection. Inputs that can be read go on through interpretation, the report model and
every renderer; the number of report rows must equal the number of results read.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import defaultdict

import pytest
from fuzzlib import ALL_SEEDS, FORMATS, SEEDS, bounded, mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import guttests
from guttests import Catalogue, GuttestsError, Panel, interpret_panels
from guttests._reports import FORMATS as REPORT_FORMATS
from guttests._reports import build_report, render

# Three times the profile's examples: these tests are the fuzzing budget of the suite.
_FUZZ = settings(
    max_examples=3 * settings().max_examples,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_CATALOGUE = Catalogue.default()


def _read(data: bytes, fmt: str | None) -> list[Panel] | None:
    """Read ``data``; ``None`` when guttests refuses it (with a GuttestsError)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bounded(lambda: guttests.read(data, fmt))  # type: ignore[arg-type]
        except GuttestsError:
            return None


def _pipeline(panels: list[Panel]) -> None:
    """Interpret, report and render every format; one report per patient."""
    interps = interpret_panels(panels, catalogue=_CATALOGUE)
    groups: dict[str, tuple[list[Panel], list[tuple[guttests.Interpretation, ...]]]] = defaultdict(
        lambda: ([], [])
    )
    for panel, its in zip(panels, interps, strict=True):
        key = panel.patient.model_dump_json()
        groups[key][0].append(panel)
        groups[key][1].append(its)
    for group_panels, group_interps in groups.values():
        report = build_report(
            group_panels,
            group_interps,
            catalogue_hash=_CATALOGUE.content_hash,
            version=guttests.__version__,
        )
        assert len(report.rows) == sum(len(p.results) for p in group_panels)
        for fmt in REPORT_FORMATS:
            assert render(report, fmt)


@_FUZZ
@given(st.binary(max_size=2_000), st.sampled_from([None, *FORMATS]))
def test_arbitrary_bytes(data: bytes, fmt: str | None) -> None:
    """Arbitrary bytes: read or refused with a GuttestsError, within the time limit."""
    _read(data, fmt)


@_FUZZ
@given(st.text(max_size=500), st.sampled_from([None, *FORMATS]))
def test_arbitrary_text(text: str, fmt: str | None) -> None:
    """Arbitrary text (``str`` content or a would-be path): only GuttestsError escapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(GuttestsError):
            bounded(lambda: guttests.read(text + "\n", fmt))  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
@_FUZZ
@given(data=st.data())
def test_mutated_inputs_of_each_format(fmt: str, data: st.DataObject) -> None:
    """Mutated fixtures of one format, read as that format and with detection."""
    blob = data.draw(mutated(SEEDS[fmt]))
    for forced in (fmt, None):
        _read(blob, forced)


@_FUZZ
@given(mutated(ALL_SEEDS))
def test_pipeline_on_fuzzed_inputs(blob: bytes) -> None:
    """Whatever can be read goes through interpretation, report and every renderer."""
    panels = _read(blob, None)
    if panels is not None:
        bounded(lambda: _pipeline(panels), limit=10.0)
