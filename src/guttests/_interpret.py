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

Speed: an engine remembers, per catalogue, what does not depend on the value (the
analyte's caveats, the range chosen for a given analyte, specimen, lab, method, sex
and age, each range's bands as plain numbers, unit factors), so that a result costs
a few dictionary look-ups and comparisons. The interpretation objects it builds are
trusted internal objects and skip pydantic validation (see ``guttests._models.trusted``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Literal, TypeGuard

from ._age import CalendarAge
from ._catalogue import Catalogue  # at run time too: typing.get_type_hints(interpret)
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
    trusted,
)
from ._types import InterpretationCode, RangeCategory, ResultStatus, ValueKind
from ._values import CensoredValue, OrdinalValue, QualitativeValue, QuantityValue

__all__ = ["RangePolicy", "interpret", "interpret_panel", "interpret_panels"]

_IC = InterpretationCode
_QUANTITATIVE = ValueKind.QUANTITATIVE
_QUALITATIVE = ValueKind.QUALITATIVE
_ORDINAL = ValueKind.ORDINAL
_INF = math.inf

#: Sentinel meaning "use the shipped catalogue".
_DEFAULT: Literal["default"] = "default"

#: Entries kept per engine cache before it starts afresh (bounds memory on huge inputs).
_CACHE_LIMIT = 65536
#: Compiled ranges hold their range: fewer of them (lab ranges may be one per result).
_COMPILED_LIMIT = 2048


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
    engine = _engine(_resolve_catalogue(catalogue), optimal, policy)
    return engine.run(result, context or _NO_CONTEXT, collected)


def interpret_panel(
    panel: Panel,
    *,
    catalogue: Catalogue | Literal["default"] | None = _DEFAULT,
    optimal: Catalogue | None = None,
    policy: RangePolicy = DEFAULT_POLICY,
) -> tuple[Interpretation, ...]:
    """One interpretation per result of ``panel``, in order."""
    engine = _engine(_resolve_catalogue(catalogue), optimal, policy)
    run, patient, collected = engine.run, panel.patient, panel.collected
    return tuple([run(r, patient, collected) for r in panel.results])


def interpret_panels(
    panels: Iterable[Panel],
    *,
    catalogue: Catalogue | Literal["default"] | None = _DEFAULT,
    optimal: Catalogue | None = None,
    policy: RangePolicy = DEFAULT_POLICY,
) -> list[tuple[Interpretation, ...]]:
    """Interpretations for each panel, in order."""
    run = _engine(_resolve_catalogue(catalogue), optimal, policy).run
    return [tuple([run(r, p.patient, p.collected) for r in p.results]) for p in panels]


_NO_CONTEXT = PatientContext()


def _resolve_catalogue(catalogue: Catalogue | Literal["default"] | None) -> Catalogue | None:
    if isinstance(catalogue, str):
        from ._catalogue import Catalogue

        return Catalogue.default()
    return catalogue


_ENGINES: dict[tuple[int, int, RangePolicy], _Engine] = {}


def _engine(catalogue: Catalogue | None, optimal: Catalogue | None, policy: RangePolicy) -> _Engine:
    """The engine for these catalogues, reused across calls so that its caches pay off.

    Catalogues are immutable and the engine holds them, so their ids stay theirs.
    """
    key = (id(catalogue), id(optimal), policy)
    engine = _ENGINES.get(key)
    if engine is None or engine.catalogue is not catalogue or engine.optimal is not optimal:
        if len(_ENGINES) >= 8:
            _ENGINES.clear()
        engine = _ENGINES[key] = _Engine(catalogue, optimal, policy)
    return engine


# --- trusted construction ----------------------------------------------------------------
# Interpretations are built from values the engine made itself: no validation (see
# guttests._models.trusted). The interpreted case, the hot path, is written out inline
# in _Engine.run with the same steps.

_new = object.__new__
_setattr = object.__setattr__

# Shared, never copied: pydantic copies a frozen model's set before changing it
# (model_copy), and nothing else changes the set of a frozen model.
_INTERPRETED_SET = {
    "result",
    "status",
    "analyte",
    "flag",
    "band",
    "range",
    "range_origin",
    "value_in_range_unit",
    "position",
    "caveats",
    "optimal",
    "notes",
}
_POSITION_SET = {"fraction", "log_scale", "times_upper_limit", "times_lower_limit"}
_LOG_DECADES = 100.0
"""A reference interval whose high limit is this many times its low one spans two decades
or more (copies/g, CFU/g): the position within it is measured on a log scale."""


def _log_scale(low: float | None, high: float | None) -> bool:
    return low is not None and high is not None and low > 0 and high / low >= _LOG_DECADES


def _fraction(x: float, low: float | None, high: float | None) -> float | None:
    """0 at the low limit, 1 at the high one; on a log scale for ranges of two decades or more.

    >>> round(_fraction(3.4e6, 1e6, 5e8), 3), _fraction(25.0, 0.0, 50.0)
    (0.197, 0.5)
    """
    if low is None or high is None or not high > low:
        return None
    if _log_scale(low, high):
        if x <= 0:
            return None
        return (math.log10(x) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return (x - low) / (high - low)


def _not_interpretable(
    result: Result,
    analyte: str | None,
    caveats: tuple[Caveat, ...],
    reason: str,
    notes: tuple[str, ...],
) -> Interpretation:
    return trusted(
        Interpretation,
        result=result,
        status="not_interpretable",
        analyte=analyte,
        caveats=caveats,
        reason=reason,
        notes=notes,
    )


# --- the engine --------------------------------------------------------------------------


class _NotInterpretable(Exception):
    """Internal: carries the reason a result cannot be interpreted."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


_Outcome = tuple[InterpretationCode, str | None, float | None, tuple[str, ...]]
"""flag, band label, the number placed (in the range's unit), notes."""

_NumericBand = tuple[float, bool, float, bool, InterpretationCode, str]


class _Compiled:
    """A range's bands as plain comparisons and its reference interval, computed once."""

    __slots__ = ("bands", "high", "kind", "low", "range", "unit")

    def __init__(self, rng: ReferenceRange) -> None:
        self.range = rng  # holds the range: its id() stays a valid cache key
        self.kind = rng.kind
        self.unit = rng.unit
        self.bands: tuple[_NumericBand, ...] = tuple(
            (
                -_INF if b.low is None else b.low,
                b.low_inclusive or b.low is None,
                _INF if b.high is None else b.high,
                b.high_inclusive or b.high is None,
                b.flag,
                b.label,
            )
            for b in rng.bands
            if not b.terms
        )
        self.low, self.high = rng.reference_interval()


class _AnalyteInfo:
    """What the engine needs of one analyte, whatever the value."""

    __slots__ = ("absolute", "caveats", "ref_needs_age", "ref_ranges", "routes")

    def __init__(
        self,
        caveats: tuple[Caveat, ...],
        ref_ranges: tuple[ReferenceRange, ...],
        absolute: tuple[ReferenceRange, ...],
    ) -> None:
        self.caveats = caveats
        self.ref_ranges = ref_ranges
        self.ref_needs_age = any(r.applies_to.needs_age for r in ref_ranges)
        self.absolute = absolute
        self.routes: dict[tuple[object, ...], _Route] = {}
        """Range chosen from the catalogue, by specimen, lab, method, sex and age."""


_Origin = Literal["lab", "catalogue", "user"]
_Route = tuple[ReferenceRange, _Origin, tuple[str, ...], "_Compiled", float | str | None]
"""A catalogue range chosen, its origin and notes, compiled, and the unit factor to it."""
_LabRoute = tuple[ReferenceRange, "_Compiled", float | str | None]
_NO_INFO = _AnalyteInfo((), (), ())
_Pick = tuple[ReferenceRange | None, frozenset[str], int]
_NOT_KNOWN = object()
_FINAL = ResultStatus.FINAL
_UNINTERPRETABLE = frozenset(s for s in ResultStatus if not s.interpretable)
_STATUS_NOTES: dict[ResultStatus, tuple[str, ...]] = {
    s: (f"{s.value} result",)
    for s in (ResultStatus.PRELIMINARY, ResultStatus.CORRECTED, ResultStatus.AMENDED)
}


class _Engine:
    def __init__(
        self, catalogue: Catalogue | None, optimal: Catalogue | None, policy: RangePolicy
    ) -> None:
        self.catalogue = catalogue
        self.optimal = optimal
        self.policy = policy
        self.prefer_lab = policy.prefer_lab_range
        self._info: dict[str, _AnalyteInfo] = {}
        self._picks: dict[tuple[object, ...], _Pick] = {}
        self._compiled: dict[int, _Compiled] = {}
        self._lab_routes: dict[tuple[int, str | None], _LabRoute] = {}
        self._by_name: dict[str | None, Analyte | None] = {}
        self._factors: dict[tuple[str | None, str | None], float | str] = {}
        self._origins: dict[str, Literal["lab", "catalogue", "user"]] = {}
        # the last (context, collection time, age in days): one tuple, replaced whole, so
        # that threads sharing the engine never pair one context with another's age
        self._last_age: tuple[object, object, CalendarAge | None] = (None, None, None)

    # -- analyte -------------------------------------------------------------------------
    def info(self, analyte: Analyte | None) -> _AnalyteInfo:
        if analyte is None or self.catalogue is None:
            return _NO_INFO
        found = self._info.get(analyte.id)
        if found is not None:
            return found
        cat = self.catalogue
        caveats = tuple(c for c in (cat.caveat(c) for c in analyte.caveats) if c is not None)
        ranges = cat.ranges_for(analyte.id)
        absolute = tuple(r for r in ranges if r.category is RangeCategory.ABSOLUTE and r.bands)
        made = self._info[analyte.id] = _AnalyteInfo(caveats, ranges, absolute)
        return made

    def run(
        self, result: Result, context: PatientContext, collected: date | datetime | None
    ) -> Interpretation:
        # The common case (a number, a range found, units that convert) is written out
        # inline: this method is the engine's whole per-result cost.
        cat = self.catalogue
        analyte: Analyte | None = None
        if cat is not None:
            if result.analyte:
                analyte = cat.analyte(result.analyte)
            if analyte is None:
                code = result.code
                codes = result.codes
                if code is not None:
                    analyte = cat.resolve(result.name, (code, *codes))
                elif codes:
                    analyte = cat.resolve(result.name, codes)
                elif result.name in self._by_name:  # (the catalogue's cache, one call less)
                    analyte = self._by_name[result.name]
                else:
                    analyte = cat.resolve(result.name)
                    if len(self._by_name) >= _CACHE_LIMIT:
                        self._by_name.clear()
                    self._by_name[result.name] = analyte
        if analyte is None:
            info = _NO_INFO
            analyte_id = result.analyte
        else:
            info = self._info.get(analyte.id) or self.info(analyte)
            analyte_id = analyte.id
        caveats = info.caveats
        status = result.status
        # (enum members hash slowly: the final status, by far the most common, skips both)
        notes = () if status is _FINAL else _STATUS_NOTES.get(status, ())
        value = result.value
        x: float | None
        more: tuple[str, ...]
        band: str | None
        try:
            if status is not _FINAL and status in _UNINTERPRETABLE:
                raise _NotInterpretable(
                    f"result status is '{status.value}': not interpreted"
                    + (f" ({result.value_error})" if result.value_error else "")
                )
            if value is None:
                raise _NotInterpretable(result.value_error or "no value")
            rng = result.lab_range
            unit = result.unit
            factor: float | str | None
            if self.lab_range_applies(rng):
                origin: Literal["lab", "catalogue", "user"] = "lab"
                hit = self._lab_routes.get((id(rng), unit))
                if hit is None or hit[0] is not rng:
                    hit = self._lab_route(rng, unit)
                _, compiled, factor = hit
            elif rng is None and analyte is not None and not result.lab_range_text:
                # Catalogue ranges only: the choice depends on nothing but this key.
                when = result.collected or collected
                age = self._age_at(context, when) if info.ref_needs_age else None
                key = (unit, result.specimen, result.lab, result.method, context.sex, age)
                route = info.routes.get(key)
                if route is None:
                    route = self._catalogue_route(result, analyte, info, context, when)
                    if len(info.routes) >= _CACHE_LIMIT:
                        info.routes.clear()
                    info.routes[key] = route
                rng, origin, range_notes, compiled, factor = route
                if range_notes:
                    notes += range_notes
            else:
                rng, origin, range_notes = self.choose_range(
                    result, analyte, info, context, result.collected or collected
                )
                if range_notes:
                    notes += range_notes
                compiled = self.compiled(rng)
                factor = None
            kind = compiled.kind
            if type(value) is QuantityValue and kind is _QUANTITATIVE:
                number = value.value
                if number < 0 or info.absolute:
                    self._check_plausible(result, info, compiled)
                if type(factor) is not float:
                    factor = self.factor(unit, compiled.unit)  # raises the reason, if any
                x = number * factor
                if x - x != 0.0:  # inf or nan
                    _place(x, compiled.bands, value.text)  # raises
                more = ()
                for lo, lo_inc, hi, hi_inc, flag, band in compiled.bands:  # noqa: B007 (_place)
                    if (x > lo or (lo_inc and x == lo)) and (x < hi or (hi_inc and x == hi)):
                        break
                else:
                    flag, band, more = _IC.INDETERMINATE, None, _GAP_NOTES
            else:
                self._check_plausible(result, info, compiled)
                flag, band, x, more = self.compare(result, compiled)
        except _NotInterpretable as exc:
            return _not_interpretable(result, analyte_id, caveats, exc.reason, notes)
        if rng.caveats:
            caveats = self._with_range_caveats(caveats, rng)
        if more:
            notes += more
        if result.lab_flags:
            differ = lab_flag_disagreement(result.lab_flags, flag)
            if differ is not None:
                notes += (differ,)
        optimal = (
            None
            if self.optimal is None or analyte is None
            else self._optimal(result, analyte, context, result.collected or collected)
        )
        position = None
        if x is not None and kind is _QUANTITATIVE and type(value) is not CensoredValue:
            low, high = compiled.low, compiled.high
            position = _new(Position)
            _setattr(
                position,
                "__dict__",
                {
                    "fraction": _fraction(x, low, high),
                    "log_scale": _log_scale(low, high),
                    "times_upper_limit": x / high if high is not None and high > 0 else None,
                    "times_lower_limit": x / low if low is not None and low > 0 else None,
                },
            )
            _setattr(position, "__pydantic_fields_set__", _POSITION_SET)
            _setattr(position, "__pydantic_extra__", None)
            _setattr(position, "__pydantic_private__", None)
        interpretation = _new(Interpretation)
        _setattr(
            interpretation,
            "__dict__",
            {
                "result": result,
                "status": "interpreted",
                "analyte": analyte_id,
                "flag": flag,
                "band": band,
                "range": rng,
                "range_origin": origin,
                "value_in_range_unit": x,
                "position": position,
                "caveats": caveats,
                "optimal": optimal,
                "reason": None,
                "notes": notes,
            },
        )
        _setattr(interpretation, "__pydantic_fields_set__", _INTERPRETED_SET)
        _setattr(interpretation, "__pydantic_extra__", None)
        _setattr(interpretation, "__pydantic_private__", None)
        return interpretation

    def lab_range_applies(self, rng: ReferenceRange | None) -> TypeGuard[ReferenceRange]:
        """Whether :meth:`run` compares a result with ``rng``, the lab's own range, as it
        is (its first route): a range with bands, the policy preferring the lab's range,
        and no restriction by sex or age."""
        return (
            rng is not None
            and bool(rng.bands)
            and self.prefer_lab
            and rng.applies_to.sex is None
            and not rng.applies_to.needs_age
        )

    def patient_free(self, rng: ReferenceRange | None) -> bool:
        """Whether :meth:`run` gives the same answer for a result whose lab range is
        ``rng`` whatever the patient and the collection time: the lab's range applies
        as it is (nothing is chosen by sex or age) and there is no optimal catalogue
        (its ranges may be chosen by them)."""
        return self.optimal is None and self.lab_range_applies(rng)

    def _with_range_caveats(
        self, caveats: tuple[Caveat, ...], rng: ReferenceRange
    ) -> tuple[Caveat, ...]:
        """The analyte's caveats and those of the range compared with (each once)."""
        if self.catalogue is None:
            return caveats
        have = {c.id for c in caveats}
        extra = (self.catalogue.caveat(cid) for cid in rng.caveats if cid not in have)
        return caveats + tuple(c for c in extra if c is not None)

    def _lab_route(self, rng: ReferenceRange, unit: str | None) -> _LabRoute:
        if len(self._lab_routes) >= _COMPILED_LIMIT:
            self._lab_routes.clear()
        compiled = self.compiled(rng)
        route = self._lab_routes[(id(rng), unit)] = (rng, compiled, self._factor_of(unit, compiled))
        return route

    def _catalogue_route(
        self,
        result: Result,
        analyte: Analyte,
        info: _AnalyteInfo,
        context: PatientContext,
        when: date | datetime | None,
    ) -> _Route:
        rng, origin, notes = self.choose_range(result, analyte, info, context, when)
        compiled = self.compiled(rng)
        return rng, origin, notes, compiled, self._factor_of(result.unit, compiled)

    def _factor_of(self, unit: str | None, compiled: _Compiled) -> float | str | None:
        """The factor to the range's unit, or why there is none (quantitative ranges only)."""
        if compiled.kind is not _QUANTITATIVE:
            return None
        try:
            return self.factor(unit, compiled.unit)
        except _NotInterpretable as exc:
            return exc.reason

    def compiled(self, rng: ReferenceRange) -> _Compiled:
        found = self._compiled.get(id(rng))
        if found is None or found.range is not rng:
            if len(self._compiled) >= _COMPILED_LIMIT:
                self._compiled.clear()
            found = self._compiled[id(rng)] = _Compiled(rng)
        return found

    # -- range choice --------------------------------------------------------------------
    def choose_range(
        self,
        result: Result,
        analyte: Analyte | None,
        info: _AnalyteInfo,
        context: PatientContext,
        when: date | datetime | None,
    ) -> tuple[ReferenceRange, Literal["lab", "catalogue", "user"], tuple[str, ...]]:
        notes: tuple[str, ...] = ()
        lab = result.lab_range
        lab_usable = False
        lab_refused: str | None = None
        if lab is not None:
            if lab.bands:
                # A lab range restricted by sex or age applies only when the patient's
                # context satisfies it (the rule catalogue ranges follow).
                lab_refused = _lab_range_refusal(lab, context, when)
                if lab_refused is not None:
                    notes = (lab_refused,)
                elif self.prefer_lab:
                    return lab, "lab", notes
                else:
                    lab_usable = True
            else:
                notes = (_unreadable(lab.text, lab.note),)
        elif result.lab_range_text:
            notes = (f"the lab's range text {result.lab_range_text!r} is not machine-readable",)

        missing: frozenset[str] = frozenset()
        chosen: ReferenceRange | None = None
        if analyte is not None and self.catalogue is not None:
            chosen, missing, others = self._pick(
                info.ref_ranges,
                info.ref_needs_age,
                RangeCategory.REFERENCE,
                result,
                analyte,
                context,
                when,
            )
            if chosen is not None and others:
                notes += (f"{others} other catalogue range(s) of equal specificity also apply",)
        if chosen is not None:
            if lab_usable:
                notes += ("catalogue range used by policy; the lab also reported a range",)
            return chosen, self._origin(chosen.id), notes
        if lab_usable:
            assert lab is not None  # narrowed by lab_usable
            return lab, "lab", notes
        if lab_refused is not None:
            if missing:  # the catalogue's ranges lack context too: say both
                lab_refused += "; " + self._no_range_reason(result, analyte, missing)
            raise _NotInterpretable(lab_refused)
        raise _NotInterpretable(self._no_range_reason(result, analyte, missing))

    def _origin(self, range_id: str) -> Literal["lab", "catalogue", "user"]:
        found = self._origins.get(range_id)
        if found is None:
            origin = self.catalogue.range_origin(range_id) if self.catalogue else None
            found = self._origins[range_id] = origin or "catalogue"
        return found

    def _age_at(self, context: PatientContext, when: date | datetime | None) -> CalendarAge | None:
        """Age at collection (calendar units), remembered for the last (context, time) asked."""
        last = self._last_age
        if last[0] is context and last[1] is when:
            return last[2]
        age = context.age_at(when)
        self._last_age = (context, when, age)
        return age

    def _pick(
        self,
        candidates: tuple[ReferenceRange, ...],
        needs_age: bool,
        category: RangeCategory,
        result: Result,
        analyte: Analyte,
        context: PatientContext,
        when: date | datetime | None,
    ) -> _Pick:
        """:func:`_pick`, remembered per range list and the context it depends on."""
        if not candidates:
            return None, frozenset(), 0
        age = self._age_at(context, when) if needs_age else None
        # Only what _pick reads; the candidates tuple belongs to a catalogue the engine
        # holds, so its id is stable. (Enum members hash slowly: specimen is None mostly.)
        key = (
            id(candidates),
            category is RangeCategory.REFERENCE,
            result.specimen,
            result.lab,
            result.method,
            context.sex,
            age,
        )
        found = self._picks.get(key)
        if found is None:
            if len(self._picks) >= _CACHE_LIMIT:
                self._picks.clear()
            chosen, missing, others = _pick(candidates, category, result, analyte, context, when)
            found = self._picks[key] = (chosen, frozenset(missing), others)
        return found

    def _no_range_reason(
        self, result: Result, analyte: Analyte | None, missing: frozenset[str]
    ) -> str:
        if missing:
            need = " and ".join(sorted(missing))
            name = analyte.name if analyte else result.label
            return (
                f"the reference range for {name} depends on {need}, which the input does not give"
            )
        lab_text = (result.lab_range.text if result.lab_range else None) or result.lab_range_text
        lab_why = _unreadable(lab_text, result.lab_range.note if result.lab_range else None)
        if analyte is None:
            reason = f"analyte {result.label!r} is not in the catalogue"
            if self.catalogue is not None and result.name:
                close = self.catalogue.suggest(result.name)
                if close:
                    reason += f" (closest known: {', '.join(close)})"
            if lab_text:
                return reason + "; " + lab_why
            return reason + " and the lab gave no reference range"
        why = f"no reference range applies to this {analyte.name} result"
        if analyte.note:
            why += f": {analyte.note}"
        if lab_text:
            why += "; " + lab_why
        return why

    def _check_plausible(self, result: Result, info: _AnalyteInfo, compiled: _Compiled) -> None:
        value = result.value
        kind = type(value)
        if kind is QuantityValue:
            number: float | None = value.value  # type: ignore[union-attr]
        elif kind is CensoredValue:
            number = value.limit  # type: ignore[union-attr]
        else:
            return
        if number is None:
            return
        if number < 0 and compiled.kind is _QUANTITATIVE:
            raise _NotInterpretable(f"negative value {value.text!r} is not a valid measurement")  # type: ignore[union-attr]
        for absolute in info.absolute:
            try:
                x = number * self.factor(result.unit, absolute.unit)
            except _NotInterpretable:
                continue
            if not any(b.contains(x) for b in absolute.bands):
                limits = f"{absolute.describe()} {absolute.unit or ''}".strip()
                raise _NotInterpretable(
                    f"value {value.text!r} lies outside the plausible limits {limits} "  # type: ignore[union-attr]
                    f"({absolute.source.short()}); it is not interpreted"
                )

    def _optimal(
        self,
        result: Result,
        analyte: Analyte,
        context: PatientContext,
        when: date | datetime | None,
    ) -> OptimalAssessment | None:
        assert self.optimal is not None  # checked by the caller
        candidates = self.optimal.ranges_for(analyte.id)
        chosen, _missing, _ = self._pick(
            candidates,
            any(r.applies_to.needs_age for r in candidates),
            RangeCategory.OPTIMAL,
            result,
            analyte,
            context,
            when,
        )
        if chosen is None:
            return None
        try:
            flag, band, number, _notes = self.compare(result, self.compiled(chosen))
        except _NotInterpretable as exc:
            return OptimalAssessment(range=chosen, flag=None, reason=exc.reason)
        low, high = chosen.reference_interval()
        distance = None
        if number is not None and low is not None and high is not None and high > low:
            distance = (number - (low + high) / 2) * 100 / (high - low)
        return OptimalAssessment(range=chosen, flag=flag, band=band, distance_from_mid=distance)

    # -- comparison ----------------------------------------------------------------------
    def factor(self, src: str | None, dst: str | None) -> float:
        """Factor from the result's unit to the range's unit; never assumed."""
        key = (src, dst)
        found = self._factors.get(key)
        if found is None:
            if len(self._factors) >= _CACHE_LIMIT:
                self._factors.clear()
            try:
                found = _factor(src, dst)
            except _NotInterpretable as exc:
                found = exc.reason
            self._factors[key] = found
        if type(found) is str:
            raise _NotInterpretable(found)
        return found  # type: ignore[return-value]

    def compare(self, result: Result, c: _Compiled) -> _Outcome:
        """Compare the result's value with one range. Raises _NotInterpretable."""
        value = result.value
        kind = c.kind
        if kind is _QUANTITATIVE and type(value) is QuantityValue:  # the common case
            return _place(value.value * self.factor(result.unit, c.unit), c.bands, value.text)
        rng = c.range
        if kind is _QUALITATIVE:
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
        if kind is _ORDINAL:
            if isinstance(value, OrdinalValue):
                return _place(float(value.value), c.bands, value.text)
            if (
                isinstance(value, QuantityValue)
                and value.value.is_integer()
                and result.unit is None
            ):
                return _place(value.value, c.bands, value.text)
            raise _NotInterpretable(
                f"value {value.text!r} is not a class or score; the range is ordinal"  # type: ignore[union-attr]
            )
        if isinstance(value, OrdinalValue):
            raise _NotInterpretable(
                f"class/score value {value.text!r} cannot be compared with a range in {rng.unit!r}"
            )
        factor = self.factor(result.unit, c.unit)
        if isinstance(value, QuantityValue):
            return _place(value.value * factor, c.bands, value.text)
        if isinstance(value, CensoredValue):
            return _place_censored(value, factor, rng)
        raise _NotInterpretable("no value")


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
    age: CalendarAge | None = None
    age_known = False
    for rng in candidates:
        if rng.category is not category or not rng.bands:
            continue
        a = rng.applies_to
        if a.specimen is not None and specimen is not None and a.specimen != specimen:
            continue
        if a.lab is not None and not _same(a.lab, result.lab):
            if result.lab is None:
                missing.add("the laboratory")
            continue
        if (
            a.method is not None
            and not _same(a.method, result.method)
            and not (result.method is None and a.lab is not None and _one_method(candidates, a.lab))
        ):
            if result.method is None:
                missing.add("the method")
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
                age = context.age_at(when)
                age_known = True
            if age is None:
                missing.add("age at collection")
                continue
            fits = a.age_applies(age)  # completed calendar units, as a birthday is counted
            if fits is None:
                missing.add("the birth date (the age given is not precise enough for this range)")
                continue
            if not fits:
                continue
        applicable.append(rng)
    if not applicable:
        return None, missing, 0
    best = max(r.applies_to.specificity() for r in applicable)
    top = [r for r in applicable if r.applies_to.specificity() == best]
    # A range valid for everyone applies even when a more specific one lacked context.
    return top[0], set(), len(top) - 1


def _lab_range_refusal(
    rng: ReferenceRange, context: PatientContext, when: date | datetime | None
) -> str | None:
    """Why the lab's own range cannot be used for this patient, or ``None`` when it applies.

    A range the lab restricted to one sex or an age interval (FHIR ``appliesTo``,
    ``referenceRange.age``) applies only when the input gives that fact and it matches.
    """
    a = rng.applies_to
    if a.sex is None and not a.needs_age:
        return None
    shown = rng.text or rng.describe()
    scope = a.describe()
    missing: list[str] = []
    if a.sex is not None:
        if context.sex is None:
            missing.append("sex")
        elif context.sex != a.sex:
            return f"the lab's range {shown!r} applies to {scope}, not to this patient"
    if a.needs_age:
        age_days = context.age_days_at(when)
        if age_days is None:
            missing.append("age at collection")
        elif (a.age_low is not None and age_days < a.age_low.days) or (
            a.age_high is not None and age_days >= a.age_high.days
        ):
            return f"the lab's range {shown!r} applies to {scope}, not to this patient"
    if missing:
        need = " and ".join(missing)
        return (
            f"the lab's range {shown!r} applies to {scope}, and the input does not give "
            f"the patient's {need}"
        )
    return None


def _arbitrary(unit: str) -> bool:
    from ._units import is_arbitrary

    try:
        return is_arbitrary(unit)
    except UnitError:
        return True


def _one_method(candidates: Sequence[ReferenceRange], lab: str) -> bool:
    """Whether every range for ``lab`` names the same method (a result from that lab
    that states no method can then only have been measured by it)."""
    methods = {
        (r.applies_to.method or "").casefold().strip()
        for r in candidates
        if r.applies_to.lab is not None and _same(r.applies_to.lab, lab)
    }
    return len(methods) == 1


def _same(expected: str, given: str | None) -> bool:
    return given is not None and expected.casefold().strip() == given.casefold().strip()


def _factor(src: str | None, dst: str | None) -> float:
    """Factor from the result's unit to the range's unit; never assumed."""
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


# The lab's flags (HL7 table 0078, FHIR ObservationInterpretation) by what they say about
# where the value lies: normal / low / high / outside (either side) / not comparable.
_LAB_FLAG_SIDE: dict[str, str] = {
    **dict.fromkeys(("N", "NEG", "ND", "NR"), "normal"),
    **dict.fromkeys(("L", "LL", "LU", "<"), "low"),
    **dict.fromkeys(("H", "HH", "HU", ">"), "high"),
    **dict.fromkeys(("A", "AA", "POS", "DET", "RR"), "outside"),
}
_SIDE_WORDS = {"normal": "normal", "low": "low", "high": "high", "outside": "abnormal"}
_OUR_SIDE: dict[_IC, str] = {
    _IC.NORMAL: "normal",
    _IC.NEGATIVE: "normal",
    _IC.NOT_DETECTED: "normal",
    _IC.LOW: "low",
    _IC.CRITICAL_LOW: "low",
    _IC.HIGH: "high",
    _IC.CRITICAL_HIGH: "high",
    _IC.ABNORMAL: "outside",
    _IC.POSITIVE: "outside",
    _IC.DETECTED: "outside",
}


@lru_cache(maxsize=1024)
def lab_flag_disagreement(lab_flags: tuple[str, ...], flag: _IC | None) -> str | None:
    """A note naming both flags when the lab's own flag says otherwise than guttests' flag.

    >>> lab_flag_disagreement(("N",), InterpretationCode.HIGH)
    "the lab flagged this result N (normal); guttests' comparison gives H (High)"
    >>> lab_flag_disagreement(("A",), InterpretationCode.HIGH) is None
    True

    Flags that say nothing about where the value lies (susceptibility ``S``/``R``,
    ``IND``, free text) are not compared.
    """
    ours = _OUR_SIDE.get(flag) if flag is not None else None
    if ours is None:
        return None
    for lab in lab_flags:
        side = _LAB_FLAG_SIDE.get(lab.strip().upper())
        if side is None or side == ours:
            continue
        if "outside" in (side, ours) and "normal" not in (side, ours):
            continue  # "abnormal" agrees with low or high
        assert flag is not None
        return (
            f"the lab flagged this result {lab} ({_SIDE_WORDS[side]}); guttests' comparison "
            f"gives {flag.value} ({flag.display})"
        )
    return None


_TEXT_ONLY_NOTE = "range given as text; not machine-readable"


def _unreadable(text: str | None, note: str | None) -> str:
    """Why the lab's range text was not used: its own problem when the reader named one."""
    if note and note != _TEXT_ONLY_NOTE:
        return f"the lab's range text {text!r} is not used: {note}"
    return f"the lab's range text {text!r} is not machine-readable"


_GAP_NOTES = ("the value lies in a gap between the range's bands",)


def _place(x: float, bands: tuple[_NumericBand, ...], text: str) -> _Outcome:
    if x - x != 0.0:  # inf or nan
        raise _NotInterpretable(f"value {text!r} is not a finite number after unit conversion")
    for low, low_inc, high, high_inc, flag, label in bands:
        if (x > low or (low_inc and x == low)) and (x < high or (high_inc and x == high)):
            return flag, label, x, ()
    return _IC.INDETERMINATE, None, x, _GAP_NOTES


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
            return band.flag, _label(hits), None, ()
        return (
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
        return _IC.INDETERMINATE, None, limit, ("no band covers the censored value",)
    flags = {b.flag for b in hits}
    if len(flags) == 1 and not _has_gap(rng.bands, lo, hi):
        return hits[0].flag, _label(hits), limit, ()
    return (
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
            return band.flag, band.label, None, ()
    expected_negative = any(
        not b.flag.outside_reference and any(t in ("not_detected", "negative") for t in b.terms)
        for b in rng.bands
    )
    if value.polarity == "positive" and expected_negative:
        if value.term in ("detected", "present") or value.term.startswith("grade_") or value.grade:
            flag = _IC.DETECTED if value.term in ("detected", "present") else _IC.ABNORMAL
            return flag, None, None, ()
        if value.term in ("positive", "reactive"):
            return _IC.POSITIVE, None, None, ()
        return _IC.ABNORMAL, None, None, ()
    if value.polarity == "equivocal":
        return _IC.EQUIVOCAL, None, None, ()
    return (
        _IC.INDETERMINATE,
        None,
        None,
        (f"value {value.text!r} is not one of the range's listed results",),
    )
