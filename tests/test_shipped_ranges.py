"""Checks on the shipped reference-range data in ``reference_ranges/*.toml``.

The files are read with :mod:`tomllib` and validated entry by entry against the
models in :mod:`guttests._models`, so these tests hold even without the loader;
a last group loads them through :class:`guttests._catalogue.Catalogue` as well.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests._models import Age, Analyte, Caveat, ReferenceRange
from guttests._types import InterpretationCode, RangeCategory, ValueKind

ROOT = Path(__file__).resolve().parents[1]
RANGE_DIR = ROOT / "reference_ranges"
FAMILIES = ("permeability", "stool", "food_sensitivity")
FORMAT = "guttests-ranges/1"


@cache
def _raw(family: str) -> dict[str, Any]:
    with (RANGE_DIR / f"{family}.toml").open("rb") as fh:
        return tomllib.load(fh)


@cache
def _analytes() -> dict[str, Analyte]:
    out: dict[str, Analyte] = {}
    for family in FAMILIES:
        for entry in _raw(family).get("analyte", []):
            a = Analyte.model_validate({"family": family, **entry})
            assert a.id not in out, f"duplicate analyte id {a.id}"
            out[a.id] = a
    return out


@cache
def _caveats() -> dict[str, Caveat]:
    out: dict[str, Caveat] = {}
    for family in FAMILIES:
        for cid, entry in _raw(family).get("caveats", {}).items():
            assert cid not in out, f"duplicate caveat id {cid}"
            out[cid] = Caveat.model_validate({"id": cid, **entry})
    return out


@cache
def _ranges() -> dict[str, ReferenceRange]:
    analytes = _analytes()
    out: dict[str, ReferenceRange] = {}
    for family in FAMILIES:
        category = _raw(family).get("category", "reference")
        for entry in _raw(family).get("range", []):
            kind = analytes[entry["analyte"]].kind.value
            r = ReferenceRange.model_validate({"kind": kind, "category": category, **entry})
            assert r.id not in out, f"duplicate range id {r.id}"
            out[r.id] = r
    return out


def _label_of(range_id: str, x: float) -> str | None:
    hits = [b.label for b in _ranges()[range_id].bands if b.contains(x)]
    assert len(hits) <= 1
    return hits[0] if hits else None


def _applicable(analyte_id: str, age_days: float) -> list[str]:
    out = []
    for r in _ranges().values():
        a = r.applies_to
        if r.analyte != analyte_id or a.lab or a.method or a.collection_window:
            continue
        if a.age_low is not None and age_days < a.age_low.days:
            continue
        if a.age_high is not None and age_days >= a.age_high.days:
            continue
        out.append(r.id)
    return out


# --- file format -------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_file_header_format_and_family(family: str) -> None:
    """Each file begins with a comment header and declares the format and its own family."""
    text = (RANGE_DIR / f"{family}.toml").read_text(encoding="utf-8")
    header = text.split("\nformat", 1)[0].splitlines()
    assert len(header) >= 5
    assert all(line.startswith("#") or not line.strip() for line in header)
    assert "Provenance" in text.split("\nformat", 1)[0]
    data = _raw(family)
    assert data["format"] == FORMAT
    assert data["family"] == family
    assert set(data) <= {"format", "family", "category", "caveats", "analyte", "range"}


def test_all_entries_validate_as_models() -> None:
    """Every analyte, caveat and range builds the corresponding frozen model."""
    assert len(_analytes()) >= 40
    assert len(_caveats()) >= 10
    assert len(_ranges()) >= 10


def test_references_resolve() -> None:
    """Ranges name known analytes; analytes name known caveats; every caveat is used."""
    analytes, caveats = _analytes(), _caveats()
    for r in _ranges().values():
        assert r.analyte in analytes, r.id
    used = {cid for a in analytes.values() for cid in a.caveats}
    used |= {cid for r in _ranges().values() for cid in r.caveats}
    assert used <= set(caveats)
    assert set(caveats) <= used, f"unused caveats: {set(caveats) - used}"


def test_names_and_aliases_are_unambiguous() -> None:
    """No name or alias (as the catalogue normalises it) belongs to two analytes."""
    owner: dict[str, str] = {}
    for a in _analytes().values():
        for text in (a.name, a.id, *a.aliases):
            key = re.sub(r"[\W_]+", "", text.casefold().replace("µ", "u").replace("μ", "u"))
            assert owner.setdefault(key, a.id) == a.id, f"{text!r}: {owner[key]} and {a.id}"


def test_loinc_codes_are_unique_and_well_formed() -> None:
    """LOINC codes have the NNNNN-N form and each belongs to one analyte."""
    seen: dict[str, str] = {}
    for a in _analytes().values():
        for code in a.loinc:
            assert re.fullmatch(r"\d{1,7}-\d", code), code
            assert seen.setdefault(code, a.id) == a.id


# --- citations ---------------------------------------------------------------------------


def _identified(c: Any) -> bool:
    return bool(c.doi or c.pmid or c.url)


@pytest.mark.parametrize("range_id", sorted(_ranges()))
def test_every_range_cites_a_source_with_an_identifier(range_id: str) -> None:
    """Every range's source has a text and a DOI, PMID or URL."""
    src = _ranges()[range_id].source
    assert len(src.text) >= 10
    assert _identified(src)


