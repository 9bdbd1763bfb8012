"""Patient context from the command line, and grouping panels into one report per patient.

``--sex``, ``--birth-date`` and ``--age`` only fill what the input leaves
empty; a value that contradicts the input is a usage error, never a silent
override.

>>> from guttests._models import Panel, PatientContext
>>> p = Panel(patient=PatientContext(patient_id="A1"))
>>> [filled] = fill_context([p], ContextOptions(sex="female"))
>>> filled.panel.patient.sex, sorted(filled.filled)
('female', ['sex'])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import click

from .._age import CalendarAge
from .._models import Age, Interpretation, Panel, PatientContext
from .._types import Sex

__all__ = [
    "ContextOptions",
    "FilledPanel",
    "annotate",
    "fill_context",
    "group_by_patient",
    "patient_key",
]


@dataclass(frozen=True, slots=True)
class ContextOptions:
    """What the user gave with ``--sex``, ``--birth-date`` and ``--age``."""

    sex: Sex | None = None
    birth_date: date | None = None
    age: Age | None = None
    age_text: str | None = None
    """``--age`` as typed, for notes."""

    @property
    def given(self) -> bool:
        return self.sex is not None or self.birth_date is not None or self.age is not None

    def describe(self, field: str) -> str:
        """The option as the user typed it, for notes and messages.

        A birth date is identifying: the option is named without its value.

        >>> ContextOptions(birth_date=date(1984, 5, 17)).describe("birth_date")
        '--birth-date'
        """
        if field == "sex":
            return f"--sex {'F' if self.sex == 'female' else 'M'}"
        if field == "birth_date":
            return "--birth-date"
        return f"--age {self.age_text or self.age}"


@dataclass(frozen=True, slots=True)
class FilledPanel:
    """A panel with the context fields that came from the command line."""

    panel: Panel
    filled: frozenset[str]


def _where(panel: Panel, index: int) -> str:
    prov = panel.provenance
    if prov is not None and prov.source:
        return prov.describe()
    return f"panel {index + 1}"


def _years_at(birth: date, when: date | datetime | None) -> int | None:
    if when is None:
        return None
    day = when.date() if isinstance(when, datetime) else when
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    return years if years >= 0 else None


def fill_context(panels: Iterable[Panel], options: ContextOptions) -> list[FilledPanel]:
    """Fill missing patient context from ``options``; a contradiction is a usage error.

    >>> from guttests._models import Panel, PatientContext
    >>> p = Panel(patient=PatientContext(sex="male"))
    >>> try:
    ...     fill_context([p], ContextOptions(sex="female"))
    ... except click.UsageError as exc:
    ...     print(exc.message.split(";")[0])
    --sex F disagrees with the input (panel 1 gives sex male)
    """
    out: list[FilledPanel] = []
    for index, panel in enumerate(panels):
        ctx = panel.patient
        update: dict[str, object] = {}
        if options.sex is not None:
            if ctx.sex is None:
                update["sex"] = options.sex
            elif ctx.sex != options.sex:
                raise _conflict(options, "sex", panel, index, f"sex {ctx.sex}")
        if options.birth_date is not None:
            if ctx.birth_date is None:
                update["birth_date"] = options.birth_date
            elif ctx.birth_date != options.birth_date:
                # Neither date is quoted: both identify the patient.
                raise _conflict(options, "birth_date", panel, index, "another birth date")
        if options.age is not None:
            update.update(_age_update(ctx, options, panel, index))
        if update:
            panel = panel.model_copy(update={"patient": ctx.model_copy(update=update)})
        out.append(FilledPanel(panel, frozenset(update)))
    return out


def _age_update(
    ctx: PatientContext, options: ContextOptions, panel: Panel, index: int
) -> dict[str, object]:
    age = options.age
    if age is None:
        return {}
    if ctx.age is not None:
        if ctx.age.days != age.days:
            raise _conflict(options, "age", panel, index, f"age {ctx.age}")
        return {}
    if ctx.birth_date is None:
        return {"age": age}
    # The input's birth date gives the age at collection more precisely than --age:
    # keep it, and only check that the two agree in whole years.
    when = panel.collected or next((r.collected for r in panel.results if r.collected), None)
    years = _years_at(ctx.birth_date, when)
    if years is None:
        return {"age": age}
    low, high = CalendarAge.from_age(age).years
    if not low <= years <= high:
        given = f"a birth date giving age {years} years at collection"
        raise _conflict(options, "age", panel, index, given)
    return {}


def _conflict(
    options: ContextOptions, field: str, panel: Panel, index: int, given: str
) -> click.UsageError:
    return click.UsageError(
        f"{options.describe(field)} disagrees with the input ({_where(panel, index)} gives "
        f"{given}); the input's value is not overridden. Remove the option, or correct the input."
    )


def patient_key(ctx: PatientContext) -> tuple[str, ...]:
    """Which patient a panel belongs to: its identifier, else its name and birth date.

    Panels without identifier, name or birth date share one key: the files given in one
    command are taken to be of one patient, as the user said by naming them together.

    >>> patient_key(PatientContext(patient_id="A1", name="Doe, Jane"))
    ('id', 'A1')
    >>> patient_key(PatientContext())
    ('unidentified',)
    >>> from guttests._models import Identifier
    >>> hospa = (Identifier(value="123", assigner="HOSPA"),)
    >>> patient_key(PatientContext(patient_id="123", identifiers=hospa))
    ('id', '123', '', 'HOSPA')
    """
    if ctx.patient_id:
        # The assigning authority (or system) is part of the identity: 123 of HOSPA and
        # 123 of HOSPB are two patients.
        for ident in ctx.identifiers:
            if ident.value == ctx.patient_id and (ident.system or ident.assigner):
                return ("id", ctx.patient_id, ident.system or "", ident.assigner or "")
        return ("id", ctx.patient_id)
    if ctx.name or ctx.birth_date:
        birth = ctx.birth_date.isoformat() if ctx.birth_date else ""
        return ("name", ctx.name or "", birth)
    return ("unidentified",)


def group_by_patient(panels: Sequence[Panel]) -> list[list[int]]:
    """Indices of ``panels`` grouped by :func:`patient_key`, in order of first appearance.

    >>> ps = [Panel(patient=PatientContext(patient_id=i)) for i in ("A", "B", "A")]
    >>> group_by_patient(ps)
    [[0, 2], [1]]

    The assigning authority is part of the identity (HL7 PID-3 CX.4):

    >>> from guttests._models import Identifier
    >>> def p(auth): return Panel(patient=PatientContext(patient_id="123",
    ...     identifiers=(Identifier(value="123", assigner=auth),) if auth else ()))
    >>> group_by_patient([p("HOSPA"), p("HOSPB"), p("HOSPA")])
    [[0, 2], [1]]
    >>> group_by_patient([p("HOSPA"), p(None)])
    [[0, 1]]
    """
    keys = [patient_key(panel.patient) for panel in panels]
    # An identifier without authority ("123" from a CSV) joins the one patient of that
    # value whose authority is known (123 of HOSPA); with two such patients it cannot
    # be told which, and stays apart.
    authorities: dict[str, set[tuple[str, ...]]] = {}
    for key in keys:
        if key[0] == "id" and len(key) > 2:
            authorities.setdefault(key[1], set()).add(key)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, key in enumerate(keys):
        if key[0] == "id" and len(key) == 2:
            known = authorities.get(key[1], set())
            if len(known) == 1:
                key = next(iter(known))
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def annotate(
    interps: Sequence[Interpretation], filled: frozenset[str], options: ContextOptions
) -> tuple[Interpretation, ...]:
    """Add a note to each interpretation whose range choice used context from the command line.

    >>> from guttests._models import Provenance, Result
    >>> r = Result(name="x", provenance=Provenance(location="line 2"))
    >>> i = Interpretation(result=r, status="not_interpretable")
    >>> annotate([i], frozenset({"sex"}), ContextOptions(sex="male")) == (i,)
    True
    """
    if not filled:
        return tuple(interps)
    out: list[Interpretation] = []
    for interp in interps:
        notes: list[str] = []
        rng = interp.range
        if rng is not None:
            if rng.applies_to.sex is not None and "sex" in filled:
                notes.append(f"sex from the command line ({options.describe('sex')})")
            if rng.applies_to.needs_age:
                for field in ("birth_date", "age"):
                    if field in filled:
                        what = "birth date" if field == "birth_date" else "age"
                        notes.append(f"{what} from the command line ({options.describe(field)})")
        if notes:
            interp = interp.model_copy(update={"notes": (*interp.notes, *notes)})
        out.append(interp)
    return tuple(out)
