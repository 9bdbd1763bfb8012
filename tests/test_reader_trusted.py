"""Readers that build results without pydantic validation build exactly the validated ones.

The bulk readers construct ``Panel``, ``Result``, ``Provenance`` and ``Identifier`` with
``guttests._models.trusted`` (values they typed themselves, the ``Result`` validator's
check run by hand). Each such object must equal what the validating constructor makes of
the same fields: the same values of the same types, the same fields set, and the same
refusal when the validator refuses.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from guttests._errors import GuttestsError
from guttests._models import Panel
from guttests._readers import iter_panels
from guttests.testing import panels as panel_strategy
from guttests.testing import to_fhir, to_hl7v2

FIXTURES = Path(__file__).parent / "fixtures"
HL7_FIXTURES = sorted((FIXTURES / "hl7v2").glob("*.hl7"))
FHIR_FIXTURES = sorted(p for p in (FIXTURES / "fhir").iterdir() if p.suffix in {".json", ".ndjson"})


def _same_as_validated(model: BaseModel) -> None:
    """``model`` equals a validated rebuild of itself, in values, types and fields set."""
    cls = type(model)
    fields = {k: getattr(model, k) for k in model.model_fields_set}
    for v in fields.values():
        if isinstance(v, BaseModel) and type(v).__name__ in {
            "Provenance",
            "Identifier",
            "Result",
            "Panel",
        }:
            _same_as_validated(v)
        elif isinstance(v, tuple):
            for item in v:
                if type(item).__name__ == "Identifier":
                    _same_as_validated(item)
    again = cls(**fields)
    assert again == model
    assert again.model_fields_set == model.model_fields_set
    for name in cls.model_fields:
        mine, theirs = getattr(model, name), getattr(again, name)
        assert type(mine) is type(theirs), name
        assert mine == theirs, name


def _check(panels: Sequence[Panel]) -> int:
    n = 0
    for panel in panels:
        _same_as_validated(panel)
        for r in panel.results:
            _same_as_validated(r)
            n += 1
    return n


def _read(path: Path) -> list[Panel] | None:
    try:
        return list(iter_panels(path, max_bytes=None, max_results=None))
    except GuttestsError:
        return None


@pytest.mark.parametrize("path", HL7_FIXTURES + FHIR_FIXTURES, ids=lambda p: p.name)
def test_fixture_results_equal_validated(path: Path) -> None:
    panels = _read(path)
    if panels is None:
        pytest.skip("not readable input (a test of errors)")
    _check(panels)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(panel_strategy(max_results=5), min_size=1, max_size=3),
    st.sampled_from(["hl7v2", "fhir"]),
)
def test_generated_results_equal_validated(panels: list[Panel], fmt: str) -> None:
    text = (to_hl7v2 if fmt == "hl7v2" else to_fhir)(panels)
    src: Any = io.StringIO(text, newline="")
    read = list(iter_panels(src, fmt, max_bytes=None, max_results=None))  # type: ignore[arg-type]
    assert _check(read) == sum(len(p.results) for p in panels)


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_surrogate_check_equals_the_regex(text: str) -> None:
    # the FHIR reader's C-speed check of each chunk for lone surrogates
    from guttests._readers.fhir import _LONE_SURROGATE, _holds_surrogate

    assert _holds_surrogate(text) == bool(_LONE_SURROGATE.search(text))
    assert _holds_surrogate(text + "\ud800")
    assert _holds_surrogate("\udfff" + text)
