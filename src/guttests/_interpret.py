"""The interpretation engine: choose a range for a result and say where the value lies.

Every result gets exactly one :class:`~guttests.Interpretation`: interpreted
against a range, or not interpretable with the reason. The engine never
guesses: a unit that does not convert, a range that needs context the panel
lacks, or a censored value that straddles a limit each say so.

>>> from guttests._models import Provenance, Result
>>> from guttests._range_text import parse_range_text
>>> from guttests._values import parse_value
>>> r = Result(name="Zonulin", value_text="<10", value=parse_value("<10"), unit="ng/mL",
...            lab_range=parse_range_text("<48", unit="ng/mL"),
...            provenance=Provenance(location="line 2"))
>>> i = interpret(r, catalogue=None)
>>> i.status, i.flag.value, i.band
('interpreted', 'N', 'within range')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from ._errors import UnitError
from ._models import (
    Analyte,
    Band,
    Caveat,
    Interpretation,
    OptimalAssessment,
    Panel,
    PatientContext,
    Position,
    ReferenceRange,
    Result,
    band_gaps,
)
from ._types import InterpretationCode, RangeCategory, ResultStatus, ValueKind
from ._values import CensoredValue, OrdinalValue, QualitativeValue, QuantityValue

if TYPE_CHECKING:
    from ._catalogue import Catalogue

__all__ = ["RangePolicy", "interpret", "interpret_panel", "interpret_panels"]

_IC = InterpretationCode

#: Sentinel meaning "use the shipped catalogue".
_DEFAULT: Literal["default"] = "default"


@dataclass(frozen=True, slots=True)
class RangePolicy:
    """How the engine chooses between a lab's own range and the catalogue.

    ``prefer_lab_range``: a machine-readable range on the result wins (default);
    set it false to compare with the catalogue first and use the lab range
    only when the catalogue has none that applies.
    """

    prefer_lab_range: bool = True


DEFAULT_POLICY = RangePolicy()


# --- public entry points -----------------------------------------------------------------


def interpret(
    result: Result,
    context: PatientContext | None = None,
    *,
    catalogue: Catalogue | Literal["default"] | None = _DEFAULT,
    optimal: Catalogue | None = None,
    policy: RangePolicy = DEFAULT_POLICY,
    collected: date | datetime | None = None,
) -> Interpretation:
    """Interpret one result.

    ``context`` is the panel's patient context (sex, age); ``catalogue`` the
    range catalogue (the shipped one by default; ``None`` for lab ranges
    only); ``optimal`` a practitioner range set, reported beside the
    reference interpretation and never instead of it; ``collected`` the
    panel's collection time, used when the result has none of its own.
    """
    cat = _resolve_catalogue(catalogue)
    return _Engine(cat, optimal, policy).run(result, context or _NO_CONTEXT, collected)


def interpret_panel(
    panel: Panel,
    *,
    catalogue: Catalogue | Literal["default"] | None = _DEFAULT,
    optimal: Catalogue | None = None,
    policy: RangePolicy = DEFAULT_POLICY,
) -> tuple[Interpretation, ...]:
    """One interpretation per result of ``panel``, in order."""
    engine = _Engine(_resolve_catalogue(catalogue), optimal, policy)
    return tuple(engine.run(r, panel.patient, panel.collected) for r in panel.results)


def interpret_panels(
    panels: Iterable[Panel],
    *,
    catalogue: Catalogue | Literal["default"] | None = _DEFAULT,
    optimal: Catalogue | None = None,
    policy: RangePolicy = DEFAULT_POLICY,
) -> list[tuple[Interpretation, ...]]:
    """Interpretations for each panel, in order."""
    engine = _Engine(_resolve_catalogue(catalogue), optimal, policy)
    return [tuple(engine.run(r, p.patient, p.collected) for r in p.results) for p in panels]


_NO_CONTEXT = PatientContext()


def _resolve_catalogue(catalogue: Catalogue | Literal["default"] | None) -> Catalogue | None:
    if isinstance(catalogue, str):
        from ._catalogue import Catalogue

        return Catalogue.default()
    return catalogue


# --- the engine --------------------------------------------------------------------------


class _NotInterpretable(Exception):
    """Internal: carries the reason a result cannot be interpreted."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Outcome:
    flag: InterpretationCode
    band: str | None
    number: float | None
    notes: tuple[str, ...] = ()


