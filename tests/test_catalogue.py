"""Tests of the range-file loader and the catalogue (guttests._catalogue)."""

from __future__ import annotations

import copy
import functools
import json
import pickle
import re
import time
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests._catalogue import (
    FORMAT,
    Catalogue,
    Override,
    _FileLoader,
    load_optimal,
    load_range_file,
    normalise_name,
    range_file_schema,
    units_checked,
    validate_range_files,
)
from guttests._errors import CatalogueError, GuttestsError, RangeError
from guttests._models import Coding
from guttests._types import Family, RangeCategory, ValueKind

FIXTURES = Path(__file__).parent / "fixtures" / "ranges"
GOOD = FIXTURES / "good_stool.toml"
USER = FIXTURES / "user_override.toml"
OPTIMAL = FIXTURES / "optimal.toml"
REPO = Path(__file__).resolve().parents[1]
SHIPPED_DIR = REPO / "reference_ranges"
SHIPPED_FILES = sorted(SHIPPED_DIR.glob("*.toml"))

needs_units = pytest.mark.skipif(not units_checked(), reason="guttests._units not available yet")
needs_shipped = pytest.mark.skipif(not SHIPPED_FILES, reason="no shipped range files yet")

HEAD = 'format = "guttests-ranges/1"\nfamily = "stool"\n'
CALPRO = """
[[analyte]]
id = "calprotectin"
name = "Calprotectin"
specimen = "stool"
kind = "quantitative"
unit = "ug/g"
"""


def _range(body: str, rid: str = "calprotectin.x", analyte: str = "calprotectin") -> str:
    return f'\n[[range]]\nid = "{rid}"\nanalyte = "{analyte}"\n{body}\n'


SRC = 'source = { text = "Test fixture" }\n'
UNIT = 'unit = "ug/g"\n'
BANDS = 'bands = [{ label = "normal", flag = "N", high = 50 }]\n'


@pytest.fixture(scope="module")
def good() -> Catalogue:
    return Catalogue.load(GOOD, base=None)


# --- invalid files -----------------------------------------------------------------------

