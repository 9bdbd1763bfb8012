"""Interpret lab results held in a table: a pandas DataFrame or a pyarrow Table.

The table has the columns of a CSV export (the headers of
:data:`guttests._readers.csv.DEFAULT_COLUMNS`, or those a :class:`~guttests.CsvMapping`
names): test name or code, value as text, unit, reference range, specimen, status,
method, lab, collection date, and the patient's sex, birth date or age.
:func:`interpret_frame` returns the same rows, in order, with the interpretation
columns of the JSON report appended (:data:`OUTPUT_COLUMNS`).

>>> import pandas as pd
>>> df = pd.DataFrame({
...     "Test": ["Calprotectin, Feces", "Giardia", "Zonulin"],
...     "Result": ["112.4", "Not Detected", "??"],
...     "Units": ["ug/g", None, "ng/mL"],
...     "Reference Range": [None, "Not Detected", None],
...     "Age": ["45", "45", "45"],
... })
>>> out = interpret_frame(df)
>>> out[["analyte", "status", "interpretation", "band"]].iloc[0].tolist()
['calprotectin', 'interpreted', 'H', 'borderline']
>>> out["range_high"].iloc[0], out["status"].iloc[1], out["analyte"].isna().tolist()
(np.float64(50.0), 'interpreted', [False, False, True])
>>> out.loc[2, "reason"]
"not a lab value (text '??')"

Each row gets exactly what :func:`guttests.interpret` gives for the
:class:`~guttests.Result` the CSV reader builds from that row. The work that
does not depend on the value (analyte resolution, range choice, unit factor) is
done once per group of rows that share it, each distinct value text is parsed
once, and plain numbers are placed in their range's bands with array
arithmetic; everything else goes through the single-result engine, once per
distinct combination of the fields that decide the outcome.

This module needs the ``dataframe`` extra (``pip install 'guttests[dataframe]'``);
``import guttests`` never imports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._catalogue import Catalogue, resolve_catalogue
from ._errors import GuttestsError, InputError
from ._interpret import RangePolicy, interpret
from ._models import (
    LOINC_SYSTEM,
    Age,
    CalendarAge,
    Coding,
    Interpretation,
    PatientContext,
    ReferenceRange,
)
from ._readers.csv import (
    CsvField,
    CsvMapping,
    _Columns,
    _patient,
    _result,
    _value,
    parse_when,
    sex_from_text,
)
from ._reports import result_record
from ._types import InterpretationCode, RangeCategory, ValueKind
from ._units import conversion_factor
from ._values import QuantityValue


class MissingDependencyError(GuttestsError, ImportError):
    """An optional dependency (pandas, pyarrow, dask) that a feature needs is not installed."""


try:
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingDependencyError(
        "guttests.dataframe needs pandas",
        hint="pip install 'guttests[dataframe]'",
    ) from _exc

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "OUTPUT_COLUMNS",
    "FrameError",
    "MissingDependencyError",
    "interpret_frame",
    "output_meta",
]

OUTPUT_COLUMNS: Mapping[str, Literal["string", "float64"]] = {
    "analyte": "string",
    "status": "string",
    "interpretation": "string",
    "band": "string",
    "range_low": "float64",
    "range_high": "float64",
    "range_unit": "string",
    "range_text": "string",
    "range_source": "string",
    "range_origin": "string",
    "reason": "string",
    "value_in_range_unit": "float64",
    "position_times_upper_limit": "float64",
}
"""The appended columns and their types, as fields of the JSON report's result record:
``analyte`` the catalogue id, ``status`` ``interpreted``/``not_interpretable``,
``interpretation`` the HL7 v3 flag code, ``range_*`` the range compared with (its
reference interval, unit, text, citation and origin ``lab``/``catalogue``/``user``)."""


class FrameError(InputError):
    """A table that cannot be interpreted as a whole (type, clashing column names)."""


Frame = TypeVar("Frame", "pd.DataFrame", "pa.Table")


def interpret_frame(
    df: Frame,
    *,
    catalogue: Catalogue | Literal["default"] | None = "default",
    optimal: Catalogue | None = None,
    policy: RangePolicy | None = None,
    mapping: CsvMapping | None = None,
    prefix: str = "",
) -> Frame:
    """The rows of ``df`` with the interpretation columns appended, row for row, in order.

    ``catalogue`` is ``"default"`` (the shipped one, as everywhere in guttests), a
    :class:`~guttests.Catalogue`, or ``None`` for none (lab ranges only); ``optimal`` is a
    practitioner range set
    (it never changes the appended columns, which describe the reference range);
    ``mapping`` names the columns as for the CSV reader. ``prefix`` is put before
    each appended column's name, for tables that already have a column called, say,
    ``status``.

    >>> import pyarrow as pa
    >>> t = pa.table({"Test": ["Pancreatic Elastase 1"], "Result": ["<50"], "Units": ["ug/g"],
    ...               "Age": ["52"]})
    >>> out = interpret_frame(t, prefix="gt_")
    >>> out.column("gt_interpretation").to_pylist(), out.column("gt_band").to_pylist()
    (['L'], ['markedly reduced'])
    """
    if _is_arrow(df):
        return _interpret_arrow(df, catalogue, optimal, policy, mapping, prefix)
    if not isinstance(df, pd.DataFrame):
        raise FrameError(f"expected a pandas DataFrame or a pyarrow Table, not {type(df).__name__}")
    columns = _interpret_columns(df, catalogue, optimal, policy, mapping)
    names = _output_names(df.columns, prefix)
    out = df.copy(deep=False)
    for name, key in zip(names, OUTPUT_COLUMNS, strict=True):
        out[name] = pd.Series(columns[key], index=df.index, dtype=_dtype(key))
    return out


def output_meta(meta: pd.DataFrame, *, prefix: str = "") -> pd.DataFrame:
    """An empty frame with ``meta``'s columns and the appended ones: Dask's ``meta``.

    >>> list(output_meta(pd.DataFrame({"Test": [], "Result": []}))).index("analyte")
    2
    """
    out = meta.iloc[:0].copy()
    for name, key in zip(_output_names(meta.columns, prefix), OUTPUT_COLUMNS, strict=True):
        out[name] = pd.Series([], index=out.index, dtype=_dtype(key))
    return out


_TEXT_DTYPE = pd.Series(["text"]).dtype
"""The dtype pandas gives a column of strings: ``object`` in pandas 2, ``str`` in pandas 3."""


def _dtype(key: str) -> Any:
    return _TEXT_DTYPE if OUTPUT_COLUMNS[key] == "string" else np.float64


# --- tables ------------------------------------------------------------------------------


def _is_arrow(df: object) -> bool:
    return type(df).__module__.split(".")[0] == "pyarrow" and type(df).__name__ == "Table"


def _interpret_arrow(
    table: pa.Table,
    catalogue: Catalogue | Literal["default"] | None,
    optimal: Catalogue | None,
    policy: RangePolicy | None,
    mapping: CsvMapping | None,
    prefix: str,
) -> pa.Table:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    header = [str(c) for c in table.column_names]
    wanted = _Columns(header, mapping or CsvMapping(), None, 1).index.values()
    frame = table.select(sorted(set(wanted))).to_pandas()
    columns = _interpret_columns(
        frame, catalogue, optimal, policy, mapping, header=header, positions=sorted(set(wanted))
    )
    out = table
    for name, key in zip(_output_names(header, prefix), OUTPUT_COLUMNS, strict=True):
        values = columns[key]
        if OUTPUT_COLUMNS[key] == "string":
            out = out.append_column(name, pa.array(values, type=pa.string()))
        else:
            out = out.append_column(name, pa.array(values, type=pa.float64(), from_pandas=True))
    return out


def _output_names(existing: Sequence[object] | pd.Index, prefix: str) -> list[str]:
    names = [prefix + key for key in OUTPUT_COLUMNS]
    clash = [n for n in names if n in {str(c) for c in existing}]
    if clash:
        raise FrameError(
            f"the table already has column(s) {', '.join(map(repr, clash))}",
            hint="pass prefix='gt_' (or another) to name the appended columns apart",
        )
    return names


def _texts(s: pd.Series) -> np.ndarray:
    """The column as text cells: ``""`` where missing, as a CSV export holds them."""
    arr = s.to_numpy(dtype=object, copy=True)
    arr[pd.isna(arr)] = ""
    if pd.api.types.infer_dtype(arr, skipna=False) not in ("string", "empty"):
        arr = np.array([_cell_text(x) for x in arr], dtype=object)
    return arr  # type: ignore[no-any-return]


def _cell_text(x: object) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, float | np.floating):
        return repr(float(x))
    if isinstance(x, datetime | date):
        return x.isoformat()
    return str(x)


def _group(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Codes 0..k-1 (in order of first appearance) of the rows' combined keys."""
    n = len(parts[0])
    key = np.zeros(n, dtype=np.int64)
    for part in parts:
        codes, uniques = pd.factorize(part, use_na_sentinel=False)
        key = key * max(len(uniques), 1) + codes
        key, _ = pd.factorize(key)
    return key.astype(np.int64, copy=False)