class _Engine:
    def __init__(
        self, catalogue: Catalogue | None, optimal: Catalogue | None, policy: RangePolicy
    ) -> None:
        self.catalogue = catalogue
        self.optimal = optimal
        self.policy = policy

    # -- analyte -------------------------------------------------------------------------
    def analyte_of(self, result: Result) -> Analyte | None:
        if self.catalogue is None:
            return None
        if result.analyte:
            found = self.catalogue.analyte(result.analyte)
            if found is not None:
                return found
        return self.catalogue.resolve(result.name, result.all_codes())

    def run(
        self, result: Result, context: PatientContext, collected: date | datetime | None
    ) -> Interpretation:
        analyte = self.analyte_of(result)
        caveats = self._caveats(analyte)
        notes = _status_notes(result.status)
        base = {
            "result": result,
            "analyte": analyte.id if analyte else result.analyte,
            "caveats": caveats,
        }
        try:
            if not result.status.interpretable:
                raise _NotInterpretable(
                    f"result status is '{result.status.value}': not interpreted"
                    + (f" ({result.value_error})" if result.value_error else "")
                )
            if result.value is None:
                raise _NotInterpretable(result.value_error or "no value")
            when = result.collected or collected
            rng, origin, range_notes = self.choose_range(result, analyte, context, when)
            notes += range_notes
            self._check_plausible(result, analyte, rng)
            outcome = compare(result, rng)
        except _NotInterpretable as exc:
            return Interpretation(
                status="not_interpretable", reason=exc.reason, notes=notes, **base
            )
        notes += outcome.notes
        optimal = self._optimal(result, analyte, context, result.collected or collected)
        return Interpretation(
            status="interpreted",
            flag=outcome.flag,
            band=outcome.band,
            range=rng,
            range_origin=origin,
            value_in_range_unit=outcome.number,
            position=_position(result, rng, outcome),
            optimal=optimal,
            notes=notes,
            **base,
        )

    def _caveats(self, analyte: Analyte | None) -> tuple[Caveat, ...]:
        if analyte is None or self.catalogue is None:
            return ()
        found = (self.catalogue.caveat(c) for c in analyte.caveats)
        return tuple(c for c in found if c is not None)

    # -- range choice --------------------------------------------------------------------
    def choose_range(
        self,
        result: Result,
        analyte: Analyte | None,
        context: PatientContext,
        when: date | datetime | None,
    ) -> tuple[ReferenceRange, Literal["lab", "catalogue", "user"], tuple[str, ...]]:
        notes: tuple[str, ...] = ()
        lab = result.lab_range
        lab_usable = lab is not None and lab.machine_readable
        if lab is not None and not lab.machine_readable:
            notes += (f"the lab's range text {lab.text!r} is not machine-readable",)
        elif lab is None and result.lab_range_text:
            notes += (f"the lab's range text {result.lab_range_text!r} is not machine-readable",)
        if lab_usable and self.policy.prefer_lab_range:
            assert lab is not None  # narrowed by lab_usable
            return lab, "lab", notes

        missing: set[str] = set()
        chosen: ReferenceRange | None = None
        if analyte is not None and self.catalogue is not None:
            candidates = self.catalogue.ranges_for(analyte.id)
            chosen, missing, others = _pick(
                candidates, RangeCategory.REFERENCE, result, analyte, context, when
            )
            if chosen is not None and others:
                notes += (f"{others} other catalogue range(s) of equal specificity also apply",)
        if chosen is not None:
            if lab is not None and lab.machine_readable:
                notes += ("catalogue range used by policy; the lab also reported a range",)
            origin = self.catalogue.range_origin(chosen.id) if self.catalogue else None
            return chosen, origin or "catalogue", notes
        if lab_usable:
            assert lab is not None
            return lab, "lab", notes
        raise _NotInterpretable(self._no_range_reason(result, analyte, missing))

    def _no_range_reason(self, result: Result, analyte: Analyte | None, missing: set[str]) -> str:
        if missing:
            need = " and ".join(sorted(missing))
            name = analyte.name if analyte else result.label
            return (
                f"the reference range for {name} depends on {need}, which the input does not give"
            )
        lab_text = (result.lab_range.text if result.lab_range else None) or result.lab_range_text
        if analyte is None:
            reason = f"analyte {result.label!r} is not in the catalogue"
            if self.catalogue is not None and result.name:
                close = self.catalogue.suggest(result.name)
                if close:
                    reason += f" (closest known: {', '.join(close)})"
            if lab_text:
                return reason + f"; the lab's range {lab_text!r} is not machine-readable"
            return reason + " and the lab gave no reference range"
        why = f"no reference range applies to this {analyte.name} result"
        if analyte.note:
            why += f": {analyte.note}"
        if lab_text:
            why += f"; the lab's range {lab_text!r} is not machine-readable"
        return why

    def _check_plausible(
        self, result: Result, analyte: Analyte | None, rng: ReferenceRange
    ) -> None:
        value = result.value
        if isinstance(value, QuantityValue):
            number: float | None = value.value
        elif isinstance(value, CensoredValue):
            number = value.limit
        else:
            return
        if number is None:
            return
        if number < 0 and rng.kind is ValueKind.QUANTITATIVE:
            raise _NotInterpretable(f"negative value {value.text!r} is not a valid measurement")
        if analyte is None or self.catalogue is None:
            return
        for absolute in self.catalogue.ranges_for(analyte.id):
            if absolute.category is not RangeCategory.ABSOLUTE or not absolute.bands:
                continue
            try:
                x = number * _factor(result, absolute)
            except _NotInterpretable:
                continue
            if not any(b.contains(x) for b in absolute.bands):
                limits = f"{absolute.describe()} {absolute.unit or ''}".strip()
                raise _NotInterpretable(
                    f"value {value.text!r} lies outside the plausible limits {limits} "
                    f"({absolute.source.short()}); it is not interpreted"
                )

    def _optimal(
        self,
        result: Result,
        analyte: Analyte | None,
        context: PatientContext,
        when: date | datetime | None,
    ) -> OptimalAssessment | None:
        if self.optimal is None or analyte is None:
            return None
        chosen, _missing, _ = _pick(
            self.optimal.ranges_for(analyte.id),
            RangeCategory.OPTIMAL,
            result,
            analyte,
            context,
            when,
        )
        if chosen is None:
            return None
        try:
            outcome = compare(result, chosen)
        except _NotInterpretable as exc:
            return OptimalAssessment(range=chosen, flag=None, reason=exc.reason)
        low, high = chosen.reference_interval()
        distance = None
        if outcome.number is not None and low is not None and high is not None and high > low:
            distance = (outcome.number - (low + high) / 2) * 100 / (high - low)
        return OptimalAssessment(
            range=chosen, flag=outcome.flag, band=outcome.band, distance_from_mid=distance
        )


