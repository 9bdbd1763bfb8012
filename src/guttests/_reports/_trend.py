"""Trend graphics for serial results: one small inline SVG per series (HTML and PDF reports).

The graphic shows values and ranges only, never a derived claim:

* x is the collection time (proportional), y the value in the series' unit (log scale when
  the values span two orders of magnitude, as the range graphics do);
* the reference interval of the latest result is shaded, when it is in the series' unit;
* a censored value (``<10``, ``>2000``) is an *open* marker drawn at its limit, with a
  short stroke pointing the way the true value lies;
* a result from another laboratory or method than the latest result is a square marker
  (not a circle), and is never joined to its neighbours by a line;
* a line joins only consecutive exact values from the same laboratory and method;
* every point is labelled with its value as the lab wrote it; the ``<title>`` and
  ``aria-label`` list every date and value in words.

Every text is escaped here (the markup is handed to the template as safe markup).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup, escape

from ._model import ResultRow, SerialPoint, SerialSeries, fmt_number
from ._phrases import label

__all__ = ["TrendPoint", "trend_points", "trend_svg"]

_W, _H = 440.0, 150.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 46.0, 52.0, 12.0, 30.0
_LOG_RATIO = 100.0


@dataclass(frozen=True)
class TrendPoint:
    """One plotted point: where it is and how it is drawn."""

    collected: str
    value: float
    value_text: str
    censored: str | None
    """``below`` (``<``, ``<=``), ``above`` (``>``, ``>=``) or ``None`` for an exact value."""
    other_source: bool
    """True when the lab or method differs from that of the latest result of the series."""
    source: str
    x: float
    y: float


def _time(text: str) -> float:
    """A collection time as days since the epoch (a date counts as its noon)."""
    try:
        if "T" in text:
            when = datetime.fromisoformat(text)
            if when.tzinfo is not None:
                return when.timestamp() / 86400.0
            return (when - datetime(1970, 1, 1)).total_seconds() / 86400.0
        return float(date.fromisoformat(text[:10]).toordinal() - 719163) + 0.5
    except ValueError:
        return 0.0


def _source(row: ResultRow) -> str:
    return " · ".join(x for x in (row.lab, row.method) if x)


def _range(series: SerialSeries, rows: tuple[ResultRow, ...]) -> tuple[float | None, float | None]:
    latest = rows[series.points[-1].result_index]
    rng = latest.range
    if rng is None or rng.kind != "quantitative" or rng.unit != series.unit:
        return None, None
    return rng.low, rng.high


class _Axis:
    def __init__(self, values: list[float], lo: float, hi: float) -> None:
        positive = [v for v in values if v > 0]
        self.log = (
            len(positive) == len(values)
            and len(positive) >= 2
            and max(positive) / min(positive) >= _LOG_RATIO
        )
        if self.log:
            self.lo, self.hi = math.log10(min(positive)) - 0.2, math.log10(max(positive)) + 0.2
        else:
            low, high = min(values), max(values)
            if low >= 0:
                low = 0.0
            span = high - low or abs(high) or 1.0
            self.lo, self.hi = low, high + 0.15 * span
        self.a, self.b = lo, hi

    def __call__(self, v: float) -> float:
        if self.log:
            v = math.log10(v) if v > 0 else self.lo
        frac = (v - self.lo) / (self.hi - self.lo) if self.hi != self.lo else 0.5
        frac = min(max(frac, 0.0), 1.0)
        return self.a + (1 - frac) * (self.b - self.a)


def trend_points(
    series: SerialSeries, rows: tuple[ResultRow, ...]
) -> tuple[tuple[TrendPoint, ...], bool, tuple[float | None, float | None]]:
    """The plotted points of a series, whether the y axis is logarithmic, and the band."""
    low, high = _range(series, rows)
    values = [p.value for p in series.points] + [v for v in (low, high) if v is not None]
    y = _Axis(values, _TOP, _H - _BOTTOM)
    times = [_time(p.collected) for p in series.points]
    t0, t1 = min(times), max(times)
    latest = rows[series.points[-1].result_index]
    latest_source = (latest.lab, latest.method)

    def x(t: float) -> float:
        frac = (t - t0) / (t1 - t0) if t1 > t0 else 0.5
        return _LEFT + frac * (_W - _LEFT - _RIGHT)

    out: list[TrendPoint] = []
    for p, t in zip(series.points, times, strict=True):
        row = rows[p.result_index]
        out.append(
            TrendPoint(
                collected=p.collected,
                value=p.value,
                value_text=p.value_text,
                censored=_censored(p),
                other_source=(row.lab, row.method) != latest_source,
                source=_source(row),
                x=x(t),
                y=y(p.value),
            )
        )
    return tuple(out), y.log, (low, high)


def _censored(p: SerialPoint) -> str | None:
    if p.comparator is None:
        return None
    return "below" if p.comparator in ("<", "<=") else "above"


def _f(v: float) -> str:
    return f"{v:.1f}"


def _alt(series: SerialSeries, points: tuple[TrendPoint, ...], log: bool) -> str:
    parts = []
    for p in points:
        text = f"{p.collected} {p.value_text}"
        if p.other_source and p.source:
            text += f" ({p.source})"
        parts.append(text)
    scale = label("scale_log" if log else "scale_linear")
    return f"{label('trend')}: {series.name} ({series.unit}): " + "; ".join(parts) + f"; {scale}."


def trend_svg(series: SerialSeries, rows: tuple[ResultRow, ...]) -> Markup:
    """The inline SVG trend of one serial series (escaped, ready for the HTML template)."""
    points, log, (low, high) = trend_points(series, rows)
    values = [p.value for p in series.points] + [v for v in (low, high) if v is not None]
    y = _Axis(values, _TOP, _H - _BOTTOM)
    alt = _alt(series, points, log)
    e = escape
    out: list[str] = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{_f(_W)}" '
        f'height="{_f(_H)}" viewBox="0 0 {_f(_W)} {_f(_H)}" role="img" aria-label="{e(alt)}">',
        f"<title>{e(alt)}</title>",
    ]
    x0, x1, y0, y1 = _LEFT - 10, _W - _RIGHT + 10, _TOP, _H - _BOTTOM
    if low is not None or high is not None:
        top = y(high) if high is not None else y0
        bottom = y(low) if low is not None else y1
        band = f"{label('range')} {_interval(low, high)} {series.unit}".strip()
        out.append(
            f'<rect class="tr-band" x="{_f(x0)}" y="{_f(top)}" width="{_f(x1 - x0)}" '
            f'height="{_f(max(bottom - top, 1.0))}"><title>{e(band)}</title></rect>'
        )
        for limit in (low, high):
            if limit is not None:
                out.append(
                    f'<text class="tr-lim" x="{_f(x1 + 3)}" y="{_f(y(limit) + 3)}">'
                    f"{e(fmt_number(limit, 4))}</text>"
                )
    out.append(
        f'<line class="tr-axis" x1="{_f(x0)}" y1="{_f(y1)}" x2="{_f(x1)}" y2="{_f(y1)}"/>'
        f'<line class="tr-axis" x1="{_f(x0)}" y1="{_f(y0)}" x2="{_f(x0)}" y2="{_f(y1)}"/>'
        f'<text class="tr-unit" x="{_f(x0 - 3)}" y="{_f(y0 + 3)}" text-anchor="end">'
        f"{e(series.unit)}</text>"
    )
    if log:
        out.append(
            f'<text class="tr-unit" x="{_f(x0 - 3)}" y="{_f(y0 + 13)}" text-anchor="end">log</text>'
        )
    # lines: consecutive exact values of the same source only
    for a, b in itertools.pairwise(points):
        if a.censored or b.censored or a.other_source != b.other_source or a.source != b.source:
            continue
        out.append(
            f'<line class="tr-line" x1="{_f(a.x)}" y1="{_f(a.y)}" x2="{_f(b.x)}" y2="{_f(b.y)}"/>'
        )
    last_label_x = -100.0
    for i, p in enumerate(points):
        cls = "tr-open" if p.censored else "tr-dot"
        title = f"{p.collected}: {p.value_text} {series.unit}"
        if p.source:
            title += f" ({p.source})"
        if p.other_source:
            out.append(
                f'<rect class="{cls}" x="{_f(p.x - 3.6)}" y="{_f(p.y - 3.6)}" width="7.2" '
                f'height="7.2"><title>{e(title)}</title></rect>'
            )
        else:
            out.append(
                f'<circle class="{cls}" cx="{_f(p.x)}" cy="{_f(p.y)}" r="3.8">'
                f"<title>{e(title)}</title></circle>"
            )
        if p.censored:
            d = 1 if p.censored == "below" else -1
            out.append(
                f'<path class="tr-cens" d="M{_f(p.x)},{_f(p.y + d * 5)} v{d * 8} '
                f'm-3,{-d * 3} l3,{d * 3} l3,{-d * 3}"/>'
            )
        dy = 14 if p.censored == "above" or p.y < y0 + 12 else -7
        if p.censored == "below" and p.y > y1 - 16:
            dy = -7
        out.append(
            f'<text class="tr-val" x="{_f(p.x + 5)}" y="{_f(p.y + dy)}">{e(p.value_text)}</text>'
        )
        if p.x - last_label_x >= 62 or i == len(points) - 1:
            anchor = "end" if i == len(points) - 1 and len(points) > 1 else "middle"
            out.append(
                f'<text class="tr-date" x="{_f(p.x)}" y="{_f(y1 + 12)}" '
                f'text-anchor="{anchor}">{e(p.collected[:10])}</text>'
            )
            last_label_x = p.x
    out.append("</svg>")
    legend = [label("trend_legend_band")] if low is not None or high is not None else []
    if any(p.censored for p in points):
        legend.append(label("trend_legend_censored"))
    if any(p.other_source for p in points):
        legend.append(label("trend_legend_other"))
    svg = "".join(out)
    if legend:
        svg += f'<p class="note tr-legend">{e("; ".join(legend))}</p>'
    return Markup(svg)  # every text above went through escape()


def _interval(low: float | None, high: float | None) -> str:
    return "–".join(fmt_number(v) if v is not None else "" for v in (low, high))