@pytest.mark.parametrize("caveat_id", sorted(_caveats()))
def test_every_caveat_has_an_identified_citation(caveat_id: str) -> None:
    """Every caveat is short and carries at least one citation with a DOI, PMID or URL."""
    cav = _caveats()[caveat_id]
    assert 20 <= len(cav.text) <= 400
    assert any(_identified(c) for c in cav.citations)


def test_identifiers_are_well_formed() -> None:
    """DOIs start with 10., PMIDs are digits, URLs are http(s)."""
    citations = [r.source for r in _ranges().values()]
    citations += [c for cav in _caveats().values() for c in cav.citations]
    for c in citations:
        assert c.doi is None or re.fullmatch(r"10\.\d{4,9}/\S+", c.doi), c.doi
        assert c.pmid is None or c.pmid.isdigit(), c.pmid
        assert c.url is None or re.match(r"https?://", c.url), c.url


def test_default_ranges_come_from_primary_sources() -> None:
    """A range that applies to any laboratory cites Mayo or a paper; others name their lab.

    One exception, stated in docs/sources.md: the expected result ("not detected") of a
    qualitative pathogen test may come from ARUP Laboratories' catalogue."""
    for r in _ranges().values():
        primary = bool(r.source.doi or r.source.pmid) or r.source.text.startswith("Mayo Clinic")
        expected_result = r.kind is ValueKind.QUALITATIVE and r.source.text.startswith("ARUP")
        assert primary or expected_result or r.applies_to.lab, r.id


# --- coverage of the domain brief --------------------------------------------------------