def _status_notes(status: ResultStatus) -> tuple[str, ...]:
    if status in (ResultStatus.PRELIMINARY, ResultStatus.CORRECTED, ResultStatus.AMENDED):
        return (f"{status.value} result",)
    return ()


def _pick(
    candidates: Sequence[ReferenceRange],
    category: RangeCategory,
    result: Result,
    analyte: Analyte,
    context: PatientContext,
    when: date | datetime | None,
) -> tuple[ReferenceRange | None, set[str], int]:
    """The most specific applicable range; the context that was missing; ties."""
    missing: set[str] = set()
    applicable: list[ReferenceRange] = []
    specimen = result.specimen or analyte.specimen
    age_days: float | None = None
    age_known = False
    for rng in candidates:
        if rng.category is not category or not rng.bands:
            continue
        a = rng.applies_to
        if a.specimen is not None and specimen is not None and a.specimen != specimen:
            continue
        if a.lab is not None and not _same(a.lab, result.lab):
            continue
        if a.method is not None and not _same(a.method, result.method):
            continue
        if (
            a.method is None
            and a.lab is None
            and rng.unit is not None
            and rng.unit_standard is None
            and _arbitrary(rng.unit)
        ):
            missing.add(f"the assay (the range is in assay-specific units, {rng.unit})")
            continue
        if a.collection_window is not None:
            missing.add("the collection window")
            continue
        if a.sex is not None:
            if context.sex is None:
                missing.add("sex")
                continue
            if a.sex != context.sex:
                continue
        if a.needs_age:
            if not age_known:
                age_days = context.age_days_at(when)
                age_known = True
            if age_days is None:
                missing.add("age at collection")
                continue
            if a.age_low is not None and age_days < a.age_low.days:
                continue
            if a.age_high is not None and age_days >= a.age_high.days:
                continue
        applicable.append(rng)
    if not applicable:
        return None, missing, 0
    best = max(r.applies_to.specificity() for r in applicable)
    top = [r for r in applicable if r.applies_to.specificity() == best]
    # A range valid for everyone applies even when a more specific one lacked context.
    return top[0], set(), len(top) - 1


