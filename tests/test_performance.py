"""The fast paths keep the semantics: trusted models, engine caches, unit table, formatting."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests import (
    Age,
    Catalogue,
    Interpretation,
    PatientContext,
    Position,
    Provenance,
    Result,
    interpret,
    parse_range_text,
    parse_value,
)
from guttests._interpret import DEFAULT_POLICY, RangePolicy, _engine, interpret_panel
from guttests._models import Band, Panel, trusted
from guttests._reports._model import _when, fmt_number, result_record
from guttests._units import _atom_term, _pint_atom_term, _state


def _result(name: str, text: str, unit: str | None, rng: str | None = None) -> Result:
    return Result(
        name=name,
        value_text=text,
        value=parse_value(text),
        unit=unit,
        lab_range=parse_range_text(rng, unit=unit) if rng else None,
        lab_range_text=rng,
        provenance=Provenance(location="row 2"),
    )


ADULT = PatientContext(sex="female", age=Age(value=40))
INFANT = PatientContext(sex="male", age=Age(value=8, unit="mo"))

CASES = [
    (_result("Calprotectin", "182", "mg/kg"), ADULT),
    (_result("Calprotectin", "182", "mg/kg"), INFANT),
    (_result("Calprotectin", "<20", "ug/g"), ADULT),
    (_result("Zonulin", "52.1", "ng/mL", "<48"), PatientContext()),
    (_result("Giardia", "Not detected", None, "Not detected"), PatientContext()),
    (_result("Calprotectin", "75", "ng/mL"), ADULT),
    (_result("Unknown thing", "3", "mg/L"), PatientContext()),
    (_result("Calprotectin", "182", "mg/kg"), PatientContext()),
]


def _validated(i: Interpretation) -> Interpretation:
    """The same interpretation built through pydantic validation."""
    data = {k: getattr(i, k) for k in i.model_fields_set}
    if i.position is not None:
        data["position"] = Position(**i.position.model_dump())
    return Interpretation(**data)


@pytest.mark.parametrize(("result", "context"), CASES)
def test_trusted_interpretations_equal_validated_ones(
    result: Result, context: PatientContext
) -> None:
    """Interpretations built without validation equal validated ones, in fields and repr."""
    got = interpret(result, context)
    again = _validated(got)
    assert got == again
    assert repr(got) == repr(again)
    assert got.model_dump() == again.model_dump()
    assert got.model_dump_json() == again.model_dump_json()
    assert list(got.__dict__) == list(Interpretation.model_fields)
    assert got.model_fields_set == again.model_fields_set
    if got.position is not None:
        assert list(got.position.__dict__) == list(Position.model_fields)


def test_engine_caches_do_not_leak_between_contexts() -> None:
    """One reused engine gives each context its own range: an infant's, an adult's, none."""
    r = _result("Calprotectin", "182", "mg/kg")
    for _ in range(2):  # the second round is served from the engine's caches
        adult, infant, unknown = (interpret(r, c) for c in (ADULT, INFANT, PatientContext()))
        assert adult.range is not None
        assert infant.range is not None
        assert adult.range.id == "calprotectin.mayo"
        assert infant.range.id != adult.range.id
        assert adult.flag is not None
        assert adult.flag.value == "H"
        assert infant.flag is not None
        assert infant.flag.value == "N"
        assert not unknown.interpreted
        assert "age" in (unknown.reason or "")


def test_engine_is_reused_per_catalogue() -> None:
    """interpret() reuses one engine per catalogue, and a new catalogue gets its own."""
    cat = Catalogue.default()
    assert _engine(cat, None, DEFAULT_POLICY) is _engine(cat, None, DEFAULT_POLICY)
    other = Catalogue.empty()
    assert _engine(other, None, DEFAULT_POLICY).catalogue is other
    assert _engine(cat, None, RangePolicy(prefer_lab_range=False)).policy.prefer_lab_range is False


def test_panel_results_keep_their_own_age() -> None:
    """A result's own collection date decides its age, not the previous result's."""
    ctx = PatientContext(birth_date=datetime(2023, 1, 1).date())
    early = _result("Calprotectin", "300", "ug/g").model_copy(
        update={"collected": datetime(2023, 5, 1).date()}
    )
    late = _result("Calprotectin", "300", "ug/g").model_copy(
        update={"collected": datetime(2028, 5, 1).date()}
    )
    panel = Panel(patient=ctx, results=(early, late, early))
    a, b, c = interpret_panel(panel)
    assert a.range is not None
    assert b.range is not None
    assert c.range is not None
    assert a.range.id == c.range.id != b.range.id


def _fmt_reference(x: float, sig: int = 6) -> str:
    """fmt_number as first written (before the '%g' fast path)."""
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e15:
        digits = max(sig - 1 - math.floor(math.log10(abs(x))), 0)
        text = f"{x:.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return f"{x:.{sig}g}"


@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(10**16), 10**16).map(float),
        st.sampled_from([9.9999996, 99999.96, 999999.6, 0.00009999996, 1e15, 123456.5, 0.1 + 0.2]),
    ),
    st.sampled_from([2, 6]),
)
@settings(max_examples=300)
def test_fmt_number_matches_its_reference(x: float, sig: int) -> None:
    """The fast number formatting prints exactly what the reference algorithm prints."""
    assert fmt_number(x, sig) == _fmt_reference(x, sig)


def test_dates_are_formatted_by_identity_not_equality() -> None:
    """Equal instants with different offsets keep their own text."""
    utc = datetime(2024, 3, 1, 7, 30, tzinfo=UTC)
    cet = utc.astimezone(timezone(timedelta(hours=1)))
    assert utc == cet
    assert _when(utc) == "2024-03-01T07:30+00:00"
    assert _when(cet) == "2024-03-01T08:30+01:00"
    assert _when(None) is None


def test_records_of_reused_interpretations_are_independent() -> None:
    """A record is a fresh dict: changing one does not change the next."""
    i = interpret(_result("Zonulin", "52.1", "ng/mL", "<48"))
    first = result_record(i)
    first["notes"].append("x")
    first["range"]["id"] = "changed"
    second = result_record(i)
    assert second["notes"] == []
    assert second["range"]["id"] != "changed"


def test_unit_table_equals_pint_for_every_atom_and_prefix() -> None:
    """The factors and dimensions read from units.txt are exactly pint's."""
    state = _state()
    compared = 0
    for atom in state.atoms:
        for prefix in (None, *state.prefixes):
            theirs = _pint_atom_term(state, prefix, atom)
            assert _atom_term(state, prefix, atom) == theirs, (prefix, atom)
            compared += 1
    assert compared > 5000