# (case id, file text or fixture name, message fragment, expected location)
BAD_CASES: list[tuple[str, str, str, str | None]] = [
    (
        "syntax",
        "bad_syntax.toml",
        "TOML syntax error: Expected '=' after a key",
        "line 4, column 10",
    ),
    (
        "overlap",
        "bad_overlap.toml",
        "bands 'normal' and 'high' overlap",
        'range "calprotectin.overlap"',
    ),
    (
        "flag",
        "bad_flag.toml",
        "bands[2].flag: unknown flag code 'HIGH'",
        'range "calprotectin.badflag"',
    ),
    ("missing format", 'family = "stool"\n', 'missing format = "guttests-ranges/1"', "format"),
    (
        "wrong format",
        'format = "guttests-ranges/2"\nfamily = "stool"\n',
        "unsupported format 'guttests-ranges/2', expected 'guttests-ranges/1'",
        "format",
    ),
    (
        "missing family",
        'format = "guttests-ranges/1"\n',
        "missing family (one of permeability",
        "family",
    ),
    ("unknown family", HEAD.replace('"stool"', '"gut"'), "unknown family 'gut'", "family"),
    (
        "family not text",
        HEAD.replace('"stool"', '["stool"]'),
        "unknown family ['stool']",
        "family",
    ),
    ("unknown category", HEAD + 'category = "normal"\n', "unknown category 'normal'", "category"),
    ("top-level key", HEAD + 'title = "Stool"\n', "unknown top-level key 'title'", "title"),
    (
        "analyte not array",
        HEAD + '[analyte]\nid = "calprotectin"\n',
        "analyte must be an array of tables: write [[analyte]]",
        "analyte",
    ),
    (
        "analyte key",
        HEAD + CALPRO + 'colour = "red"\n',
        "unknown key 'colour'",
        'analyte "calprotectin"',
    ),
    (
        "analyte without id",
        HEAD + CALPRO.replace('id = "calprotectin"\n', ""),
        "missing required key 'id'",
        "analyte[1]",
    ),
    (
        "analyte id pattern",
        HEAD + CALPRO.replace('id = "calprotectin"', 'id = "Calprotectin"'),
        "id: string should match pattern",
        'analyte "Calprotectin"',
    ),
    (
        "analyte kind",
        HEAD + CALPRO.replace('"quantitative"', '"numeric"'),
        "kind: unknown value 'numeric'",
        'analyte "calprotectin"',
    ),
    (
        "analyte without unit",
        HEAD + CALPRO.replace('unit = "ug/g"\n', ""),
        "a quantitative analyte needs a unit",
        'analyte "calprotectin"',
    ),
    (
        "duplicate analyte",
        HEAD + CALPRO + CALPRO,
        "duplicate analyte id 'calprotectin' in this file",
        'analyte "calprotectin"',
    ),
    (
        "unknown caveat",
        HEAD + CALPRO + 'caveats = ["calprotectin-nsaids"]\n',
        "unknown caveat 'calprotectin-nsaids'",
        'analyte "calprotectin"',
    ),
    (
        "caveat without citation",
        HEAD + '[caveats.nsaids]\ntext = "NSAIDs can raise calprotectin."\n',
        "missing required key 'citations'",
        'caveat "nsaids"',
    ),
    (
        "caveat with id key",
        HEAD + '[caveats.nsaids]\nid = "x"\ntext = "t"\ncitations = [{ text = "abc" }]\n',
        "unknown key 'id': the caveat's id is its table name",
        'caveat "nsaids"',
    ),
    (
        "caveat id pattern",
        HEAD + '[caveats.NSAIDs]\ntext = "t"\ncitations = [{ text = "abc" }]\n',
        "a caveat id is lower-case letters",
        'caveat "NSAIDs"',
    ),
    (
        "missing citation",
        HEAD + CALPRO + _range(UNIT + BANDS),
        "missing citation: every range needs source = { text = ... }",
        'range "calprotectin.x"',
    ),
    (
        "short citation",
        HEAD + CALPRO + _range(UNIT + BANDS + 'source = { text = "ab" }\n'),
        "missing citation: source.text must have at least 3 characters, got 'ab'",
        'range "calprotectin.x"',
    ),
    (
        "range key",
        HEAD + CALPRO + _range(UNIT + BANDS + SRC + "upper = 50\n"),
        "unknown key 'upper'",
        'range "calprotectin.x"',
    ),
    (
        "band key",
        HEAD
        + CALPRO
        + _range(UNIT + SRC + 'bands = [{ label = "normal", flag = "N", max = 50 }]\n'),
        "unknown key 'bands[1].max'",
        'range "calprotectin.x"',
    ),
    (
        "inverted band",
        HEAD
        + CALPRO
        + _range(UNIT + SRC + 'bands = [{ label = "normal", flag = "N", low = 60, high = 50 }]\n'),
        "band 'normal': inverted interval (low 60.0 > high 50.0)",
        'range "calprotectin.x"',
    ),
    (
        "inverted ages",
        HEAD
        + CALPRO
        + _range(
            UNIT
            + BANDS
            + SRC
            + "applies_to = { age_low = { value = 5, unit = 'a' }, age_high = { value = 1 } }\n"
        ),
        "applies_to: age interval is empty or inverted: 5 years to 1 year",
        'range "calprotectin.x"',
    ),
    (
        "number as text",
        HEAD
        + CALPRO
        + _range(UNIT + SRC + 'bands = [{ label = "normal", flag = "N", high = "50" }]\n'),
        "bands[1].high: input should be a valid number, got '50'",
        'range "calprotectin.x"',
    ),
    (
        "nan",
        HEAD + CALPRO + _range(UNIT + SRC + 'bands = [{ label = "n", flag = "N", high = nan }]\n'),
        "nan and inf are not allowed",
        'range "calprotectin.x"',
    ),
    (
        "date",
        HEAD + CALPRO + _range(UNIT + BANDS + SRC + "note = 2024-01-31\n"),
        "dates and times are not allowed in range files",
        'range "calprotectin.x"',
    ),
    (
        "range without unit",
        HEAD + CALPRO + _range(SRC + BANDS),
        "a quantitative range needs a unit",
        'range "calprotectin.x"',
    ),
    (
        "qualitative band without terms",
        HEAD + CALPRO + _range(SRC + BANDS + 'kind = "qualitative"\n'),
        "qualitative bands need terms",
        'range "calprotectin.x"',
    ),
    (
        "range without analyte",
        HEAD + '\n[[range]]\nid = "calprotectin.x"\n' + UNIT + SRC + BANDS,
        "missing required key 'analyte'",
        'range "calprotectin.x"',
    ),
    (
        "range of unknown analyte",
        HEAD + CALPRO + _range(UNIT + SRC + BANDS, analyte="zonulin"),
        "unknown analyte 'zonulin'",
        'range "calprotectin.x"',
    ),
    (
        "duplicate range",
        HEAD + CALPRO + _range(UNIT + SRC + BANDS) + _range(UNIT + SRC + BANDS),
        "duplicate range id 'calprotectin.x' in this file",
        'range "calprotectin.x"',
    ),
    (
        "range without id",
        HEAD + CALPRO + '\n[[range]]\nanalyte = "calprotectin"\n' + UNIT + SRC + BANDS,
        "missing required key 'id'",
        "range[1]",
    ),
]