def _arbitrary(unit: str) -> bool:
    from ._units import is_arbitrary

    try:
        return is_arbitrary(unit)
    except UnitError:
        return True


def _same(expected: str, given: str | None) -> bool:
    return given is not None and expected.casefold().strip() == given.casefold().strip()


# --- comparison --------------------------------------------------------------------------


def _factor(result: Result, rng: ReferenceRange) -> float:
    """Factor from the result's unit to the range's unit; never assumed."""
    src, dst = result.unit, rng.unit
    if src == dst or (src is not None and dst is not None and src.strip() == dst.strip()):
        return 1.0
    if dst is None:
        raise _NotInterpretable(
            f"the value has unit {src!r} but the range has none; units are never assumed"
        )
    if src is None or not src.strip():
        raise _NotInterpretable(
            f"the value has no unit and the range is in {dst!r}; units are never assumed"
        )
    from ._units import conversion_factor

    try:
        factor: float = conversion_factor(src, dst)
    except UnitError as exc:
        raise _NotInterpretable(
            f"unit {src!r} cannot be compared with the range's unit {dst!r}: {exc.message}"
        ) from None
    return factor


def compare(result: Result, rng: ReferenceRange) -> _Outcome:
    """Compare the result's value with one range. Raises _NotInterpretable."""
    value = result.value
    if rng.kind is ValueKind.QUALITATIVE:
        if not isinstance(value, QualitativeValue):
            raise _NotInterpretable(
                f"value {value.text!r} is not a qualitative result; the range expects "  # type: ignore[union-attr]
                f"{rng.describe()!r}"
            )
        return _compare_qualitative(value, rng)
    if isinstance(value, QualitativeValue):
        raise _NotInterpretable(
            f"qualitative value {value.text!r} cannot be compared with the numeric range "
            f"{rng.describe()!r}"
        )
    if rng.kind is ValueKind.ORDINAL:
        if isinstance(value, OrdinalValue):
            return _place(float(value.value), rng.bands, value.text)
        if isinstance(value, QuantityValue) and value.value.is_integer() and result.unit is None:
            return _place(value.value, rng.bands, value.text)
        raise _NotInterpretable(
            f"value {value.text!r} is not a class or score; the range is ordinal"  # type: ignore[union-attr]
        )
    if isinstance(value, OrdinalValue):
        raise _NotInterpretable(
            f"class/score value {value.text!r} cannot be compared with a range in {rng.unit!r}"
        )
    factor = _factor(result, rng)
    if isinstance(value, QuantityValue):
        return _place(value.value * factor, rng.bands, value.text)
    if isinstance(value, CensoredValue):
        return _place_censored(value, factor, rng)
    raise _NotInterpretable("no value")


def _place(x: float, bands: Sequence[Band], text: str) -> _Outcome:
    if not math.isfinite(x):
        raise _NotInterpretable(f"value {text!r} is not a finite number after unit conversion")
    for band in bands:
        if band.contains(x):
            return _Outcome(band.flag, band.label, x)
    return _Outcome(
        _IC.INDETERMINATE, None, x, ("the value lies in a gap between the range's bands",)
    )


