"""The public strategies of ``guttests.testing``: valid objects, simple shrinking, from_type.

A strategy that produced an invalid object would make every property built on it
lie, so each one is checked here against the library's own validation.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import guttests.testing as gt
from guttests._catalogue import Catalogue, normalise_name
from guttests._models import Analyte, Band, Panel, ReferenceRange, Result, band_gaps
from guttests._types import InterpretationCode, ValueKind
from guttests._units import compatible
from guttests._values import parse_value
from guttests.testing import (
    analytes,
    catalogues,
    fhir_bundles,
    panels,
    reference_ranges,
    results,
    to_range_toml,
    units,
    value_texts,
    values,
)

IC = InterpretationCode
LADDER = [IC.CRITICAL_LOW, IC.LOW, IC.NORMAL, IC.HIGH, IC.CRITICAL_HIGH]
FORMS = ["quantity", "censored", "qualitative", "ordinal"]


def test_public_names() -> None:
    """``__all__`` lists exactly the public names of guttests.testing, each documented."""
    public = {n for n in dir(gt) if not n.startswith("_") and n not in ("annotations", "st")}
    modules = {"Callable", "Literal", "NamedTuple", "Panel", "SearchStrategy", "Sequence"}
    assert set(gt.__all__) == public - modules - {"InputFormat", "find"}
    for name in set(gt.__all__) - {"ValueForm"}:  # a type alias, documented in the module
        assert getattr(gt, name).__doc__, name


@pytest.mark.parametrize("form", FORMS)
@given(data=st.data())
def test_value_texts_parse_back(form: str, data: st.DataObject) -> None:
    """Every generated value text parses, to a value of the requested kind, the same every time."""
    text = data.draw(value_texts(form))  # type: ignore[arg-type]
    value = parse_value(text)
    assert value.kind == form
    assert value.text == text
    assert parse_value(text) == value


@given(values())
def test_values_carry_their_text(value: object) -> None:
    """A generated value is exactly what its own text parses to."""
    assert parse_value(value.text) == value  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("form", "condition", "simplest"),
    [
        ("quantity", lambda t: "x 10^" in t, "1.0 x 10^1"),
        ("quantity", lambda t: "e" in t, "1.0e1"),
        ("censored", lambda t: "or" in t, "< or =0"),
        ("censored", lambda t: "≤" in t, "≤0"),
        ("censored", lambda t: "dl" in t.lower(), "<dl"),
        ("qualitative", lambda t: True, "Negative"),
        ("ordinal", lambda t: True, "Class 0"),
    ],
)
def test_awkward_forms_and_shrinking(form: str, condition: object, simplest: str) -> None:
    """The awkward but valid forms labs write are generated, and shrink to their simplest."""
    assert find(value_texts(form), condition) == simplest  # type: ignore[arg-type]


def test_simplest_examples() -> None:
    """Shrinking reaches the simplest objects: one unbounded normal band; the number 0."""
    rng = find(reference_ranges(), lambda r: True)
    assert rng.kind is ValueKind.QUANTITATIVE
    assert [(b.flag, b.low, b.high) for b in rng.bands] == [(IC.NORMAL, None, None)]
    assert rng.applies_to.describe() == "all"
    assert find(value_texts(), lambda t: True) == "0"


@given(reference_ranges())
def test_ranges_valid(rng: ReferenceRange) -> None:
    """Generated ranges validate again, numeric bands are adjacent, flags run low to high."""
    assert ReferenceRange.model_validate(rng.model_dump()) == rng
    assert rng.source.text
    if rng.kind is ValueKind.QUALITATIVE:
        assert all(b.terms for b in rng.bands)
        return
    assert band_gaps(rng.bands) == []
    flags = [LADDER.index(b.flag) for b in rng.sorted_bands()]
    assert flags == sorted(flags)
    if rng.kind is ValueKind.QUANTITATIVE:
        assert rng.unit is not None
        compatible(rng.unit, rng.unit)  # the unit parses


@given(analytes(ValueKind.QUANTITATIVE).flatmap(lambda a: st.tuples(st.just(a), units(a))))
def test_units_compatible(pair: tuple[Analyte, str]) -> None:
    """Every unit drawn for an analyte converts into its canonical unit."""
    analyte, unit = pair
    assert analyte.unit is not None
    assert compatible(unit, analyte.unit)


def test_units_include_lab_spellings() -> None:
    """Lab spellings of one quantity are all drawn (µg/g, mcg/g, mg/kg for ug/g)."""
    for canonical, spelling in [
        ("ug/g", "µg/g"),
        ("ug/g", "mcg/g"),
        ("ug/g", "mg/kg"),
        ("ng/mL", "ug/L"),
        ("ng/mL", "ng/ml"),
        ("kU/L", "kUA/L"),
    ]:
        assert find(units(canonical), spelling.__eq__) == spelling


@given(analytes().flatmap(lambda a: st.tuples(st.just(a), results(analyte=a))))
def test_results_for_an_analyte(pair: tuple[Analyte, Result]) -> None:
    """A result drawn for an analyte names it and has a value and unit of its kind."""
    analyte, r = pair
    assert r.name in (analyte.name, *analyte.aliases)
    assert r.value is not None
    assert r.analyte is None  # readers leave it to the engine
    if analyte.kind is ValueKind.QUANTITATIVE:
        assert r.value.kind in ("quantity", "censored")
        if r.unit is not None:
            assert analyte.unit is not None
            assert compatible(r.unit, analyte.unit)
    else:
        assert r.unit is None


@settings(max_examples=30)
@given(panels())
def test_panels_portable(p: Panel) -> None:
    """A panel's results share its name, lab, collection time and specimen."""
    assert p.results
    for r in p.results:
        assert (r.panel, r.lab, r.collected) == (p.name, p.lab, p.collected)
        assert (r.specimen, r.specimen_text) == (p.results[0].specimen, p.results[0].specimen_text)
        if r.value is not None and r.value.kind in ("qualitative", "ordinal"):
            assert r.unit is None