DOMAIN_ANALYTES = [
    # domain.md section 1, row by row (and the extra stool analytes the brief lists)
    ("zonulin, serum", ["zonulin_serum"]),
    ("zonulin, stool (IDK K5600)", ["zonulin_stool"]),
    ("lactulose/mannitol", ["lactulose_mannitol_ratio", "lactulose_recovery", "mannitol_recovery"]),
    ("lactulose/rhamnose", ["lactulose_rhamnose_ratio"]),
    (
        "permeability antibody panel",
        [
            "actomyosin_iga",
            "occludin_zonulin_igg",
            "occludin_zonulin_iga",
            "occludin_zonulin_igm",
            "lps_igg",
            "lps_iga",
            "lps_igm",
        ],
    ),
    ("calprotectin", ["calprotectin"]),
    ("pancreatic elastase-1", ["pancreatic_elastase"]),
    ("secretory IgA", ["secretory_iga"]),
    ("eosinophil protein X", ["eosinophil_protein_x"]),
    ("lactoferrin", ["lactoferrin"]),
    ("occult blood", ["occult_blood_fit", "occult_blood_fit_quantitative", "occult_blood_guaiac"]),
    (
        "short-chain fatty acids",
        ["scfa_acetate", "scfa_propionate", "scfa_butyrate", "scfa_valerate", "scfa_total"],
    ),
    (
        "beta-glucuronidase, pH, steatocrit, anti-gliadin sIgA",
        ["beta_glucuronidase", "stool_ph", "steatocrit", "anti_gliadin_siga"],
    ),
    (
        "qPCR organisms",
        [
            "clostridioides_difficile_toxin",
            "campylobacter",
            "salmonella",
            "helicobacter_pylori",
            "akkermansia_muciniphila",
            "faecalibacterium_prausnitzii",
            "bacteroides_fragilis",
            "bifidobacterium",
            "lactobacillus",
            "escherichia_coli",
        ],
    ),
    (
        "parasites",
        [
            "giardia",
            "cryptosporidium",
            "blastocystis_hominis",
            "dientamoeba_fragilis",
            "entamoeba_histolytica",
        ],
    ),
    ("food IgG / IgG4 / IgA", ["food_igg", "food_igg4", "food_iga"]),
    ("specific IgE", ["food_ige", "food_ige_class"]),
]


@pytest.mark.parametrize(("row", "ids"), DOMAIN_ANALYTES)
def test_every_domain_analyte_is_present(row: str, ids: list[str]) -> None:
    """Every analyte of domain.md section 1 ships as an [[analyte]] entry."""
    missing = [i for i in ids if i not in _analytes()]
    assert not missing, f"{row}: missing {missing}"


DOMAIN_CAVEATS = [
    # (domain.md section 3 topic, caveat id, analyte carrying it, identifier that must be cited)
    ("zonulin kits", "zonulin-assay-specificity", "zonulin_serum", "10.3389/fendo.2018.00022"),
    ("zonulin kits", "zonulin-assay-specificity", "zonulin_stool", "10.1371/journal.pone.0210728"),
    (
        "zonulin vs sugar test",
        "zonulin-permeability-correlation",
        "zonulin_serum",
        "10.3389/fphys.2021.645303",
    ),
    ("sugar tests", "sugar-test-conditions", "lactulose_mannitol_ratio", "19614866"),
    ("calprotectin", "calprotectin-not-diagnostic", "calprotectin", "10.1097/MPG.0000000000003046"),
    ("calprotectin", "calprotectin-medicines", "calprotectin", "https://"),
    ("calprotectin", "calprotectin-assays", "calprotectin", "10.1097/MPG.0000000000003046"),
    ("elastase", "elastase-watery-stool", "pancreatic_elastase", "91415"),
    ("food IgG", "food-igg-not-validated", "food_igg", "10.1186/1710-1492-8-12"),
    ("food IgG4", "food-igg-not-validated", "food_igg4", "21134568"),
    ("specific IgE", "specific-ige-sensitisation", "food_ige", "NBK435944"),
    ("antibody panels", "permeability-antibody-panel", "lps_igg", "https://"),
]


@pytest.mark.parametrize(("topic", "caveat_id", "analyte_id", "ident"), DOMAIN_CAVEATS)
def test_every_domain_caveat_is_present_with_its_citation(
    topic: str, caveat_id: str, analyte_id: str, ident: str
) -> None:
    """Every caveat of domain.md section 3 exists, cites its source and is attached."""
    cav = _caveats()[caveat_id]
    cited = " ".join(f"{c.doi} {c.pmid} {c.url}" for c in cav.citations)
    assert ident in cited, topic
    assert caveat_id in _analytes()[analyte_id].caveats


def test_analytes_without_ranges_say_a_lab_range_is_required() -> None:
    """An analyte with no shipped range says in its note that a lab-reported range is needed."""
    with_range = {r.analyte for r in _ranges().values()}
    for a in _analytes().values():
        if a.id not in with_range:
            assert a.note, a.id
            assert "lab-reported range" in a.note.lower(), a.id