def _place_censored(value: CensoredValue, factor: float, rng: ReferenceRange) -> _Outcome:
    """Three-valued comparison: a flag only if every value the result covers gets it."""
    if value.limit is None:
        what = "below the detection limit" if value.detection_limit else "outside the assay range"
        direction = "below" if value.below else "above"
        # Without a number the limit could be anywhere: the value can be placed only
        # when every band a non-negative value can fall in agrees.
        hits = _bands_touching(rng.bands, 0.0, True, math.inf, False)
        flags = {b.flag for b in hits}
        if len(flags) == 1:
            band = hits[0]
            return _Outcome(band.flag, _label(hits), None)
        return _Outcome(
            _IC.INDETERMINATE,
            None,
            None,
            (f"value {value.text!r} ({what}, {direction}) gives no number to place",),
        )
    limit = value.limit * factor
    if value.below:
        lo, lo_inc, hi, hi_inc = 0.0, True, limit, value.comparator == "<="
    else:
        lo, lo_inc, hi, hi_inc = limit, value.comparator == ">=", math.inf, False
    hits = _bands_touching(rng.bands, lo, lo_inc, hi, hi_inc)
    if not hits:
        return _Outcome(_IC.INDETERMINATE, None, limit, ("no band covers the censored value",))
    flags = {b.flag for b in hits}
    if len(flags) == 1 and not _has_gap(rng.bands, lo, hi):
        return _Outcome(hits[0].flag, _label(hits), limit)
    return _Outcome(
        _IC.INDETERMINATE,
        None,
        limit,
        (f"value {value.text!r} spans more than one band of the range",),
    )


def _label(hits: Sequence[Band]) -> str:
    labels: list[str] = []
    for b in hits:
        if b.label not in labels:
            labels.append(b.label)
    return " or ".join(labels)


def _bands_touching(
    bands: Sequence[Band], lo: float, lo_inc: bool, hi: float, hi_inc: bool
) -> list[Band]:
    """Bands that share at least one point with the interval (lo, hi)."""
    out = []
    for b in sorted(bands, key=lambda b: -math.inf if b.low is None else b.low):
        b_lo = -math.inf if b.low is None else b.low
        b_hi = math.inf if b.high is None else b.high
        b_lo_inc = b.low is not None and b.low_inclusive
        b_hi_inc = b.high is not None and b.high_inclusive
        # intersection of [lo, hi] and [b_lo, b_hi] with inclusivity
        start, start_inc = (
            (lo, lo_inc)
            if lo > b_lo
            else (b_lo, b_lo_inc)
            if b_lo > lo
            else (lo, lo_inc and b_lo_inc)
        )
        end, end_inc = (
            (hi, hi_inc)
            if hi < b_hi
            else (b_hi, b_hi_inc)
            if b_hi < hi
            else (hi, hi_inc and b_hi_inc)
        )
        if start < end or (start == end and start_inc and end_inc):
            out.append(b)
    return out


def _has_gap(bands: Sequence[Band], lo: float, hi: float) -> bool:
    """Whether part of the interval (lo, hi) is covered by no band (it cannot be placed)."""
    for g_lo, g_hi in band_gaps(tuple(bands)):
        a = -math.inf if g_lo is None else g_lo
        b = math.inf if g_hi is None else g_hi
        if a < hi and b > lo:
            return True
    return False


def _compare_qualitative(value: QualitativeValue, rng: ReferenceRange) -> _Outcome:
    for band in rng.bands:
        if value.term in band.terms:
            return _Outcome(band.flag, band.label, None)
    expected_negative = any(
        not b.flag.outside_reference and any(t in ("not_detected", "negative") for t in b.terms)
        for b in rng.bands
    )
    if value.polarity == "positive" and expected_negative:
        if value.term in ("detected", "present") or value.term.startswith("grade_") or value.grade:
            return _Outcome(
                _IC.DETECTED if value.term in ("detected", "present") else _IC.ABNORMAL, None, None
            )
        if value.term in ("positive", "reactive"):
            return _Outcome(_IC.POSITIVE, None, None)
        return _Outcome(_IC.ABNORMAL, None, None)
    if value.polarity == "equivocal":
        return _Outcome(_IC.EQUIVOCAL, None, None)
    return _Outcome(
        _IC.INDETERMINATE,
        None,
        None,
        (f"value {value.text!r} is not one of the range's listed results",),
    )


def _position(result: Result, rng: ReferenceRange, outcome: _Outcome) -> Position | None:
    if outcome.number is None or rng.kind is not ValueKind.QUANTITATIVE:
        return None
    if isinstance(result.value, CensoredValue):
        return None
    x = outcome.number
    low, high = rng.reference_interval()
    fraction = (
        (x - low) / (high - low) if low is not None and high is not None and high > low else None
    )
    return Position(
        fraction=fraction,
        times_upper_limit=x / high if high is not None and high > 0 else None,
        times_lower_limit=x / low if low is not None and low > 0 else None,
    )