@pytest.mark.parametrize(
    ("text", "fragment", "location"),
    [pytest.param(t, f, loc, id=case) for case, t, f, loc in BAD_CASES],
)
def test_invalid_file_names_file_entry_and_problem(
    tmp_path: Path, text: str, fragment: str, location: str | None
) -> None:
    """Every invalid file raises CatalogueError naming the file, the entry and what is wrong."""
    if text.endswith(".toml"):
        path = FIXTURES / text
    else:
        path = tmp_path / "user_ranges.toml"
        path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        Catalogue.load(path, base=None)
    err = info.value
    assert fragment in err.message
    assert err.source == str(path)
    assert err.location == location
    assert str(err).startswith(f"{path}, {location}: ")
    assert "pydantic" not in str(err)
    assert "errors.pydantic.dev" not in str(err)


@needs_units
@pytest.mark.parametrize(
    ("text", "fragment", "location"),
    [
        pytest.param(
            HEAD + CALPRO.replace('"ug/g"', '"ug/gx"'),
            "unknown unit 'ug/gx'",
            'analyte "calprotectin"',
            id="analyte unit",
        ),
        pytest.param(
            HEAD + CALPRO + _range('unit = "bananas"\n' + SRC + BANDS),
            "unknown unit 'bananas'",
            'range "calprotectin.x"',
            id="range unit",
        ),
        pytest.param(
            HEAD + CALPRO + _range('unit = "mmol/L"\n' + SRC + BANDS),
            "unit 'mmol/L' is not compatible with the unit 'ug/g' of analyte 'calprotectin'",
            'range "calprotectin.x"',
            id="incompatible unit",
        ),
    ],
)
def test_unit_errors(tmp_path: Path, text: str, fragment: str, location: str) -> None:
    """Units must parse, and a range's unit must convert to its analyte's unit."""
    path = tmp_path / "units.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        Catalogue.load(path, base=None)
    assert fragment in info.value.message
    assert info.value.location == location


@needs_units
def test_override_of_analyte_unit_is_checked_against_earlier_ranges(
    tmp_path: Path, good: Catalogue
) -> None:
    """Replacing an analyte with an incompatible unit breaks ranges loaded before: an error."""
    path = tmp_path / "bad_override.toml"
    path.write_text(HEAD + CALPRO.replace('"ug/g"', '"mmol/L"'), encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        Catalogue.load(path, base=good)
    assert "is not compatible" in info.value.message
    assert info.value.location == f'range "calprotectin.mayo" (from {GOOD})'


def test_units_are_compatible_in_the_fixture_with_mg_per_kg(good: Catalogue) -> None:
    """A range in mg/kg is accepted for an analyte in ug/g (same quantity)."""
    rng = good.range("calprotectin.oord-6mo-3y")
    assert rng is not None
    assert rng.unit == "mg/kg"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        pytest.param("missing.toml", None, "range file not found", id="missing"),
        pytest.param("", None, "no *.toml range files in this directory", id="empty dir"),
        pytest.param(
            "latin1.toml", b'format = "caf\xe9"\n', "line 1: not UTF-8 text (byte 13)", id="latin-1"
        ),
    ],
)
def test_unreadable_paths(tmp_path: Path, name: str, content: bytes | None, fragment: str) -> None:
    """Files that cannot be read are errors naming the file."""
    path = tmp_path / name if name else tmp_path
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CatalogueError, match=re.escape(fragment)) as info:
        Catalogue.load(path, base=None)
    assert info.value.source == str(path)


def test_catalogue_error_is_a_guttests_range_error() -> None:
    """CatalogueError sits in the one exception tree (and is a ValueError)."""
    with pytest.raises(GuttestsError):
        Catalogue.load(FIXTURES / "bad_overlap.toml", base=None)
    assert issubclass(CatalogueError, RangeError)
    assert issubclass(CatalogueError, ValueError)


def test_error_survives_pickling() -> None:
    """A CatalogueError keeps its source and location across processes."""
    with pytest.raises(CatalogueError) as info:
        Catalogue.load(FIXTURES / "bad_flag.toml", base=None)
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)


# --- valid files -------------------------------------------------------------------------


def test_load_range_file_applies_file_defaults() -> None:
    """family, category and kind default from the file and the analyte."""
    rs = load_range_file(GOOD)
    assert rs.source == str(GOOD)
    assert rs.family is Family.STOOL
    assert [a.id for a in rs.analytes] == [
        "calprotectin",
        "elastase",
        "occult-blood-fit",
        "beta-glucuronidase",
    ]
    assert all(a.family is Family.STOOL for a in rs.analytes)
    assert all(r.category is RangeCategory.REFERENCE for r in rs.ranges)
    fit = next(r for r in rs.ranges if r.analyte == "occult-blood-fit")
    assert fit.kind is ValueKind.QUALITATIVE
    assert {c.id for c in rs.caveats} == {"calprotectin-not-diagnostic", "elastase-watery-stool"}