def test_igg_food_tests_ship_no_range() -> None:
    """Food IgG, IgG4 and IgA results are never read against a shipped range."""
    assert not {"food_igg", "food_igg4", "food_iga"} & {r.analyte for r in _ranges().values()}


def test_permeability_ships_no_unsourced_cut_off() -> None:
    """No permeability range ships: none has a verifiable primary reference interval."""
    assert not [
        r for r in _ranges().values() if _analytes()[r.analyte or ""].family == "permeability"
    ]


# --- wording -----------------------------------------------------------------------------

_BANNED = re.compile(
    r"leaky gut|you have|recommend|treat|insufficien|disease|infection|allerg(y|ic)\b",
    re.IGNORECASE,
)
_BANNED_ANYWHERE = re.compile(r"leaky gut|you have|recommend|treatment|\btreat\b", re.IGNORECASE)


def test_band_labels_are_neutral() -> None:
    """Band labels describe the range, never a diagnosis."""
    for r in _ranges().values():
        for b in r.bands:
            assert not _BANNED.search(b.label), (r.id, b.label)


def test_texts_have_no_diagnostic_or_advice_wording() -> None:
    """Caveats, notes and names carry no diagnosis or advice (citation titles excepted)."""
    texts = [c.text for c in _caveats().values()]
    texts += [a.note or "" for a in _analytes().values()] + [a.name for a in _analytes().values()]
    texts += [r.note or "" for r in _ranges().values()]
    for t in texts:
        assert not _BANNED_ANYWHERE.search(t), t


def _reported_texts() -> list[tuple[str, str]]:
    """Texts a report can show: caveat texts, names, aliases, notes and band labels."""
    out = [(f"caveat {c.id}", c.text) for c in _caveats().values()]
    for a in _analytes().values():
        out += [(f"analyte {a.id}", t) for t in (a.name, a.note or "", *a.aliases)]
    for r in _ranges().values():
        out += [(f"range {r.id}", t) for t in (r.note or "", *(b.label for b in r.bands))]
    return out


