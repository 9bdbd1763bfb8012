"""The HTML report: one self-contained file (inline CSS and SVG), Jinja2 with autoescape.

Jinja2 is imported on the first HTML render only, to keep the CLI's cold start short.
The range graphics are computed here as plain geometry; the template draws them, so every
string that reaches the page goes through autoescaping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from ._model import Report, ResultRow, SerialSeries, fmt_number
from ._phrases import label, phrase

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["Graphic", "range_graphic", "render_html", "serial_chart"]

_W, _H = 200.0, 34.0
_PAD = 6.0
_BAR_Y, _BAR_H = 6.0, 12.0
_LOG_RATIO = 100.0
"""Draw on a log scale when the largest positive number is this many times the smallest."""

_BAND_CLASS = {
    "N": "b-n",
    "NEG": "b-n",
    "ND": "b-n",
    "H": "b-h",
    "L": "b-h",
    "HH": "b-a",
    "LL": "b-a",
    "A": "b-a",
    "POS": "b-a",
    "DET": "b-a",
    "IND": "b-e",
    "E": "b-e",
}
_SYMBOL = {
    "H": "▲",
    "HH": "▲▲",
    "L": "▼",
    "LL": "▼▼",
    "A": "◆",
    "POS": "◆",
    "DET": "◆",
    "IND": "?",
    "E": "?",
}


@dataclass(frozen=True)
class _Rect:
    x: str
    w: str
    cls: str
    title: str


@dataclass(frozen=True)
class _Tick:
    x: str
    text: str


@dataclass(frozen=True)
class Graphic:
    """Geometry of one inline range graphic (coordinates pre-formatted for SVG)."""

    width: str
    height: str
    bands: tuple[_Rect, ...]
    ticks: tuple[_Tick, ...]
    marker_x: str | None
    marker: str | None
    """``point``, ``below`` or ``above`` (censored: open triangle pointing that way)."""
    triangle: str | None
    log: bool
    alt: str


@dataclass
class _Scale:
    lo: float
    hi: float
    log: bool
    x0: float = _PAD
    x1: float = _W - _PAD
    ticks: list[float] = field(default_factory=list)

    def x(self, v: float | None, default: float) -> float:
        if v is None:
            return default
        if self.log:
            if v <= 0:
                return self.x0
            v = math.log10(v)
        frac = (v - self.lo) / (self.hi - self.lo)
        return self.x0 + min(max(frac, 0.0), 1.0) * (self.x1 - self.x0)


def _scale(points: list[float], value: float | None) -> _Scale:
    positive = [p for p in points if p > 0]
    use_log = (
        len(positive) >= 2
        and (value is None or value > 0)
        and max(positive) / min(positive) >= _LOG_RATIO
    )
    if use_log:
        lo, hi = math.log10(min(positive)), math.log10(max(positive))
        return _Scale(lo - 0.5, hi + 0.5, True)
    lo, hi = min(points), max(points)
    if lo >= 0:
        lo = 0.0
    span = hi - lo or abs(hi) or 1.0
    return _Scale(lo, hi + 0.25 * span, False)


def _f(x: float) -> str:
    return f"{x:.1f}"


def range_graphic(row: ResultRow) -> Graphic | None:
    """The range graphic of one row, or ``None`` when the row is not quantitative."""
    rng = row.range
    if (
        rng is None
        or rng.kind != "quantitative"
        or not rng.bands
        or row.status != "interpreted"
        or row.value_kind not in ("quantity", "censored")
    ):
        return None
    value = row.value_in_range_unit
    bounds = [b for band in rng.bands for b in (band.low, band.high) if b is not None]
    if not bounds and value is None:
        return None
    scale = _scale(bounds + ([value] if value is not None else []), value)
    rects = []
    for band in rng.bands:
        x_lo = scale.x(band.low, scale.x0)
        x_hi = scale.x(band.high, scale.x1)
        rects.append(
            _Rect(
                x=_f(x_lo),
                w=_f(max(x_hi - x_lo, 1.0)),
                cls=_BAND_CLASS.get(band.flag, "b-e"),
                title=f"{band.label}: {_interval(band.low, band.high)} {rng.unit or ''}".strip(),
            )
        )
    ticks: list[_Tick] = []
    last = -100.0
    for b in sorted(set(bounds)):
        x = scale.x(b, scale.x0)
        if x - last >= 26:
            ticks.append(_Tick(x=_f(x), text=_short(b)))
            last = x
    marker = triangle = marker_x = None
    if value is not None:
        x = scale.x(value, scale.x0)
        marker_x = _f(x)
        cy = _BAR_Y + _BAR_H / 2
        if row.comparator is None:
            marker = "point"
        else:
            below = row.comparator in ("<", "<=")
            marker = "below" if below else "above"
            tip = x - 9 if below else x + 9
            triangle = f"{_f(tip)},{_f(cy)} {_f(x)},{_f(cy - 5)} {_f(x)},{_f(cy + 5)}"
    position = (row.position.text if row.position else None) or row.flag_text
    bands_text = ", ".join(r.title for r in rects)
    template = "graphic" if row.comparator is None else "graphic_censored"
    alt = phrase(
        template,
        name=row.display_name,
        value=row.value,
        unit=row.unit or "",
        range=f"{label('range')} {rng.text} ({bands_text})",
        position=position,
        scale=label("scale_log" if scale.log else "scale_linear"),
    ).replace(" ;", ";")
    return Graphic(
        width=_f(_W),
        height=_f(_H),
        bands=tuple(rects),
        ticks=tuple(ticks),
        marker_x=marker_x,
        marker=marker,
        triangle=triangle,
        log=scale.log,
        alt=alt,
    )


def _short(x: float) -> str:
    """A tick label: '50', '0.35', '1e5'."""
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        mantissa, exponent = f"{x:.1e}".split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    return fmt_number(x, 4)


def _interval(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{fmt_number(low)}–{fmt_number(high)}"
    if high is not None:
        return f"≤{fmt_number(high)}"
    if low is not None:
        return f"≥{fmt_number(low)}"
    return "any value"


@dataclass(frozen=True)
class _ChartPoint:
    x: str
    y: str
    date: str
    text: str
    triangle: str | None


@dataclass(frozen=True)
class SerialChart:
    """Geometry of a small serial-results line chart."""

    width: str
    height: str
    points: tuple[_ChartPoint, ...]
    path: str
    band: tuple[str, str] | None
    log: bool
    alt: str


def serial_chart(series: SerialSeries, rows: tuple[ResultRow, ...]) -> SerialChart:
    """A line chart of one serial series, with the latest reference interval shaded."""
    w, h, left, right, top, bottom = 360.0, 120.0, 40.0, 40.0, 14.0, 22.0
    values = [p.value for p in series.points]
    ref_lo = ref_hi = None
    last_row = rows[series.points[-1].result_index]
    if last_row.range is not None and last_row.range.unit == series.unit:
        ref_lo, ref_hi = last_row.range.low, last_row.range.high
    extent = values + [v for v in (ref_lo, ref_hi) if v is not None]
    scale = _scale(extent, min(values))
    n = len(series.points)

    def y(v: float) -> float:
        frac = (scale.x(v, _PAD) - scale.x0) / (scale.x1 - scale.x0)
        return top + (1 - frac) * (h - top - bottom)

    pts: list[_ChartPoint] = []
    for i, p in enumerate(series.points):
        x = left + (w - left - right) * (i / (n - 1) if n > 1 else 0.5)
        yy = y(p.value)
        tri = None
        if p.comparator is not None:
            down = p.comparator in ("<", "<=")
            tip = yy + 9 if down else yy - 9
            tri = f"{_f(x)},{_f(tip)} {_f(x - 5)},{_f(yy)} {_f(x + 5)},{_f(yy)}"
        pts.append(
            _ChartPoint(x=_f(x), y=_f(yy), date=p.collected[:10], text=p.value_text, triangle=tri)
        )
    band = None
    if ref_lo is not None or ref_hi is not None:
        y_top = y(ref_hi) if ref_hi is not None else top
        y_bot = y(ref_lo) if ref_lo is not None else h - bottom
        band = (_f(y_top), _f(max(y_bot - y_top, 1.0)))
    path = " ".join(("M" if i == 0 else "L") + f"{p.x},{p.y}" for i, p in enumerate(pts))
    alt = (
        f"{series.name} ({series.unit}): "
        + "; ".join(f"{p.collected} {p.value_text}" for p in series.points)
        + f"; {label('scale_log' if scale.log else 'scale_linear')}."
    )
    return SerialChart(
        width=_f(w),
        height=_f(h),
        points=tuple(pts),
        path=path,
        band=band,
        log=scale.log,
        alt=alt,
    )


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("guttests._reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _row_class(row: ResultRow) -> str:
    if row.status != "interpreted":
        return "ni"
    return {"b-h": "out", "b-a": "out", "b-e": "ind"}.get(
        _BAND_CLASS.get(row.interpretation or "", ""), ""
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    from jinja2 import TemplateError

    from .._errors import ReportError
    from ._trend import trend_svg

    rows = report.rows
    try:
        return (
            _environment()
            .get_template("report.html.j2")
            .render(
                report=report,
                label=label,
                graphic=range_graphic,
                chart=lambda s: serial_chart(s, rows),
                trend=lambda s: trend_svg(s, rows),
                # Each point's change, looked up by index: a search per point was quadratic.
                change_texts=lambda s: {c.to_index: c.text for c in s.changes},
                symbol=lambda r: (
                    _SYMBOL.get(r.interpretation or "", "") if r.status == "interpreted" else "✕"
                ),
                row_class=_row_class,
                rows=rows,
                origin=lambda o: label(f"origin_{o}") if o else "",
            )
        )
    except TemplateError as exc:
        raise ReportError("cannot render the HTML report") from exc