def _firsts(codes: np.ndarray) -> np.ndarray:
    """Index of the first row of each code (codes number groups by first appearance)."""
    _, first = np.unique(codes, return_index=True)
    return first


def _stripped(text: str) -> str | None:
    return text.strip() or None


# --- the columnar engine -----------------------------------------------------------------

_Record = tuple[Any, ...]
"""The appended columns of one interpretation, in the order of OUTPUT_COLUMNS."""


def _record(interp: Interpretation) -> _Record:
    rec = result_record(interp)
    rng = rec["range"] or {}
    pos = rec["position"] or {}
    return (
        interp.analyte,
        rec["status"],
        rec["interpretation"],
        rec["band"],
        rng.get("low"),
        rng.get("high"),
        rng.get("unit"),
        rng.get("text"),
        rng.get("source"),
        interp.range_origin,
        rec["reason"],
        rec["value_in_range_unit"],
        pos.get("times_upper_limit"),
    )


class _Identity:
    """What the catalogue says about one (name, code, LOINC) combination."""

    __slots__ = ("absolute", "age_limits", "analyte", "needs_sex")

    def __init__(self, analyte: str | None, ranges: Sequence[ReferenceRange]) -> None:
        self.analyte = analyte
        limits: dict[tuple[float, str], Age] = {}
        self.needs_sex = False
        self.absolute = False
        for r in ranges:
            a = r.applies_to
            self.needs_sex |= a.sex is not None
            self.absolute |= r.category is RangeCategory.ABSOLUTE
            for age in (a.age_low, a.age_high):
                if age is not None:
                    limits[(age.value, age.unit)] = age
        # age limits are compared in completed calendar units (guttests._age), never in days
        self.age_limits = tuple(limits.values())