def test_texts_pass_the_report_wording_policy() -> None:
    """No shipped text contains a phrase of the shared neutral-language list."""
    path = Path(__file__).with_name("forbidden_phrases.py")
    if not path.is_file():
        pytest.skip("tests/forbidden_phrases.py is not present")
    spec = importlib.util.spec_from_file_location("forbidden_phrases", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [(where, module.find_forbidden(t)) for where, t in _reported_texts()]
    assert [f for f in found if f[1]] == []


# --- specific ranges: boundaries exactly as the source writes them ------------------------


@pytest.mark.parametrize(
    ("range_id", "value", "label"),
    [
        ("calprotectin.mayo", 0.0, "normal"),
        ("calprotectin.mayo", 49.99, "normal"),
        ("calprotectin.mayo", 50.0, "borderline"),  # Mayo's current text: 50.0-120 borderline
        ("calprotectin.mayo", 50.05, "borderline"),  # no hole between the bands
        ("calprotectin.mayo", 50.1, "borderline"),
        ("calprotectin.mayo", 120.0, "borderline"),
        ("calprotectin.mayo", 120.01, "abnormal"),
        ("calprotectin.mayo", 120.1, "abnormal"),
        ("calprotectin.mayo", 5000.0, "abnormal"),
        ("calprotectin.oord2014.1mo-6mo", 538.0, "normal for age"),
        ("calprotectin.oord2014.1mo-6mo", 538.5, "above the upper limit for age"),
        ("calprotectin.oord2014.6mo-3a", 214.0, "normal for age"),
        ("calprotectin.oord2014.3a-4a", 75.1, "above the upper limit for age"),
        ("pancreatic_elastase.mayo", 500.0, "normal"),
        ("pancreatic_elastase.mayo", 200.1, "normal"),
        ("pancreatic_elastase.mayo", 200.0, "moderately reduced"),
        ("pancreatic_elastase.mayo", 100.0, "moderately reduced"),
        ("pancreatic_elastase.mayo", 99.9, "markedly reduced"),
        ("lactoferrin.labcorp", 7.24, "baseline"),
        ("lactoferrin.labcorp", 7.25, "elevated"),
        ("food_ige.mayo", 0.09, "class 0"),
        ("food_ige.mayo", 0.10, "class 0/1"),
        ("food_ige.mayo", 0.35, "class 1"),
        ("food_ige.mayo", 0.70, "class 2"),
        ("food_ige.mayo", 0.345, "class 0/1"),  # written 0.10-0.34: up to the next class
        ("food_ige.mayo", 17.4, "class 3"),
        ("food_ige.mayo", 17.45, "class 3"),
        ("food_ige.mayo", 99.95, "class 5"),
        ("food_ige.mayo", 17.5, "class 4"),
        ("food_ige.mayo", 100.0, "class 6"),
        ("food_ige_class.mayo", 0, "class 0"),
        ("food_ige_class.mayo", 6, "class 6"),
    ],
)
def test_band_boundaries(range_id: str, value: float, label: str | None) -> None:
    """Values at and beside each written boundary fall in the band the source names."""
    assert _label_of(range_id, value) == label


@pytest.mark.parametrize(
    ("range_id", "flags"),
    [
        ("calprotectin.mayo", {"normal": "N", "borderline": "H", "abnormal": "H"}),
        (
            "pancreatic_elastase.mayo",
            {"normal": "N", "moderately reduced": "L", "markedly reduced": "L"},
        ),
        ("food_ige.mayo", {"class 0": "N", "class 1": "E", "class 2": "H", "class 6": "H"}),
    ],
)
def test_band_flags(range_id: str, flags: dict[str, str]) -> None:
    """Bands carry the HL7 v3 flag the source's wording implies."""
    got = {b.label: b.flag for b in _ranges()[range_id].bands}
    for label, flag in flags.items():
        assert got[label] is InterpretationCode(flag)


@pytest.mark.parametrize(
    ("range_id", "expected", "unexpected"),
    [
        ("occult_blood_fit.mayo_fobt", {"negative", "not_detected"}, {"positive", "detected"}),
        ("giardia.mayo", {"negative", "not_detected"}, {"positive", "detected"}),
        ("cryptosporidium.mayo", {"negative", "not_detected"}, {"positive", "detected"}),
        ("entamoeba_histolytica.mayo", {"negative", "not_detected"}, {"positive", "detected"}),
    ],
)
def test_qualitative_expected_results(
    range_id: str, expected: set[str], unexpected: set[str]
) -> None:
    """Qualitative ranges list the expected result inside, the others outside the reference."""
    r = _ranges()[range_id]
    assert r.kind is ValueKind.QUALITATIVE
    inside = {t for b in r.bands if not b.flag.outside_reference for t in b.terms}
    outside = {t for b in r.bands if b.flag.outside_reference for t in b.terms}
    assert inside == expected
    assert outside == unexpected


def test_elastase_applies_from_two_weeks() -> None:
    """The elastase range starts at 2 weeks of age (Nissler 2001)."""
    assert _ranges()["pancreatic_elastase.mayo"].applies_to.age_low == Age(value=2, unit="wk")
    assert _applicable("pancreatic_elastase", 13.0) == []
    assert _applicable("pancreatic_elastase", 14.0) == ["pancreatic_elastase.mayo"]


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (Age(value=20, unit="d"), []),
        (Age(value=1, unit="mo"), ["calprotectin.oord2014.1mo-6mo"]),
        (Age(value=5.9, unit="mo"), ["calprotectin.oord2014.1mo-6mo"]),
        (Age(value=6, unit="mo"), ["calprotectin.oord2014.6mo-3a"]),
        (Age(value=3, unit="a"), ["calprotectin.oord2014.3a-4a"]),
        (Age(value=4, unit="a"), ["calprotectin.mayo"]),
        (Age(value=80, unit="a"), ["calprotectin.mayo"]),
    ],
)
def test_calprotectin_range_by_age(age: Age, expected: list[str]) -> None:
    """Exactly one calprotectin range applies at each age from 1 month; none before."""
    assert _applicable("calprotectin", age.days) == expected


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=120 * 365.25, allow_nan=False))
def test_calprotectin_age_ranges_never_overlap(age_days: float) -> None:
    """Property: at any age at most one calprotectin range applies, and one from 1 month on."""
    hits = _applicable("calprotectin", age_days)
    assert len(hits) == (1 if age_days >= Age(value=1, unit="mo").days else 0)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_value_lies_in_at_most_one_band(data: st.DataObject) -> None:
    """Property: in every shipped numeric range a value lies in at most one band."""
    numeric = [r for r in _ranges().values() if r.kind is not ValueKind.QUALITATIVE]
    r = data.draw(st.sampled_from(numeric))
    x = data.draw(st.floats(min_value=0, max_value=1e4, allow_nan=False))
    assert sum(b.contains(x) for b in r.bands) <= 1