def test_load_range_file_needs_base_for_foreign_analytes() -> None:
    """A user file naming an analyte of another file loads only with that file as base."""
    with pytest.raises(CatalogueError, match="unknown analyte 'calprotectin'"):
        load_range_file(USER)
    base = Catalogue.load(GOOD, base=None)
    rs = load_range_file(USER, base=base)
    assert [r.id for r in rs.ranges] == ["calprotectin.mayo", "lactoferrin.genova"]


def test_default_category_applies_when_the_file_sets_none() -> None:
    """default_category is used only where neither the file nor the range says."""
    base = Catalogue.load(GOOD, base=None)
    rs = load_range_file(USER, base=base, default_category="optimal")
    assert {r.category for r in rs.ranges} == {RangeCategory.OPTIMAL}
    rs = load_range_file(GOOD, default_category="optimal")  # the file says reference
    assert {r.category for r in rs.ranges} == {RangeCategory.REFERENCE}


def test_queries(good: Catalogue) -> None:
    """analyte, ranges_for, caveat, sources and stable order."""
    assert [a.id for a in good.analytes] == [a.id for a in load_range_file(GOOD).analytes]
    calpro = good.analyte("calprotectin")
    assert calpro is not None
    assert calpro.unit == "ug/g"
    assert [r.id for r in good.ranges_for("calprotectin")] == [
        "calprotectin.mayo",
        "calprotectin.oord-6mo-3y",
    ]
    assert good.ranges_for("zonulin") == ()
    assert good.analyte("zonulin") is None
    caveat = good.caveat("calprotectin-not-diagnostic")
    assert caveat is not None
    assert caveat.citations[0].doi == "10.1097/MPG.0000000000003046"
    assert good.caveat("nope") is None
    assert good.sources == (str(GOOD),)
    assert good.overridden == ()
    assert good.source_of("range", "elastase.mayo") == str(GOOD)


def test_user_file_overrides_a_range_and_adds_an_analyte(good: Catalogue) -> None:
    """A user range with an existing id replaces it, is recorded, and new analytes resolve."""
    cat = Catalogue.load(USER, base=good)
    assert cat.overridden == (Override("range", "calprotectin.mayo", str(USER), str(GOOD)),)
    mayo = cat.range("calprotectin.mayo")
    assert mayo is not None
    assert mayo.source.text.startswith("Example lab report")
    assert [r.id for r in cat.ranges_for("calprotectin")] == [
        "calprotectin.mayo",
        "calprotectin.oord-6mo-3y",
    ]
    lactoferrin = cat.resolve("LACTOFERRIN, STOOL")
    assert lactoferrin is not None
    assert lactoferrin.id == "lactoferrin"
    assert cat.sources == (str(GOOD), str(USER))
    assert cat.range_origin("lactoferrin.genova") == "user"
    assert cat.range_origin("nope") is None
    assert good.range("calprotectin.mayo") != mayo  # the base is unchanged


@needs_shipped
def test_user_file_overrides_a_shipped_range(tmp_path: Path) -> None:
    """Against the shipped catalogue: override one shipped range id, add an analyte."""
    shipped = Catalogue.default()
    original = next(r for r in shipped.ranges if r.unit is not None and r.bands)
    analyte = shipped.analyte(original.analyte or "")
    assert analyte is not None
    text = (
        'format = "guttests-ranges/1"\nfamily = "other"\n\n'
        '[[analyte]]\nid = "my-lab.marker"\nname = "My lab marker"\nspecimen = "stool"\n'
        'kind = "quantitative"\nunit = "ug/g"\n\n'
        f'[[range]]\nid = "{original.id}"\nanalyte = "{analyte.id}"\nunit = "{original.unit}"\n'
        'source = { text = "My lab, 2024 validation report" }\n'
        'bands = [{ label = "normal", flag = "N", high = 1 }]\n'
    )
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    cat = Catalogue.load(path)
    assert [(o.kind, o.id) for o in cat.overridden] == [("range", original.id)]
    assert cat.range_origin(original.id) == "user"
    assert shipped.range_origin(original.id) == "catalogue"
    assert cat.resolve("my lab marker") is not None
    assert cat.content_hash != shipped.content_hash