def _age_code(age: CalendarAge | None, limits: Sequence[Age]) -> int:
    """One number per combination of 'limit reached / not reached / cannot tell'."""
    if age is None:
        return -1
    code = 0
    for limit in limits:
        verdict = age.at_least(limit)
        code = code * 3 + (2 if verdict is None else int(verdict))
    return code


class _FastGroup:
    """A group whose plain numbers are placed in one quantitative range by arithmetic."""

    __slots__ = ("bands", "high", "record")

    def __init__(self, record: _Record, rng: ReferenceRange) -> None:
        self.record = record
        self.bands = rng.bands
        self.high = rng.reference_interval()[1]


def _interpret_columns(
    df: pd.DataFrame,
    catalogue: Catalogue | Literal["default"] | None,
    optimal: Catalogue | None,
    policy: RangePolicy | None,
    mapping: CsvMapping | None,
    *,
    header: list[str] | None = None,
    positions: list[int] | None = None,
) -> dict[str, np.ndarray]:
    m = mapping or CsvMapping()
    cat = resolve_catalogue(catalogue)
    pol = policy or RangePolicy()
    header = header if header is not None else [str(c) for c in df.columns]
    cols = _Columns(header, m, None, 1)
    n = len(df)
    # positions: where the frame's columns sit in the full header (an Arrow selection)
    where = {p: i for i, p in enumerate(positions)} if positions is not None else None
    text: dict[CsvField, np.ndarray] = {}
    for field, idx in cols.index.items():
        text[field] = _texts(df.iloc[:, where[idx] if where is not None else idx])
    blank = np.full(n, "", dtype=object)

    def col(field: CsvField) -> np.ndarray:
        return text.get(field, blank)

    out = _empty_columns(n)
    if n == 0:
        return out

    # analyte resolution and what range choice needs, once per (name, code, LOINC)
    ident = _group([col("name"), col("code"), col("loinc")])
    identities = []
    for i in _firsts(ident):
        name, local, loinc = (_stripped(col(f)[i]) for f in ("name", "code", "loinc"))
        codes = ([Coding(system=LOINC_SYSTEM, code=loinc)] if loinc else []) + (
            [Coding(code=local)] if local else []
        )
        analyte = cat.resolve(name, codes)
        ranges: list[ReferenceRange] = []
        if analyte is not None:
            ranges += cat.ranges_for(analyte.id)
            if optimal is not None:
                ranges += optimal.ranges_for(analyte.id)
        identities.append(_Identity(analyte.id if analyte else None, ranges))

    # patient context and collection date, once per distinct combination
    ctx = _group([col("sex"), col("birth_date"), col("age"), col("collected")])
    contexts: list[tuple[PatientContext, date | datetime | None]] = []
    ctx_first = _firsts(ctx)
    sex_code = np.zeros(len(ctx_first), dtype=np.int64)
    ages: list[CalendarAge | None] = []
    for k, i in enumerate(ctx_first):
        key = (None, None, *(_stripped(col(f)[i]) for f in ("sex", "birth_date", "age")))
        context, _ = _patient(key, m.date_formats)
        when_text = _stripped(col("collected")[i])
        when = parse_when(when_text, m.date_formats) if when_text else None
        contexts.append((context, when))
        sex_code[k] = {None: 0, "female": 1, "male": 2}[sex_from_text(key[2])]
        ages.append(context.age_at(when))

    # sex and age count only for analytes with ranges that depend on them; ages only
    # by the side of each range's age limits they fall on
    row_sex = np.where(
        np.array([x.needs_sex for x in identities], dtype=bool)[ident], sex_code[ctx], -1
    )
    row_age = np.full(n, -2, dtype=np.int64)
    for k, identity in enumerate(identities):
        if identity.age_limits:
            rows = np.flatnonzero(ident == k)
            age_codes = np.array([_age_code(a, identity.age_limits) for a in ages], dtype=np.int64)
            row_age[rows] = age_codes[ctx[rows]]

    group = _group(
        [
            ident,
            col("unit"),
            col("reference_range"),
            col("specimen"),
            col("status"),
            col("method"),
            col("lab"),
            row_sex,
            row_age,
        ]
    )
    value_code, value_texts = pd.factorize(col("value"))
    row_key = _group([group, value_code])

    # each distinct value text parsed once
    numbers = np.full(len(value_texts), np.nan)
    parsed = np.zeros(len(value_texts), dtype=bool)
    for k, vt in enumerate(value_texts):
        value, _ = _value(vt, m.decimal_comma)
        parsed[k] = value is not None
        if isinstance(value, QuantityValue):
            numbers[k] = value.value
    row_number = numbers[value_code]
    row_parsed = parsed[value_code]

    # Rows of one group share everything that decides the outcome but the value. Once
    # interpreted, a group's first row says how the others go:
    # * when it fails before its value is looked at (a status that is not interpreted,
    #   or no range at all), every row whose value was read fails the same way;
    # * when its plain, non-negative number was placed in a quantitative range, every
    #   such number is placed there by arithmetic (range choice and unit factor do not
    #   depend on the value). Negative numbers, analytes with plausibility limits
    #   (absolute ranges) and non-finite products take the single-result path.
    memo: dict[int, _Record] = {}
    n_groups = int(group.max()) + 1
    early = np.zeros(n_groups, dtype=bool)
    factor = np.full(n_groups, np.nan)
    fast: dict[int, _FastGroup] = {}

    def run(i: int) -> Interpretation:
        return _interpret_row(i, cols, text, m, contexts[ctx[i]], cat, optimal, pol)

    for g, i in _first_rows(group, row_parsed):
        interp = run(i)
        if _fails_before_value(interp, identities[ident[i]], cat, pol):
            early[g] = True
            memo[-1 - g] = _record(interp)
    placeable = np.isfinite(row_number) & (row_number >= 0) & ~early[group]
    for g, i in _first_rows(group, placeable):
        if identities[ident[i]].absolute:
            continue
        interp = run(i)
        memo[int(row_key[i])] = record = _record(interp)
        rng = interp.range
        if interp.interpreted and rng is not None and rng.kind is ValueKind.QUANTITATIVE:
            fast[g] = _FastGroup(record, rng)
            factor[g] = _factor(interp.result.unit, rng.unit)
    x = row_number * factor[group]
    is_fast = placeable & np.isfinite(x)
    _place_fast(out, np.flatnonzero(is_fast), group, x, fast)

    slow_rows = np.flatnonzero(~is_fast)
    if slow_rows.size:
        slow_key = np.where(early[group] & row_parsed, -1 - group, row_key)[slow_rows]
        keys, first = np.unique(slow_key, return_index=True)
        records = []
        for k, i in zip(keys.tolist(), slow_rows[first].tolist(), strict=True):
            hit = memo.get(k)
            if hit is None:
                hit = memo[k] = _record(run(i))
            records.append(hit)
        at = np.searchsorted(keys, slow_key)
        for j, name in enumerate(OUTPUT_COLUMNS):
            out[name][slow_rows] = _column([r[j] for r in records], OUTPUT_COLUMNS[name])[at]
    return out


