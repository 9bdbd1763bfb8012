"""The engine's invariants over generated catalogues, units and patients.

* monotonicity: a larger value never gets a lower flag (LL < L < N < H < HH) from the same range;
* unit invariance: the same quantity in any compatible unit gets the same flag (compared only
  when the value is not within a relative 1e-9 of a band boundary, where float rounding of the
  conversion may legitimately move it across);
* censored soundness: when a censored value ``<c`` (``>c``, ...) gets a flag, every exact
  value it covers gets that flag from the same range.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from guttests._catalogue import Catalogue
from guttests._interpret import interpret
from guttests._models import Analyte, Interpretation, PatientContext, Result
from guttests._types import InterpretationCode, ResultStatus, ValueKind
from guttests._units import conversion_factor, is_arbitrary
from guttests._values import parse_value
from guttests.testing import catalogues, numbers, patient_contexts, results, units

IC = InterpretationCode
ORDER = {IC.CRITICAL_LOW: 0, IC.LOW: 1, IC.NORMAL: 2, IC.HIGH: 3, IC.CRITICAL_HIGH: 4}

CATALOGUES = {
    applies: catalogues(
        kind=ValueKind.QUANTITATIVE, max_analytes=2, max_ranges=2, applicability=applies
    )
    for applies in (True, False)
}
INTERPRETABLE = [s for s in ResultStatus if s.interpretable]


def _with_value(r: Result, text: str, unit: str | None) -> Result:
    return r.model_copy(update={"value_text": text, "value": parse_value(text), "unit": unit})


def _near_boundary(i: Interpretation) -> bool:
    x = i.value_in_range_unit
    assert x is not None
    assert i.range is not None
    bounds = [b for band in i.range.bands for b in (band.low, band.high) if b is not None]
    return any(math.isclose(x, b, rel_tol=1e-9, abs_tol=1e-300) for b in bounds)


@st.composite
def _setting(
    draw: st.DrawFn, applicability: bool = True
) -> tuple[Catalogue, Analyte, Result, PatientContext]:
    cat = draw(CATALOGUES[applicability])
    analyte = draw(st.sampled_from(cat.analytes))
    base = draw(results(analyte=analyte, kind="quantity", lab_ranges=False, statuses=INTERPRETABLE))
    return cat, analyte, base, draw(patient_contexts())


@settings(max_examples=60)
@given(_setting(), numbers(), numbers())
def test_monotone(
    setting: tuple[Catalogue, Analyte, Result, PatientContext], x: float, y: float
) -> None:
    """For one range and one unit, a larger value never gets a lower flag."""
    cat, _, base, ctx = setting
    lo, hi = sorted((x, y))
    i_lo = interpret(_with_value(base, repr(lo), base.unit), ctx, catalogue=cat)
    i_hi = interpret(_with_value(base, repr(hi), base.unit), ctx, catalogue=cat)
    assert i_lo.status == i_hi.status
    event(i_lo.status)
    if not i_lo.interpreted:
        return
    assert i_lo.range == i_hi.range
    # generated bands are adjacent: no value falls in a gap
    assert i_lo.flag in ORDER
    assert i_hi.flag in ORDER
    assert ORDER[i_lo.flag] <= ORDER[i_hi.flag]


@settings(max_examples=60)
@given(st.data(), _setting(), numbers())
def test_unit_invariance(
    data: st.DataObject, setting: tuple[Catalogue, Analyte, Result, PatientContext], x: float
) -> None:
    """The same quantity in any compatible unit gets the same flag from the same range."""
    cat, analyte, base, ctx = setting
    assert analyte.unit is not None
    other = data.draw(units(analyte), label="other unit")
    y = x * conversion_factor(analyte.unit, other)
    assume(math.isfinite(y))
    i_x = interpret(_with_value(base, repr(x), analyte.unit), ctx, catalogue=cat)
    i_y = interpret(_with_value(base, repr(y), other), ctx, catalogue=cat)
    if i_x.range is not None and not is_arbitrary(i_x.range.unit or "1"):
        # Physical units convert whatever their spelling; assay-specific ones only when
        # written exactly as the range writes them (the engine never assumes the assay).
        assert i_x.status == i_y.status, (i_x.reason, i_y.reason)
    if i_x.interpreted and i_y.interpreted and not (_near_boundary(i_x) or _near_boundary(i_y)):
        assert i_x.range == i_y.range
        assert i_x.flag == i_y.flag


@st.composite
def _limits(draw: st.DrawFn, cat: Catalogue, analyte: Analyte, unit: str | None) -> float:
    """A censoring limit: any number, or one at or next to a band boundary of the analyte."""
    if draw(st.booleans()):
        return draw(numbers())
    bounds = [
        (b, r.unit)
        for r in cat.ranges_for(analyte.id)
        for band in r.bands
        for b in (band.low, band.high)
        if b is not None and r.unit is not None
    ]
    assume(bounds and unit is not None)
    bound, range_unit = draw(st.sampled_from(bounds))
    assert unit is not None
    return bound * conversion_factor(range_unit, unit) * draw(st.sampled_from((1.0, 0.9, 1.1)))


@settings(max_examples=50, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data(), _setting(applicability=False), st.sampled_from(["<", "<=", ">", ">="]))
def test_censored_soundness(
    data: st.DataObject,
    setting: tuple[Catalogue, Analyte, Result, PatientContext],
    comparator: str,
) -> None:
    """A flag given to a censored value holds for every exact value it covers."""
    cat, analyte, base, ctx = setting
    limit = data.draw(_limits(cat, analyte, base.unit), label="limit")
    censored = interpret(_with_value(base, f"{comparator}{limit!r}", base.unit), ctx, catalogue=cat)
    event("censored value flagged" if censored.flag not in (None, IC.INDETERMINATE) else "not")
    assume(censored.interpreted and censored.flag is not IC.INDETERMINATE)
    if comparator in ("<", "<="):
        assume(limit > 0 or comparator == "<=")
        exact = data.draw(
            st.floats(0, limit, exclude_max=comparator == "<" and limit > 0), label="exact"
        )
    else:
        exact = data.draw(
            st.floats(limit, limit * 4 + 1000, exclude_min=comparator == ">"), label="exact"
        )
    i = interpret(_with_value(base, repr(exact), base.unit), ctx, catalogue=cat)
    assert i.interpreted, i.reason
    assert i.range == censored.range
    if not _near_boundary(i):
        assert i.flag == censored.flag, (exact, i.band, censored.band)