@settings(max_examples=30)
@given(catalogues(categories=None))
def test_catalogues_resolve(cat: Catalogue) -> None:
    """Every name and alias of a generated catalogue resolves to its own analyte."""
    names = [normalise_name(n) for a in cat.analytes for n in (a.name, *a.aliases)]
    assert len(names) == len(set(names))
    for a in cat.analytes:
        assert cat.ranges_for(a.id)
        for name in (a.name, *a.aliases):
            found = cat.resolve(name)
            assert found is not None
            assert found.id == a.id


@pytest.mark.parametrize("model", [ReferenceRange, Result, Panel, Band, Analyte, Catalogue])
def test_from_type(model: type) -> None:
    """``st.from_type`` works for the library's types once the setup hook has run."""

    @settings(max_examples=5)
    @given(st.from_type(model))
    def check(obj: object) -> None:
        assert isinstance(obj, model)

    check()


@settings(max_examples=15)
@given(fhir_bundles())
def test_fhir_input_is_valid_fhir(sample: gt.Serialised) -> None:
    """The FHIR writer produces Bundles that validate against the R4B models."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(sample.text)
    kinds = [e.resource.__resource_type__ for e in bundle.entry or []]  # type: ignore[union-attr]
    assert kinds.count("Observation") == sample.result_count
    assert kinds.count("DiagnosticReport") == len(sample.panels)


@settings(max_examples=30)
@given(
    reference_ranges(
        analyte=Analyte(
            id="x", name="X", family="other", specimen="stool", kind="quantitative", unit="ug/g"
        )
    ),
    st.text(min_size=3).filter(lambda t: len(t.strip()) >= 3),
)
def test_toml_writer_escapes(rng: ReferenceRange, text: str) -> None:
    """Any citation text survives the TOML writer and the range-file loader unchanged."""
    analyte = Analyte(
        id="x", name="X", family="other", specimen="stool", kind="quantitative", unit="ug/g"
    )
    rng = rng.model_copy(update={"source": rng.source.model_copy(update={"text": text})})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "x.toml")
        path.write_text(to_range_toml([analyte], [rng]), encoding="utf-8")
        loaded = Catalogue.load(path, base=None)
    assert loaded.ranges == (rng,)
    assert json.dumps(loaded.ranges[0].source.text) == json.dumps(text)