def _first_rows(group: np.ndarray, mask: np.ndarray) -> list[tuple[int, int]]:
    """(group, first row) for each group with a row in ``mask``."""
    rows = np.flatnonzero(mask)
    groups, at = np.unique(group[rows], return_index=True)
    return list(zip(groups.tolist(), rows[at].tolist(), strict=True))


def _fails_before_value(
    interp: Interpretation, identity: _Identity, cat: Catalogue, policy: RangePolicy
) -> bool:
    """Whether a not-interpretable row failed for a reason its value plays no part in."""
    if interp.interpreted:
        return False
    result = interp.result
    if not result.status.interpretable:
        return True
    lab = result.lab_range
    if lab is not None and lab.machine_readable:
        return False
    if identity.analyte is None:
        return True
    return not any(
        r.category is RangeCategory.REFERENCE and r.bands for r in cat.ranges_for(identity.analyte)
    )


def _column(values: Sequence[Any], kind: str) -> np.ndarray:
    if kind == "string":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _factor(src: str | None, dst: str | None) -> float:
    """The engine's factor from the result's unit to the range's (it succeeded on the probe)."""
    if src == dst or (src is not None and dst is not None and src.strip() == dst.strip()):
        return 1.0
    if src is None or dst is None:
        return math.nan
    return float(conversion_factor(src, dst))