def test_all_ranges_are_reference_ranges_for_the_right_specimen() -> None:
    """Shipped ranges are reference ranges whose specimen matches the analyte's."""
    for r in _ranges().values():
        assert r.category is RangeCategory.REFERENCE
        a = _analytes()[r.analyte or ""]
        assert r.applies_to.specimen in (None, a.specimen), r.id


# --- documentation -----------------------------------------------------------------------


def test_sources_doc_lists_every_range_and_caveat() -> None:
    """docs/sources.md names every shipped range and caveat id."""
    doc = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    for rid in _ranges():
        assert f"`{rid}`" in doc, rid
    for cid in _caveats():
        assert f"`{cid}`" in doc, cid


# --- through the loader ------------------------------------------------------------------


def test_loads_through_the_catalogue() -> None:
    """The shipped files load through Catalogue.default() with the same content."""
    catalogue = pytest.importorskip("guttests._catalogue")
    cat = catalogue.Catalogue.default()
    assert {a.id for a in cat.analytes} >= set(_analytes())
    assert {r.id for r in cat.ranges} >= set(_ranges())
    for rid, r in _ranges().items():
        assert cat.range(rid) == r


@pytest.mark.parametrize(
    ("name", "loinc", "expected"),
    [
        ("Fecal Calprotectin", None, "calprotectin"),
        ("Calprotectin, Feces", None, "calprotectin"),
        ("Faecal calprotectin", None, "calprotectin"),
        (None, "38445-3", "calprotectin"),
        ("Elastase-1, Fecal", None, "pancreatic_elastase"),
        (None, "25907-7", "pancreatic_elastase"),
        ("Occult Blood, FIT", None, "occult_blood_fit"),
        (None, "29771-3", "occult_blood_fit"),
        ("Secretory IgA", None, "secretory_iga"),
        ("Zonulin, Serum", None, "zonulin_serum"),
        ("Zonulin, Stool", None, "zonulin_stool"),
        ("Zonulin", None, None),
        ("Lactulose/Mannitol Ratio", None, "lactulose_mannitol_ratio"),
        ("% Mannitol Recovery", None, "mannitol_recovery"),
        ("Beta-glucuronidase", None, "beta_glucuronidase"),
        ("β-Glucuronidase", None, "beta_glucuronidase"),
        ("sIgE", None, "food_ige"),
    ],
)
def test_catalogue_resolves_lab_spellings(
    name: str | None, loinc: str | None, expected: str | None
) -> None:
    """Names and LOINC codes as labs send them resolve to the shipped analytes."""
    catalogue = pytest.importorskip("guttests._catalogue")
    from guttests._models import Coding

    codes = (Coding(system="http://loinc.org", code=loinc),) if loinc else ()
    hit = catalogue.Catalogue.default().resolve(name, codes)
    assert (hit.id if hit else None) == expected


