"""Issue 13: catalogue recognition, content corrections and presentation, end to end."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import date
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests import (
    Catalogue,
    InterpretationCode,
    Panel,
    PatientContext,
    Provenance,
    Result,
    Specimen,
    build_report,
    interpret,
    interpret_panels,
    parse_range_text,
    parse_value,
    read,
    render,
)
from guttests._catalogue import food_result, normalise_name
from guttests._reports._model import Report

IC = InterpretationCode
TESTS = Path(__file__).resolve().parent
ADULT = PatientContext(sex="female", birth_date=date(1980, 4, 2))
COLLECTED = date(2026, 3, 1)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


forbidden = _load("forbidden_phrases")


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return Catalogue.default()


def res(
    name: str,
    value: str,
    unit: str | None = None,
    *,
    lab: str | None = None,
    method: str | None = None,
    lab_range: str | None = None,
    collected: date = COLLECTED,
    specimen: Specimen | None = Specimen.STOOL,
    loc: str = "line 1",
) -> Result:
    return Result(
        name=name,
        value_text=value,
        value=parse_value(value),
        unit=unit,
        lab=lab,
        method=method,
        lab_range=parse_range_text(lab_range, unit=unit) if lab_range else None,
        specimen=specimen,
        collected=collected,
        provenance=Provenance(location=loc),
    )


def report(results: list[Result], cat: Catalogue, ctx: PatientContext = ADULT) -> Report:
    panels = [Panel(name="Stool panel", patient=ctx, results=tuple(results))]
    return build_report(
        panels,
        interpret_panels(panels, catalogue=cat),
        catalogue_hash=cat.content_hash,
        version="0.1.0",
        catalogue=cat,
    )


# --- recognition ------------------------------------------------------------------------


def test_every_row_of_the_bundled_examples_resolves(cat: Catalogue) -> None:
    folder = files("guttests") / "_data" / "examples"
    rows = 0
    for name in ("stool.hl7", "permeability.csv", "food_sensitivity.json"):
        for panel in read(str(folder / name)):
            for r in panel.results:
                rows += 1
                found = cat.analyte(r.analyte) if r.analyte else cat.resolve(r.name, r.all_codes())
                assert found is not None, f"{name}: {r.name!r}"
    assert rows >= 30


@pytest.mark.parametrize(
    ("name", "analyte"),
    [
        ("Eosinophil Protein X, Feces", "eosinophil_protein_x"),
        ("EPX", "eosinophil_protein_x"),
        ("pH of Stool", "stool_ph"),
        ("n-Butyrate, % of total SCFA", "scfa_butyrate"),
        ("Butyrate (% of total)", "scfa_butyrate"),
        ("Butyrate (µmol/g)", "scfa_butyrate_conc"),
        ("Akkermansia muciniphila (qPCR)", "akkermansia_muciniphila"),
        ("Giardia lamblia (PCR)", "giardia"),
        ("Cryptosporidium spp. (PCR)", "cryptosporidium"),
        ("Clostridioides difficile toxin A/B (qPCR)", "clostridioides_difficile_toxin_gene"),
        ("C. difficile Toxin A/B", "clostridioides_difficile_toxin"),
        ("C. diff GDH", "clostridioides_difficile_gdh"),
        ("Helicobacter pylori Antigen", "helicobacter_pylori_antigen"),
        ("Helicobacter pylori (qPCR)", "helicobacter_pylori"),
        ("β-Glucuronidase", "beta_glucuronidase"),
        ("Occult Blood, Guaiac", "occult_blood_guaiac"),
        ("FIT, Quantitative", "occult_blood_fit_quantitative"),
        ("Calprotectin, Stool", "calprotectin"),
        ("Ova and Parasites", "ova_and_parasites"),
        ("Candida albicans (PCR)", "candida_albicans"),
        ("Anti-Zonulin IgG", "anti_zonulin_igg"),
    ],
)
def test_lab_spellings_resolve(cat: Catalogue, name: str, analyte: str) -> None:
    found = cat.resolve(name)
    assert found is not None, name
    assert found.id == analyte


@pytest.mark.parametrize(
    "name",
    [
        "Zonulin, Feces",  # a stool suffix never lands on the serum analyte "Zonulin"
        "H. pylori",  # antigen or DNA: not said, not guessed
        "Fecal Occult Blood",  # FIT or guaiac: not said, not guessed
        "pH",  # blood or stool: not said
        "Secretory IgA serum",
        "Gliadin IgA",  # an anti-gliadin antibody, not a food result
        "Calprotectin, quantitative",
    ],
)
def test_ambiguous_names_are_not_guessed(cat: Catalogue, name: str) -> None:
    found = cat.resolve(name)
    assert found is None or found.id != "zonulin_serum", name
    if name != "Zonulin, Feces":
        assert found is None, (name, found.id if found else None)


def test_hospital_tests_have_their_codes(cat: Catalogue) -> None:
    from guttests import Coding

    def by_code(code: str) -> str | None:
        a = cat.resolve(None, [Coding(system="http://loinc.org", code=code)])
        return a.id if a else None

    assert by_code("17780-8") == "helicobacter_pylori_antigen"
    assert by_code("54067-4") == "clostridioides_difficile_toxin_gene"
    assert by_code("29771-3") == "occult_blood_fit"
    assert by_code("2335-8") == "occult_blood_guaiac"
    assert by_code("58453-2") == "occult_blood_fit_quantitative"


def test_h_pylori_antigen_negative_is_read_against_its_expected_result(cat: Catalogue) -> None:
    i = interpret(res("H. pylori Stool Antigen", "Negative"), ADULT, catalogue=cat)
    assert i.status == "interpreted"
    assert i.flag is IC.NEGATIVE
    assert any(c.id == "h-pylori-antigen-medicines" for c in i.caveats)


def test_fit_and_guaiac_carry_their_own_caveats(cat: Catalogue) -> None:
    fit = interpret(res("Occult Blood, FIT", "Negative"), ADULT, catalogue=cat)
    guaiac = interpret(res("Occult Blood, Guaiac", "Negative"), ADULT, catalogue=cat)
    assert [c.id for c in fit.caveats] == ["occult-blood-immunochemical"]
    assert [c.id for c in guaiac.caveats] == ["occult-blood-guaiac"]
    assert guaiac.status == "not_interpretable"  # no primary expected result: lab range needed
    assert "lab-reported range" in (guaiac.reason or "")


@pytest.mark.parametrize(
    ("name", "family", "food"),
    [
        ("Peanut (f13) IgE", "food_ige", "Peanut"),
        ("Cow's milk IgG4", "food_igg4", "Cow's milk"),
        ("Wheat IgA", "food_iga", "Wheat"),
        ("Almond IgG", "food_igg", "Almond"),
        ("Egg white, IgG4", "food_igg4", "Egg white"),
        ("Peanut (f13) IgE class", "food_ige_class", "Peanut"),
        ("Kiwi (f84) IgE", "food_ige", "Kiwi"),
    ],
)
def test_per_food_results_resolve_to_their_family(
    cat: Catalogue, name: str, family: str, food: str
) -> None:
    found = cat.resolve(name)
    assert found is not None
    assert found.id == family
    assert cat.qualifier(name) == food


def test_per_food_results_carry_the_family_caveats(cat: Catalogue) -> None:
    i = interpret(res("Almond IgG", "12.5", "ug/mL", specimen=Specimen.SERUM), ADULT, catalogue=cat)
    assert any(c.id == "food-igg-not-validated" for c in i.caveats)
    a = interpret(res("Wheat IgA", "3.1", "ug/mL", specimen=Specimen.SERUM), ADULT, catalogue=cat)
    assert any(c.id == "food-iga-not-validated" for c in a.caveats)


@given(st.text(min_size=1, max_size=40))
def test_food_results_need_a_listed_food_or_an_allergen_code(text: str) -> None:
    found = food_result(f"{text} IgA")
    if found is not None:
        assert found[1] == "food_iga"
        assert re.search(r"\(\s*f\d", text, re.IGNORECASE) or found[0]


@pytest.mark.parametrize("name", ["GLUCOSE", "Hematocrit", "Sodium", "Hemoglobin A1c"])
def test_no_stool_marker_is_suggested_for_a_blood_test(cat: Catalogue, name: str) -> None:
    assert cat.suggest(name) == []


def test_close_names_are_still_suggested(cat: Catalogue) -> None:
    assert cat.suggest("Calprotectine")[0] == "Calprotectin"
    assert "Calprotectin" in cat.suggest("Calprotectin, quantitative")


def test_kiu_per_litre_reads_as_ku_per_litre_for_specific_ige(cat: Catalogue) -> None:
    a = interpret(res("Peanut (f13) IgE", "0.52", "kIU/L", specimen=Specimen.SERUM), catalogue=cat)
    b = interpret(res("Peanut (f13) IgE", "0.52", "kU/L", specimen=Specimen.SERUM), catalogue=cat)
    assert a.status == b.status == "interpreted"
    assert (a.flag, a.band) == (b.flag, b.band) == (IC.EQUIVOCAL, "class 1")


def test_normalise_name_handles_greek_letters() -> None:
    assert normalise_name("β-Glucuronidase") == normalise_name("Beta-glucuronidase")
    assert normalise_name("α1-Antitrypsin") == normalise_name("alpha1-antitrypsin")


# --- content corrections -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "flag", "band"),
    [
        ("49.9", IC.NORMAL, "normal"),
        ("50.0", IC.HIGH, "borderline"),
        ("50.05", IC.HIGH, "borderline"),  # no 50.0-50.1 hole: never indeterminate
        ("120", IC.HIGH, "borderline"),
        ("120.05", IC.HIGH, "abnormal"),
    ],
)
def test_calprotectin_bands_have_no_holes(cat: Catalogue, value: str, flag: IC, band: str) -> None:
    i = interpret(res("Calprotectin", value, "ug/g"), ADULT, catalogue=cat)
    assert (i.flag, i.band) == (flag, band)


def test_infant_limits_carry_the_provisional_caveat_and_evidence(cat: Catalogue) -> None:
    infant = PatientContext(birth_date=date(2025, 9, 1))
    i = interpret(res("Calprotectin", "300", "ug/g"), infant, catalogue=cat)
    assert i.range is not None
    assert i.range.evidence is not None
    assert i.range.evidence.value == "single-study"
    assert "calprotectin-infant-limits-provisional" in [c.id for c in i.caveats]
    adult = interpret(res("Calprotectin", "30", "ug/g"), ADULT, catalogue=cat)
    assert "calprotectin-infant-limits-provisional" not in [c.id for c in adult.caveats]


def test_labcorp_lactoferrin_without_a_method_is_compared(cat: Catalogue) -> None:
    i = interpret(res("Lactoferrin, Fecal", "9.1", "ug/mL", lab="Labcorp"), ADULT, catalogue=cat)
    assert i.status == "interpreted"
    assert i.range is not None
    assert i.range.id == "lactoferrin.labcorp"
    other_method = interpret(
        res("Lactoferrin, Fecal", "9.1", "ug/mL", lab="Labcorp", method="LC-MS"), catalogue=cat
    )
    assert other_method.status == "not_interpretable"
    no_lab = interpret(res("Lactoferrin, Fecal", "9.1", "ug/mL"), ADULT, catalogue=cat)
    assert "depends on the laboratory" in (no_lab.reason or "")


@pytest.mark.parametrize(
    ("name", "caveat"),
    [
        ("Faecalibacterium prausnitzii (qPCR)", "qpcr-quantities-not-comparable"),
        ("Butyrate, % of total SCFA", "scfa-stool-levels"),
        ("Secretory IgA, Stool", "siga-assay-dependent"),
        ("EPX", "epx-research-marker"),
    ],
)
def test_caveats_reach_contested_markers(cat: Catalogue, name: str, caveat: str) -> None:
    i = interpret(res(name, "12", "ug/g"), ADULT, catalogue=cat)
    assert caveat in [c.id for c in i.caveats]


def test_food_igg_caveat_cites_the_three_societies(cat: Catalogue) -> None:
    caveat = cat.caveat("food-igg-not-validated")
    assert caveat is not None
    cites = " ".join(c.text for c in caveat.citations)
    for society in ("EAACI", "Allergy, Asthma & Immunology", "CSACI"):
        assert society in cites
    stapel = caveat.citations[0]
    assert stapel.doi == "10.1111/j.1398-9995.2008.01705.x"


# --- presentation ---------------------------------------------------------------------------


def _row(rep: Report, name: str) -> str:
    row = next(r for r in rep.rows if r.name == name)
    return (row.position.text if row.position else "") or ""


def test_multiples_only_when_they_say_something(cat: Catalogue) -> None:
    rep = report(
        [
            res("Calprotectin", "120.1", "ug/g", lab_range="<=120", loc="a"),
            res("Zonulin", "55", "ng/mL", lab_range="<=50", specimen=Specimen.SERUM, loc="b"),
            res("Secretory IgA", "500", "ug/g", lab_range="510-2010", loc="c"),
        ],
        cat,
    )
    assert _row(rep, "Calprotectin").startswith("above upper limit (by 0.1 ug/g)")
    assert _row(rep, "Zonulin").startswith("above upper limit (1.1 × upper limit)")
    assert _row(rep, "Secretory IgA").startswith("below lower limit (by 10 ug/g)")


def test_position_on_a_log_scale_for_ranges_of_two_decades(cat: Catalogue) -> None:
    rep = report([res("Akkermansia muciniphila", "3.4e6", "{copies}/g", lab_range="1e6-5e8")], cat)
    row = rep.rows[0]
    assert row.position is not None
    assert row.position.log_scale
    assert "20 % of the way from lower to upper limit on a log scale" in _row(rep, row.name or "")
    from guttests._reports._html import range_graphic

    graphic = range_graphic(row)
    assert graphic is not None
    assert graphic.log
    linear = report([res("Calprotectin", "25", "ug/g", lab_range="0-50")], cat)
    assert "50 % of the way from lower to upper limit;" in _row(linear, "Calprotectin")


def test_class_tables_give_the_class_not_a_multiple(cat: Catalogue) -> None:
    rep = report([res("Peanut (f13) IgE", "5.2", "kU/L", specimen=Specimen.SERUM)], cat)
    text = _row(rep, "Peanut (f13) IgE")
    assert "upper limit" not in text
    assert "class 3" in text


def test_equivocal_results_are_counted_as_equivocal(cat: Catalogue) -> None:
    rep = report(
        [
            res("Peanut (f13) IgE", "0.52", "kU/L", specimen=Specimen.SERUM, loc="a"),
            res("Calprotectin", "<100", "ug/g", loc="b"),
        ],
        cat,
    )
    assert rep.counts.equivocal == 1
    assert rep.counts.indeterminate == 1
    assert "1 equivocal; 1 indeterminate" in rep.summary


def test_serial_change_across_laboratories_is_a_note(cat: Catalogue) -> None:
    rep = report(
        [
            res("Calprotectin", "80", "ug/g", lab="Lab A", collected=date(2025, 1, 5), loc="a"),
            res("Calprotectin", "160", "ug/g", lab="Lab B", collected=date(2025, 6, 5), loc="b"),
        ],
        cat,
    )
    [series] = rep.serial
    [change] = series.changes
    assert change.percent is None
    assert "another laboratory or method" in change.text
    same = report(
        [
            res("Calprotectin", "80", "ug/g", lab="Lab A", collected=date(2025, 1, 5), loc="a"),
            res("Calprotectin", "160", "ug/g", lab="Lab A", collected=date(2025, 6, 5), loc="b"),
        ],
        cat,
    )
    assert same.serial[0].changes[0].percent == pytest.approx(100.0)


def test_evidence_notes_and_urls_in_every_format(cat: Catalogue) -> None:
    infant = PatientContext(birth_date=date(2025, 9, 1))
    rep = report([res("Calprotectin", "300", "ug/g")], cat, ctx=infant)
    text, md, html = (render(rep, f) for f in ("text", "md", "html"))  # type: ignore[arg-type]
    doc = json.loads(render(rep, "json"))
    assert doc["results"][0]["range"]["evidence"] == "single-study"
    for raw in (text, md, html):
        out = " ".join(raw.split())  # wrapped lines read as one
        assert "evidence: single study" in out
        assert "Upper limit = 97.5th percentile" in out  # the range's note
        assert "provisional" in out  # the range's caveat
    assert "https://doi.org/10.3109/00365513.2013.879732" in text


def test_text_report_fits_100_columns_and_wraps_at_words(cat: Catalogue) -> None:
    long_name = "Hemoglobin.gastrointestinal.lower [Presence] in Stool by Immunoassay"
    rep = report(
        [
            res(long_name, "Negative", loc="a"),
            res("Akkermansia muciniphila (qPCR)", "3.4e6", "{copies}/g", lab_range="1e6-5e8"),
        ],
        cat,
    )
    text = render(rep, "text")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "lo/wer" not in text
    assert "Hemoglobin." in text
    words = re.findall(r"[A-Za-z]+", long_name)
    for word in words:  # every word of the name appears whole somewhere
        assert re.search(rf"\b{word}\b", text), word


def test_counts_and_ages_agree_in_number(cat: Catalogue) -> None:
    rep = report([res("Calprotectin", "30", "ug/g")], cat)
    assert ": 1 result;" in rep.summary
    infant = PatientContext(birth_date=date(2026, 1, 31))
    assert infant.age_at(date(2026, 3, 1)).describe() == "1 month"  # type: ignore[union-attr]


def test_markdown_numbered_items_are_an_ordered_list(cat: Catalogue) -> None:
    r1, r2 = res("Calprotectin", "30", "ug/g", loc="a"), res("Calprotectin", "40", "ug/g", loc="b")
    panels = [
        Panel(name="First", patient=ADULT, results=(r1,)),
        Panel(name="Second", patient=ADULT, results=(r2,)),
    ]
    rep = build_report(
        panels,
        interpret_panels(panels, catalogue=cat),
        catalogue_hash=cat.content_hash,
        version="0.1.0",
        catalogue=cat,
    )
    md = render(rep, "md")
    assert "- 1." not in md
    assert "\n1. First:" in md
    assert "\n2. Second:" in md


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_new_wording_is_neutral(cat: Catalogue, fmt: str) -> None:
    rep = report(
        [
            res("Calprotectin", "120.1", "ug/g", lab_range="<=120", loc="a"),
            res("H. pylori Stool Antigen", "Positive", loc="b"),
            res("Peanut (f13) IgE", "0.52", "kU/L", specimen=Specimen.SERUM, loc="c"),
            res("Wheat IgA", "3.1", "ug/mL", specimen=Specimen.SERUM, loc="d"),
            res("Occult Blood, Guaiac", "Negative", loc="e"),
        ],
        cat,
    )
    out = render(rep, fmt)  # type: ignore[arg-type]
    citations = forbidden.catalogue_citations(cat)
    assert forbidden.find_forbidden_in_report(out, fmt, citations) == []