def _place_fast(
    out: dict[str, np.ndarray],
    rows: np.ndarray,
    group: np.ndarray,
    x: np.ndarray,
    fast: Mapping[int, _FastGroup],
) -> None:
    """Band, flag and position of plain numbers, one range (group) at a time."""
    if not rows.size:
        return
    order = rows[np.argsort(group[rows], kind="stable")]
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    same = (
        "analyte",
        "status",
        "range_low",
        "range_high",
        "range_unit",
        "range_text",
        "range_source",
        "range_origin",
        "reason",
    )
    for seg in np.split(order, cuts):
        fg = fast[int(group[seg[0]])]
        xs = x[seg]
        for name in same:
            value = fg.record[_INDEX[name]]
            out[name][seg] = np.nan if value is None and out[name].dtype == np.float64 else value
        flag = np.full(len(seg), InterpretationCode.INDETERMINATE.value, dtype=object)
        band = np.full(len(seg), None, dtype=object)
        todo = np.ones(len(seg), dtype=bool)
        for b in fg.bands:  # the first band that contains the value, as the engine does
            inside = todo.copy()
            if b.low is not None:
                inside &= (xs > b.low) | ((xs == b.low) & b.low_inclusive)
            if b.high is not None:
                inside &= (xs < b.high) | ((xs == b.high) & b.high_inclusive)
            flag[inside] = b.flag.value
            band[inside] = b.label
            todo &= ~inside
        out["interpretation"][seg] = flag
        out["band"][seg] = band
        out["value_in_range_unit"][seg] = xs
        if fg.high is not None and fg.high > 0:
            out["position_times_upper_limit"][seg] = xs / fg.high


_INDEX = {name: j for j, name in enumerate(OUTPUT_COLUMNS)}


def _empty_columns(n: int) -> dict[str, np.ndarray]:
    return {
        name: np.full(n, None, dtype=object) if kind == "string" else np.full(n, np.nan)
        for name, kind in OUTPUT_COLUMNS.items()
    }


def _interpret_row(
    i: int,
    cols: _Columns,
    text: Mapping[CsvField, np.ndarray],
    m: CsvMapping,
    context: tuple[PatientContext, date | datetime | None],
    cat: Catalogue,
    optimal: Catalogue | None,
    policy: RangePolicy,
) -> Interpretation:
    """The single-result path, on the Result the CSV reader builds from row ``i``."""
    row = [""] * cols.width
    for field, idx in cols.index.items():
        row[idx] = text[field][i]
    patient, when = context
    lab = cols.get(row, "lab") or m.lab
    result = _result(row, cols, m, ",", None, i + 1, when, lab, None)
    return interpret(result, patient, catalogue=cat, optimal=optimal, policy=policy, collected=when)