def test_directory_loads_toml_files_in_name_order(tmp_path: Path) -> None:
    """A directory contributes its *.toml files sorted by name; later files see earlier ones."""
    (tmp_path / "b_ranges.toml").write_text(HEAD + _range(UNIT + SRC + BANDS), encoding="utf-8")
    (tmp_path / "a_analytes.toml").write_text(HEAD + CALPRO, encoding="utf-8")
    (tmp_path / "README.md").write_text("not a range file", encoding="utf-8")
    cat = Catalogue.load(tmp_path, base=None)
    assert cat.sources == (str(tmp_path / "a_analytes.toml"), str(tmp_path / "b_ranges.toml"))
    assert [r.id for r in cat.ranges_for("calprotectin")] == ["calprotectin.x"]


def test_caveats_may_live_in_an_earlier_file(tmp_path: Path) -> None:
    """An analyte may cite a caveat defined in a file loaded before it."""
    (tmp_path / "a.toml").write_text(
        HEAD + '[caveats.shared]\ntext = "t"\ncitations = [{ text = "abc" }]\n', encoding="utf-8"
    )
    (tmp_path / "b.toml").write_text(HEAD + CALPRO + 'caveats = ["shared"]\n', encoding="utf-8")
    cat = Catalogue.load(tmp_path, base=None)
    calpro = cat.analyte("calprotectin")
    assert calpro is not None
    assert calpro.caveats == ("shared",)


def test_empty_catalogue() -> None:
    """The empty catalogue answers every query with nothing."""
    cat = Catalogue.empty()
    assert cat.analytes == ()
    assert cat.resolve("Calprotectin", [Coding(system="http://loinc.org", code="38445-3")]) is None
    assert cat.suggest("calprotectin") == []
    assert Catalogue.load(base=None) == cat


# --- practitioner (optimal) ranges ---------------------------------------------------------


def test_load_optimal(good: Catalogue) -> None:
    """An optimal set holds only the practitioner's ranges, all labelled optimal."""
    opt = load_optimal(OPTIMAL, base=good)
    ranges = opt.ranges_for("calprotectin")
    assert [r.id for r in ranges] == ["calprotectin.practitioner"]
    assert all(r.category is RangeCategory.OPTIMAL for r in opt.ranges)
    assert opt.analyte("calprotectin") == good.analyte("calprotectin")
    assert opt.ranges_for("elastase") == ()


def test_load_optimal_forces_the_category_of_unlabelled_ranges(good: Catalogue) -> None:
    """Ranges of a file without category become optimal."""
    opt = load_optimal(USER, base=good)
    assert {r.category for r in opt.ranges} == {RangeCategory.OPTIMAL}


@pytest.mark.parametrize(
    ("text", "fragment", "location"),
    [
        pytest.param(
            HEAD + 'category = "reference"\n',
            "category 'reference' in a file of optimal ranges",
            "category",
            id="file category",
        ),
        pytest.param(
            HEAD + _range(UNIT + SRC + BANDS + 'category = "critical"\n'),
            "category 'critical' in a file of optimal ranges",
            'range "calprotectin.x"',
            id="range category",
        ),
    ],
)
def test_load_optimal_rejects_other_categories(
    tmp_path: Path, good: Catalogue, text: str, fragment: str, location: str
) -> None:
    """A reference (or any non-optimal) range in a practitioner set is an error naming it."""
    path = tmp_path / "practice.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_optimal(path, base=good)
    assert fragment in info.value.message
    assert info.value.location == location


# --- resolution ---------------------------------------------------------------------------

LOINC = "http://loinc.org"


