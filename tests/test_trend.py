"""Trend graphics of serial results: time on x, the reference band, censored values as open
markers at their limit, another lab or method marked, nothing derived; escaped, well-formed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests import interpret_panel
from guttests._models import Panel, PatientContext, Provenance, Result
from guttests._reports import Report, build_report, render
from guttests._reports._trend import trend_points, trend_svg
from guttests._values import parse_value
from guttests.cli import cli

HASH = "ef" * 32
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports" / "serial_calprotectin.csv"
SVG = "{http://www.w3.org/2000/svg}"


def _panel(when: date, value: str, lab: str = "North Lab", method: str | None = None) -> Panel:
    r = Result(
        name="Calprotectin",
        value_text=value,
        value=parse_value(value),
        unit="ug/g",
        lab_range_text="<=50",
        lab=lab,
        method=method,
        collected=when,
        provenance=Provenance(location="OBX 1"),
    )
    return Panel(
        name="Stool",
        patient=PatientContext(patient_id="P1"),
        collected=when,
        lab=lab,
        results=(r,),
    )


def _report(ps: list[Panel]) -> Report:
    from guttests._range_text import parse_range_text

    fixed = []
    for p in ps:
        r = p.results[0]
        rng = parse_range_text("<=50", unit="ug/g", lab=r.lab)
        fixed.append(p.model_copy(update={"results": (r.model_copy(update={"lab_range": rng}),)}))
    return build_report(
        fixed, [interpret_panel(p) for p in fixed], catalogue_hash=HASH, version="0"
    )


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg class=\"trend\".*?</svg>", html, re.S)]


def test_one_trend_per_series_well_formed_with_text_alternative() -> None:
    rep = _report([_panel(date(2024, 1, 1), "40"), _panel(date(2024, 3, 1), "90")])
    assert len(rep.serial) == 1
    html = render(rep, "html")
    [svg] = _svgs(html)
    alt = svg.get("aria-label") or ""
    assert svg.get("role") == "img"
    assert "2024-01-01 40" in alt
    assert "2024-03-01 90" in alt
    title = svg.find(f"{SVG}title")
    assert title is not None
    assert title.text == alt
    assert "<svg" not in render(rep, "text")
    assert "<svg" not in render(rep, "md")


def test_time_axis_is_proportional_and_band_is_shaded() -> None:
    """Points 10 and 100 days after the first lie at 1/10 and all the way along x."""
    ps = [
        _panel(date(2024, 1, 1), "40"),
        _panel(date(2024, 1, 11), "45"),
        _panel(date(2024, 4, 10), "60"),
    ]
    rep = _report(ps)
    points, log, (_, high) = trend_points(rep.serial[0], rep.rows)
    assert not log
    x0, x1, x2 = (p.x for p in points)
    assert (x1 - x0) / (x2 - x0) == 10 / 100
    assert high == 50
    svg = ET.fromstring(str(trend_svg(rep.serial[0], rep.rows)).split("<p ")[0])
    [band] = [e for e in svg.iter(f"{SVG}rect") if e.get("class") == "tr-band"]
    # the band's top edge is at the value 50: between the points 45 and 60
    y_of = {p.value_text: p.y for p in points}
    assert y_of["60"] < float(band.get("y") or 0) < y_of["45"]


def test_censored_value_is_an_open_marker_at_its_limit_and_not_joined() -> None:
    rep = _report(
        [
            _panel(date(2024, 1, 1), "40"),
            _panel(date(2024, 2, 1), "<20"),
            _panel(date(2024, 3, 1), "30"),
        ]
    )
    points, _, _ = trend_points(rep.serial[0], rep.rows)
    assert [p.censored for p in points] == [None, "below", None]
    assert points[1].value == 20
    svg = ET.fromstring(str(trend_svg(rep.serial[0], rep.rows)).split("<p ")[0])
    circles = list(svg.iter(f"{SVG}circle"))
    assert [c.get("class") for c in circles] == ["tr-dot", "tr-open", "tr-dot"]
    assert float(circles[1].get("cy") or 0) == round(points[1].y, 1)
    assert not [e for e in svg.iter(f"{SVG}line") if e.get("class") == "tr-line"]
    html = render(rep, "html")
    assert "open marker: reported as below or above a limit" in html


def test_other_lab_or_method_is_a_square_and_not_joined() -> None:
    rep = _report(
        [
            _panel(date(2024, 1, 1), "40", lab="South Lab"),
            _panel(date(2024, 2, 1), "42", method="ELISA"),
            _panel(date(2024, 3, 1), "44", method="ELISA"),
            _panel(date(2024, 4, 1), "46", method="ELISA"),
        ]
    )
    points, _, _ = trend_points(rep.serial[0], rep.rows)
    assert [p.other_source for p in points] == [True, False, False, False]
    svg_text = str(trend_svg(rep.serial[0], rep.rows))
    svg = ET.fromstring(svg_text.split("<p ")[0])
    squares = [e for e in svg.iter(f"{SVG}rect") if e.get("class") == "tr-dot"]
    assert len(squares) == 1
    lines = [e for e in svg.iter(f"{SVG}line") if e.get("class") == "tr-line"]
    assert len(lines) == 2  # 42-44 and 44-46 only
    assert "South Lab" in (svg.get("aria-label") or "")
    assert "square marker: another laboratory or method" in svg_text


def test_log_scale_for_values_over_two_orders_of_magnitude() -> None:
    rep = _report([_panel(date(2024, 1, 1), "5"), _panel(date(2024, 2, 1), "2000")])
    _, log, _ = trend_points(rep.serial[0], rep.rows)
    assert log
    assert "log scale" in (
        ET.fromstring(str(trend_svg(rep.serial[0], rep.rows)).split("<p ")[0]).get("aria-label")
        or ""
    )


def test_text_from_the_input_is_escaped() -> None:
    lab = '<script>alert("x")</script> & Co'
    rep = _report([_panel(date(2024, 1, 1), "40", lab=lab), _panel(date(2024, 2, 1), "41")])
    html = render(rep, "html")
    assert "<script>" not in html
    for svg in _svgs(html):
        assert lab in (svg.get("aria-label") or "")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
            st.sampled_from(["<", ">", ""]),
            st.integers(min_value=0, max_value=100000),
        ),
        min_size=2,
        max_size=8,
        unique_by=lambda t: t[0],
    )
)
def test_every_point_is_drawn_inside_the_graphic(data: list[tuple[date, str, int]]) -> None:
    """Whatever the values: one marker and one value label per point, inside the view box."""
    rep = _report([_panel(d, f"{c}{v}") for d, c, v in data])
    [series] = rep.serial
    svg = ET.fromstring(str(trend_svg(series, rep.rows)).split("<p ")[0])
    _, _, w, h = (float(x) for x in (svg.get("viewBox") or "").split())
    markers = [
        e
        for e in svg.iter()
        if e.tag in (f"{SVG}circle", f"{SVG}rect") and e.get("class") in ("tr-dot", "tr-open")
    ]
    assert len(markers) == len(data)
    for m in markers:
        x = float(m.get("cx") or m.get("x") or 0)
        y = float(m.get("cy") or m.get("y") or 0)
        assert 0 <= x <= w
        assert 0 <= y <= h
    labels = [e.text for e in svg.iter(f"{SVG}text") if e.get("class") == "tr-val"]
    assert sorted(labels) == sorted(f"{c}{v}" for _, c, v in data)


def test_serial_fixture_through_the_cli(tmp_path: Path) -> None:
    """A CSV with five collections from two labs: one trend, two square markers (the other
    lab), one open marker (<20), lines only between the three exact values of the latest lab."""
    out = tmp_path / "serial.html"
    res = CliRunner().invoke(cli, ["report", str(FIXTURE), "-o", str(out)])
    assert res.exit_code == 0, res.output
    [svg] = _svgs(out.read_text(encoding="utf-8"))
    markers = [
        (e.tag.removeprefix(SVG), e.get("class"))
        for e in svg.iter()
        if e.get("class") in ("tr-dot", "tr-open")
    ]
    assert markers == [
        ("rect", "tr-open"),
        ("rect", "tr-dot"),
        ("circle", "tr-dot"),
        ("circle", "tr-dot"),
        ("circle", "tr-dot"),
    ]
    assert len([e for e in svg.iter(f"{SVG}line") if e.get("class") == "tr-line"]) == 2
    assert "Southgate Pathology" in (svg.get("aria-label") or "")
    text = CliRunner().invoke(cli, ["report", str(FIXTURE), "--format", "text"]).output
    assert "<svg" not in text
    assert "118" in text
