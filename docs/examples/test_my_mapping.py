"""Property tests for an integrator's own mapping code, written with ``guttests.testing``.

Two pieces of code that a clinic integrating guttests typically writes:

1. ``PORTAL``: a :class:`guttests.CsvMapping` for a lab portal's CSV export (German
   headers, semicolons, decimal commas). The test writes generated panels in the
   portal's layout and checks that reading them through the mapping loses nothing.
2. ``dashboard_row``: turns one interpretation into a row for the clinic's dashboard,
   with the value in the analyte's canonical unit. The test checks, over generated
   catalogues and every compatible unit, that the row never shows a flag for a result
   that was not interpreted and that the value converts back exactly.

Run it with ``pytest docs/examples/test_my_mapping.py``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from guttests import (
    Catalogue,
    CsvMapping,
    Interpretation,
    Panel,
    QuantityValue,
    convert,
    interpret,
    read,
)
from guttests.testing import catalogues, panels, results, units

# --- 1. the portal's CSV layout -----------------------------------------------------------

PORTAL = CsvMapping(
    columns={
        "patient_id": "Patienten-ID",
        "name": "Analyt",
        "value": "Ergebnis",
        "unit": "Einheit",
        "reference_range": "Referenzbereich",
    },
    delimiter=";",
    decimal_comma=True,
)


def write_portal_csv(ps: Sequence[Panel]) -> str:
    """What the portal exports for these panels (a test double of the lab's system)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["Patienten-ID", "Analyt", "Ergebnis", "Einheit", "Referenzbereich"])
    for p in ps:
        for r in p.results:
            writer.writerow(
                [
                    p.patient.patient_id or "",
                    r.name,
                    r.value_text.replace(".", ","),  # the portal writes decimal commas
                    r.unit or "",
                    (r.lab_range_text or "").replace(".", ","),
                ]
            )
    return out.getvalue()


@settings(max_examples=30)
@given(st.lists(panels(), min_size=1, max_size=3))
def test_portal_export_loses_nothing(ps: list[Panel]) -> None:
    """Every exported row reads back as one result with the same value and unit."""
    read_back = read(write_portal_csv(ps), format="csv", csv_mapping=PORTAL)
    got = [r for p in read_back for r in p.results]
    sent = [r for p in ps for r in p.results]
    assert len(got) == len(sent)
    for mine, theirs in zip(got, sent, strict=True):
        assert mine.name == theirs.name
        assert mine.unit == theirs.unit
        assert mine.value is not None
        assert theirs.value is not None
        assert mine.value.model_dump(exclude={"text"}) == theirs.value.model_dump(exclude={"text"})


# --- 2. the dashboard row ------------------------------------------------------------------


def dashboard_row(i: Interpretation, catalogue: Catalogue) -> dict[str, object]:
    """One dashboard row: the flag (only when interpreted), the value in the canonical unit."""
    analyte = catalogue.analyte(i.analyte) if i.analyte else None
    number = i.result.value.value if isinstance(i.result.value, QuantityValue) else None
    canonical = None
    if number is not None and analyte and analyte.unit and i.result.unit:
        canonical = convert(number, i.result.unit, analyte.unit)
    return {
        "test": i.result.label,
        "flag": i.flag.value if i.interpreted and i.flag else None,
        "value": canonical,
        "unit": analyte.unit if canonical is not None and analyte else None,
        "note": i.reason,
    }


@st.composite
def interpreted_rows(draw: st.DrawFn) -> tuple[Interpretation, Catalogue]:
    cat = draw(catalogues())
    analyte = draw(st.sampled_from(cat.analytes))
    result = draw(results(analyte=analyte, lab_ranges=False))
    return interpret(result, catalogue=cat), cat


@settings(max_examples=40)
@given(interpreted_rows())
def test_dashboard_rows(sample: tuple[Interpretation, Catalogue]) -> None:
    """No flag without an interpretation; values convert back to what the lab reported."""
    i, cat = sample
    row = dashboard_row(i, cat)
    if not i.interpreted:
        assert row["flag"] is None
        assert row["note"]
    value, unit = row["value"], row["unit"]
    if isinstance(value, float) and isinstance(unit, str) and i.result.unit:
        back = convert(value, unit, i.result.unit)
        assert isinstance(i.result.value, QuantityValue)
        assert math.isclose(back, i.result.value.value, rel_tol=1e-9, abs_tol=1e-12)


@given(st.data())
def test_units_are_known(data: st.DataObject) -> None:
    """Every unit spelling the strategies draw for an analyte is one guttests converts."""
    cat = data.draw(catalogues())
    for analyte in cat.analytes:
        if analyte.unit:
            spelling = data.draw(units(analyte))
            assert math.isfinite(convert(1.0, spelling, analyte.unit))