@pytest.mark.parametrize(
    ("name", "codes", "expected"),
    [
        ("Calprotectin", (), "calprotectin"),
        ("FAECAL CALPROTECTIN", (), "calprotectin"),
        ("Calprotectin, stool", (), "calprotectin"),
        ("calprotectin stool", (), "calprotectin"),
        ("  Fecal-Calprotectin. ", (), "calprotectin"),
        ("calprotectin (feces)", (), None),  # not a listed name: no guess
        ("Fecal Calprotectin, Quantitative", (), None),
        ("Pancreatic Elastase 1 (µg/g)", (), "elastase"),  # micro sign
        ("Pancreatic Elastase 1 (μg/g)", (), "elastase"),  # Greek mu
        ("pancreatic elastase 1 (mcg/g)", (), "elastase"),
        ("PANCREATIC ELASTASE 1 UG/G", (), "elastase"),
        ("β-glucuronidase", (), "beta-glucuronidase"),
        ("Beta Glucuronidase", (), "beta-glucuronidase"),
        ("elastase", (), "elastase"),  # the id
        ("occult-blood-fit", (), "occult-blood-fit"),
        ("fit", (), "occult-blood-fit"),
        (None, (), None),
        ("", (), None),
        ("zonulin", (), None),
        # LOINC first
        (None, (Coding(system=LOINC, code="38445-3"),), "calprotectin"),
        ("Elastase", (Coding(system=LOINC, code="38445-3"),), "calprotectin"),
        ("Elastase", (Coding(system="LN", code="38445-3"),), "calprotectin"),
        # a lab's local code is not a LOINC code
        ("Elastase", (Coding(system="urn:lab:local", code="38445-3"),), "elastase"),
        # an unknown LOINC code falls back to the name
        ("Elastase", (Coding(system=LOINC, code="99999-9"),), "elastase"),
        # two codes naming the same analyte
        (
            None,
            (Coding(system=LOINC, code="38445-3"), Coding(system="LN", code="38445-3")),
            "calprotectin",
        ),
        # codes naming two analytes: ambiguous
        (
            "Calprotectin",
            (Coding(system=LOINC, code="38445-3"), Coding(system=LOINC, code="25907-7")),
            None,
        ),
    ],
)
def test_resolve(
    good: Catalogue, name: str | None, codes: tuple[Coding, ...], expected: str | None
) -> None:
    """LOINC first, then names, ids and aliases equal after normalisation; never a guess."""
    found = good.resolve(name, codes)
    assert (found.id if found else None) == expected
    again = good.resolve(name, iter(codes))  # any iterable, same answer (cached or not)
    assert (again.id if again else None) == expected


def test_ambiguous_names_and_codes_resolve_to_none(tmp_path: Path) -> None:
    """A name or LOINC code shared by two analytes matches neither, and validation warns."""
    second = (
        '\n[[analyte]]\nid = "calprotectin-serum"\nname = "Calprotectin (serum)"\n'
        'specimen = "serum"\nkind = "quantitative"\nunit = "ug/mL"\n'
        'aliases = ["Calprotectin"]\nloinc = ["38445-3"]\n'
        'note = "No published range: a lab-reported range is required."\n'
    )
    path = tmp_path / "ambiguous.toml"
    path.write_text(HEAD + CALPRO + 'loinc = ["38445-3"]\n' + second, encoding="utf-8")
    cat = Catalogue.load(path, base=None)
    assert cat.resolve("calprotectin") is None
    assert cat.resolve(None, [Coding(system=LOINC, code="38445-3")]) is None
    found = cat.resolve("calprotectin serum")
    assert found is not None
    assert found.id == "calprotectin-serum"
    warnings = validate_range_files(path, base=None)
    assert any("name 'Calprotectin' is shared by analytes" in w for w in warnings)
    assert any("LOINC code '38445-3' is shared by analytes" in w for w in warnings)


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("calprotectine", "Calprotectin"),
        ("Pancreatic elastase", "Pancreatic elastase-1"),
        ("glucuronidase", "β-Glucuronidase"),
    ],
)
def test_suggest(good: Catalogue, name: str, first: str) -> None:
    """suggest gives the closest known spellings, one per analyte, best first."""
    assert good.resolve(name) is None
    hints = good.suggest(name)
    assert hints[0] == first
    assert len(hints) <= 3
    owners = [good.resolve(h) for h in hints]
    assert len({a.id for a in owners if a is not None}) == len(hints)


def test_suggest_nothing_close(good: Catalogue) -> None:
    """A name unlike any known one gets no suggestions."""
    assert good.suggest("Zzyzx") == []


def test_repeated_resolve_is_fast(good: Catalogue) -> None:
    """A repeated lookup is a dict hit: well under the 1 µs target (loose bound for CI)."""
    codes = (Coding(system=LOINC, code="38445-3"),)
    for args in (("Faecal Calprotectin", ()), ("Calprotectin", codes)):
        good.resolve(*args)
        n = 20_000
        start = time.perf_counter()
        for _ in range(n):
            good.resolve(*args)
        per_call = (time.perf_counter() - start) / n
        assert per_call < 5e-6