def test_loader_reports_only_gap_warnings() -> None:
    """Validating the shipped files warns only about gaps between written boundaries."""
    catalogue = pytest.importorskip("guttests._catalogue")
    warnings = catalogue.validate_range_files(RANGE_DIR, base=None)
    others = [
        w for w in warnings if "no band covers" not in w and "units were not checked" not in w
    ]
    assert others == []


# --- issue 13: LOINC check digits, families, citations, gaps -----------------------------


def _loinc_check_digit(body: str) -> int:
    """The LOINC mod-10 check digit of the part before the hyphen (Luhn, as Regenstrief
    publishes it: double every second digit from the right, starting with the last)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10


@pytest.mark.parametrize(
    ("code", "valid"),
    [("38445-3", True), ("38445-4", False), ("17780-8", True), ("2335-8", True), ("2335-9", False)],
)
def test_loinc_check_digit_function(code: str, valid: bool) -> None:
    body, digit = code.split("-")
    assert (_loinc_check_digit(body) == int(digit)) is valid


VERIFIED_LOINC = {
    # code: (analyte, words of the LOINC long name that were read in the source)
    "38445-3": ("calprotectin", "Calprotectin"),
    "25907-7": ("pancreatic_elastase", "Pancreatic elastase"),
    "29771-3": ("occult_blood_fit", "Hemoglobin.gastrointestinal.lower [Presence]"),
    "58453-2": ("occult_blood_fit_quantitative", "Hemoglobin.gastrointestinal.lower [Mass/volume]"),
    "2335-8": ("occult_blood_guaiac", "Hemoglobin.gastrointestinal [Presence]"),
    "17780-8": ("helicobacter_pylori_antigen", "Helicobacter pylori Ag"),
    "34468-9": ("clostridioides_difficile_toxin", "toxin A and B"),
    "54067-4": ("clostridioides_difficile_toxin_gene", "toxin B gene (tcdB)"),
    "625-4": ("stool_culture", "Bacteria identified in Stool by Culture"),
}


def test_every_shipped_loinc_code_has_a_valid_check_digit() -> None:
    for a in _analytes().values():
        for code in a.loinc:
            body, digit = code.split("-")
            assert _loinc_check_digit(body) == int(digit), f"{a.id}: {code}"


def test_every_shipped_loinc_code_was_verified_and_is_cited() -> None:
    """Exactly the codes verified (and listed with their meaning in docs/sources.md) ship."""
    shipped = {code: a.id for a in _analytes().values() for code in a.loinc}
    assert shipped == {code: aid for code, (aid, _) in VERIFIED_LOINC.items()}
    sources = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    for code, (_, meaning) in VERIFIED_LOINC.items():
        row = next((line for line in sources.splitlines() if f"| {code} |" in line), "")
        assert row, f"{code} is not in docs/sources.md"
        assert meaning in row, f"{code}: docs/sources.md does not give its meaning"


def test_every_analyte_has_a_family_and_every_range_a_citation() -> None:
    for a in _analytes().values():
        assert a.family.value in FAMILIES, a.id
    for r in _ranges().values():
        assert len(r.source.text) >= 10, r.id
        assert r.evidence is not None, f"{r.id}: no evidence level"


def test_no_band_gap_unless_marked() -> None:
    """No value falls between two bands of a shipped range (a hole at 50.0-50.1 made 50.05
    indeterminate). Allowed: nothing below 0, and between or beyond the whole classes of an
    ordinal scheme (a class is a whole number)."""
    for r in _ranges().values():
        if r.kind is ValueKind.QUALITATIVE:
            continue
        first = r.sorted_bands()[0]
        for low, high in r.gaps():
            if low is None and high == 0 and first.low_inclusive:
                continue
            if r.kind is ValueKind.ORDINAL:
                continue
            raise AssertionError(f"{r.id}: no band covers {low} to {high}")


def test_single_study_ranges_carry_a_provisional_caveat() -> None:
    for r in _ranges().values():
        if r.evidence is not None and r.evidence.value == "single-study":
            assert any("provisional" in _caveats()[c].text for c in r.caveats), r.id