def test_parsing_units_does_not_build_pint() -> None:
    """Parsing and converting units needs no pint registry (the cold start's largest part)."""
    code = (
        "import sys; from guttests._units import conversion_factor, parse_unit; "
        "parse_unit('mg/dL'); conversion_factor('ng/mL', 'ug/L'); print('pint' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_trusted_equals_validated_and_refuses_mistakes() -> None:
    """trusted() builds what validation builds, and refuses missing, unknown or checked fields."""
    made = trusted(Result, name="pH", value_text="6.5", provenance=Provenance(location="l 2"))
    checked = Result(name="pH", value_text="6.5", provenance=Provenance(location="l 2"))
    assert made == checked
    assert repr(made) == repr(checked)
    assert made.model_fields_set == checked.model_fields_set
    with pytest.raises(TypeError, match="missing \\['provenance'\\]"):
        trusted(Result, name="pH")
    with pytest.raises(TypeError, match="unknown \\['nmae'\\]"):
        trusted(Result, nmae="pH", provenance=Provenance(location="l 2"))
    with pytest.raises(TypeError, match="validators"):
        trusted(Band, label="normal", flag="N")


def test_not_interpretable_results_equal_validated_ones() -> None:
    """The engine's not-interpretable outcome is the validated one too."""
    r = _result("Zonulin", "12", "mmol/L").model_copy(
        update={"lab_range": parse_range_text("<48", unit="ng/mL")}
    )
    got = interpret(r)
    assert not got.interpreted
    assert got == _validated(got)
    assert got.model_fields_set == {"result", "status", "analyte", "caveats", "reason", "notes"}


def test_threads_sharing_an_engine_get_their_own_ages() -> None:
    """Threads interpreting through one engine never see another context's age."""
    from concurrent.futures import ThreadPoolExecutor

    r = _result("Calprotectin", "182", "mg/kg")
    expected = {id(ADULT): "calprotectin.mayo", id(INFANT): interpret(r, INFANT).range.id}  # type: ignore[union-attr]

    def check(context: PatientContext) -> bool:
        return all(
            (got := interpret(r, context).range) is not None and got.id == expected[id(context)]
            for _ in range(300)
        )

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(check, [ADULT, INFANT] * 4))