_TOML_VALUES = st.recursive(
    st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_GOOD_DATA = tomllib.loads(GOOD.read_text(encoding="utf-8"))
_KEYS = st.sampled_from(
    [
        "id",
        "name",
        "unit",
        "kind",
        "analyte",
        "source",
        "bands",
        "applies_to",
        "low",
        "high",
        "flag",
        "terms",
        "label",
        "loinc",
        "aliases",
        "caveats",
        "category",
        "family",
        "x",
    ]
)


@settings(max_examples=150)
@given(
    section=st.sampled_from(["analyte", "range", "caveats", "top"]),
    index=st.integers(0, 3),
    key=_KEYS,
    value=_TOML_VALUES,
    in_band=st.booleans(),
)
def test_any_edit_loads_or_raises_catalogue_error(
    section: str, index: int, key: str, value: object, in_band: bool
) -> None:
    """Whatever one edit does to a valid file, loading succeeds or raises CatalogueError."""
    data = copy.deepcopy(_GOOD_DATA)
    if section == "top":
        target = data
    elif section == "caveats":
        target = next(iter(data["caveats"].values()))
    else:
        target = data[section][index]
        if section == "range" and in_band:
            target = target["bands"][0]
    target[key] = value
    error: CatalogueError | None = None
    try:
        _FileLoader("fuzz.toml", data, None, None, None).load()
    except CatalogueError as err:
        error = err
    if error is not None:
        assert error.source == "fuzz.toml"
        assert "pydantic" not in str(error)


# --- normalisation ------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.text())
def test_normalise_name_is_idempotent(text: str) -> None:
    """Normalising twice changes nothing."""
    once = normalise_name(text)
    assert normalise_name(once) == once


@settings(max_examples=150)
@given(st.text(), st.text(alphabet=" \t,.;:-_()/[]'\"", min_size=1), st.text())
def test_normalise_name_ignores_punctuation_and_spacing(a: str, sep: str, b: str) -> None:
    """Spacing and punctuation between two parts of a name do not matter."""
    assert normalise_name(a + sep + b) == normalise_name(a + b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("µg/g", "ug/g"),
        ("μg/g", "ug/g"),
        ("mcg/g", "ug/g"),
        ("MCG/ML", "ug/ml"),
        ("Calprotectin, Stool", "calprotectin stool"),
        ("β-Glucuronidase", "beta glucuronidase"),
    ],
)
def test_normalise_name_equivalent_spellings(a: str, b: str) -> None:
    """The spellings that must match do."""
    assert normalise_name(a) == normalise_name(b)


# --- content hash and pickling -------------------------------------------------------------


def test_content_hash_is_deterministic_and_order_free(good: Catalogue) -> None:
    """The hash depends on content only, not on load order or object identity."""
    again = Catalogue.load(GOOD, base=None)
    assert again.content_hash == good.content_hash
    reversed_ = Catalogue(reversed(good.analytes), reversed(good.ranges), reversed(good.caveats))
    assert reversed_.content_hash == good.content_hash
    assert len(good.content_hash) == 64
    int(good.content_hash, 16)


def test_content_hash_changes_when_one_band_changes(tmp_path: Path, good: Catalogue) -> None:
    """Moving one band edge gives another hash."""
    text = GOOD.read_text(encoding="utf-8")
    changed = text.replace("high = 214 }", "high = 215 }").replace("low = 214,", "low = 215,")
    assert changed != text
    path = tmp_path / "changed.toml"
    path.write_text(changed, encoding="utf-8")
    assert Catalogue.load(path, base=None).content_hash != good.content_hash


def test_catalogue_pickles(good: Catalogue) -> None:
    """A catalogue ships to worker processes: pickled, it is equal and answers the same."""
    cat = Catalogue.load(USER, base=good)
    cat.resolve("Calprotectin")  # a warm cache is not shipped
    copy = pickle.loads(pickle.dumps(cat))
    assert copy == cat
    assert copy.content_hash == cat.content_hash
    assert copy.overridden == cat.overridden
    assert copy.sources == cat.sources
    assert copy.range_origin("lactoferrin.genova") == "user"
    assert copy.resolve("Calprotectin") == cat.resolve("Calprotectin")
    assert copy.analytes == cat.analytes


def test_catalogue_is_immutable(good: Catalogue) -> None:
    """Attributes cannot be set or deleted."""
    with pytest.raises(AttributeError):
        good.content_hash = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        good._analytes = {}
    with pytest.raises(AttributeError):
        del good._ranges


# --- validation warnings -------------------------------------------------------------------


def test_validate_reports_gaps_missing_ranges_and_overrides(
    tmp_path: Path, good: Catalogue
) -> None:
    """Warnings name the file and entry; the files load without error."""
    text = (
        HEAD + CALPRO + '\n[[analyte]]\nid = "sftp"\nname = "Stool fat"\nspecimen = "stool"\n'
        'kind = "quantitative"\nunit = "%"\n'
        + _range(
            UNIT + SRC + 'bands = [{ label = "normal", flag = "N", high = 50 },'
            ' { label = "high", flag = "H", low = 50.1 }]\n',
            rid="calprotectin.gap",
        )
        + _range(UNIT + SRC + "bands = []\n", rid="calprotectin.text-only")
    )
    path = tmp_path / "warn.toml"
    path.write_text(text, encoding="utf-8")
    warnings = validate_range_files(path, base=good)
    expected = [
        f'{path}, analyte "calprotectin": overrides the entry from {GOOD}',
        f'{path}, range "calprotectin.gap": no band covers values between 50 and 50.1',
        f'{path}, range "calprotectin.text-only": no bands: results can only be compared with a '
        "lab-reported range",
        f'{path}, analyte "sftp": no range and no note saying a lab-reported range is required',
    ]
    for w in expected:
        assert w in warnings
    assert not any("elastase" in w for w in warnings)  # the base is not re-reported


def test_validate_ignores_gaps_between_whole_classes(tmp_path: Path) -> None:
    """Ordinal bands 0, 1, 3 leave class 2 uncovered, not the fractions between 0 and 1."""
    text = (
        HEAD + '\n[[analyte]]\nid = "ige-class"\nname = "IgE class"\nspecimen = "serum"\n'
        'kind = "ordinal"\n'
        + _range(
            SRC + 'bands = [{ label = "0", flag = "N", low = 0, high = 0 },'
            ' { label = "1", flag = "E", low = 1, high = 1 },'
            ' { label = "3+", flag = "H", low = 3 }]\n',
            rid="ige-class.x",
            analyte="ige-class",
        )
    )
    path = tmp_path / "classes.toml"
    path.write_text(text, encoding="utf-8")
    gaps = [w for w in validate_range_files(path, base=None) if "no band covers" in w]
    assert gaps == [f'{path}, range "ige-class.x": no band covers values between 1 and 3']


def test_validate_good_file_has_no_warnings_besides_units() -> None:
    """A clean file gives no warnings (only the note when units cannot be checked yet)."""
    warnings = validate_range_files(GOOD, base=None)
    assert warnings == ([] if units_checked() else [warnings[0]])


def test_validate_raises_on_errors() -> None:
    """validate_range_files raises the same errors as loading."""
    with pytest.raises(CatalogueError, match="overlap"):
        validate_range_files(FIXTURES / "bad_overlap.toml", base=None)


# --- JSON Schema -------------------------------------------------------------------------


def test_shipped_schema_is_the_generated_one() -> None:
    """reference_ranges/schema.json is exactly range_file_schema() (regenerate if not)."""
    shipped = json.loads((SHIPPED_DIR / "schema.json").read_text(encoding="utf-8"))
    assert shipped == range_file_schema(), (
        "regenerate: python -c 'import json; from guttests._catalogue import range_file_schema; "
        "print(json.dumps(range_file_schema(), indent=2, ensure_ascii=False, sort_keys=True))'"
        " > reference_ranges/schema.json"
    )
    assert shipped["properties"]["format"]["const"] == FORMAT


@functools.cache
def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(range_file_schema())


def _schema_errors(path: Path) -> list[str]:
    validator = _validator()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [e.message for e in validator.iter_errors(data)]


@pytest.mark.parametrize("path", [GOOD, USER, OPTIMAL, *SHIPPED_FILES], ids=lambda p: p.name)
def test_valid_files_pass_the_schema(path: Path) -> None:
    """Every file the loader accepts also passes the published JSON Schema."""
    pytest.importorskip("jsonschema").Draft202012Validator.check_schema(range_file_schema())
    assert _schema_errors(path) == []


def test_schema_rejects_what_editors_can_see(tmp_path: Path) -> None:
    """Unknown keys and flags are caught by the schema too (editor feedback)."""
    assert _schema_errors(FIXTURES / "bad_flag.toml")
    path = tmp_path / "extra.toml"
    path.write_text(HEAD + CALPRO + 'colour = "red"\n', encoding="utf-8")
    assert _schema_errors(path)


# --- the shipped catalogue -----------------------------------------------------------------


def test_shipped_directory_is_a_package_resource() -> None:
    """The range files ship inside the package (a symlink in the source tree)."""
    assert (files("guttests") / "reference_ranges" / "schema.json").is_file()


@needs_shipped
def test_default_catalogue_loads_once_without_overrides() -> None:
    """The shipped files load together, cached, with no id defined twice."""
    cat = Catalogue.default()
    assert cat is Catalogue.default()
    assert cat.overridden == ()
    assert {Path(s).name for s in cat.sources} == {p.name for p in SHIPPED_FILES}
    assert cat.analytes
    for r in cat.ranges:
        assert r.analyte is not None
        assert cat.analyte(r.analyte) is not None
        assert len(r.source.text) >= 3
        assert cat.range_origin(r.id) == "catalogue"
    for a in cat.analytes:
        assert all(cat.caveat(c) is not None for c in a.caveats)
    assert pickle.loads(pickle.dumps(cat)) == cat


@needs_shipped
@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.name)
def test_shipped_file_validates(path: Path) -> None:
    """Each shipped file validates against the others; its warnings are only informative."""
    validate_range_files(path, base=Catalogue.default())
