"""The batch writer's record cache changes nothing: byte for byte the plain path's output.

``write_records`` (the cached path ``guttests batch`` uses) against ``write_records_plain``
(interpret, build and serialise every result) on every reader fixture and on generated
inputs of every format, each repeated three times over (from the third sighting on the
cache answers), with and without ``deidentify`` and compact output.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import guttests._batch as batch
from guttests._batch import write_records, write_records_plain
from guttests._errors import GuttestsError
from guttests._models import Panel, PatientContext, Provenance, Result
from guttests._range_text import parse_range_text
from guttests._readers import CsvMapping, iter_panels
from guttests._values import parse_value
from guttests.testing import panels as panel_strategy
from guttests.testing import to_csv, to_fhir, to_hl7v2, to_json

FIXTURES = Path(__file__).parent / "fixtures"
READER_FIXTURES = sorted(
    p
    for d in ("hl7v2", "fhir", "csv", "json")
    for p in (FIXTURES / d).iterdir()
    if p.suffix in {".hl7", ".json", ".ndjson", ".csv", ".tsv"}
)


def _read(source: Path | str, fmt: str | None = None) -> list[Panel]:
    src: Any = io.StringIO(source, newline="") if isinstance(source, str) else source
    return list(iter_panels(src, fmt, max_bytes=None, max_results=None))  # type: ignore[arg-type]


def _both(
    panels: Sequence[Panel],
    *,
    deidentify: bool = False,
    compact: bool = False,
    stats: dict[str, int] | None = None,
) -> tuple[tuple[bytes, bytes, Any, list[str]], tuple[bytes, bytes, Any, list[str]]]:
    outs = []
    for write in (write_records_plain, write_records):
        out, ranges = io.BytesIO(), io.BytesIO()
        kw: dict[str, Any] = {"stats": stats} if write is write_records else {}
        with warnings.catch_warnings(record=True) as caught:  # the same warnings too
            warnings.simplefilter("always")
            counts = write(
                panels, out, deidentify=deidentify, ranges_out=ranges if compact else None, **kw
            )
        said = [f"{w.category.__name__}: {w.message}" for w in caught]
        outs.append((out.getvalue(), ranges.getvalue(), counts, said))
    return outs[0], outs[1]


def _readable(path: Path) -> list[Panel] | None:
    options: dict[str, Any] = {}
    if path.name == "latin1.csv":
        options["encoding"] = "latin-1"
    if path.with_suffix(".toml").exists():  # a CSV export with its column mapping
        options["csv_mapping"] = CsvMapping.from_toml(path.with_suffix(".toml"))
    try:
        return list(iter_panels(path, max_bytes=None, max_results=None, **options))
    except GuttestsError:  # fixtures of bad input (an empty file): nothing to write
        return None


@pytest.mark.parametrize("path", READER_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("deidentify", [False, True])
@pytest.mark.parametrize("compact", [False, True])
def test_fixtures_byte_identical(path: Path, deidentify: bool, compact: bool) -> None:
    panels = _readable(path)
    if panels is None:
        pytest.skip("not readable input (a test of errors, not of batch output)")
    # every result three times: the second builds its template, the third is a hit
    thrice = panels * 3
    stats: dict[str, int] = {}
    plain, fast = _both(thrice, deidentify=deidentify, compact=compact, stats=stats)
    assert fast == plain
    assert stats["off"] == 0
    if panels:
        assert stats["hits"] > 0
    lines = plain[0].splitlines()
    assert len(lines) == 3 * sum(len(p.results) for p in panels)  # nothing lost
    if compact:
        refs = {json.loads(line)["range_ref"] for line in plain[1].splitlines()}
        assert len(refs) == len(plain[1].splitlines())  # each range once
        for line in lines:
            ref = json.loads(line)["range_ref"]
            assert ref is None or ref in refs


WRITERS: dict[str, Callable[[Sequence[Panel]], str]] = {
    "hl7v2": to_hl7v2,
    "fhir": to_fhir,
    "csv": to_csv,
    "json": to_json,
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(panel_strategy(max_results=4), min_size=1, max_size=3),
    st.sampled_from(sorted(WRITERS)),
    st.booleans(),
)
def test_generated_inputs_byte_identical(panels: list[Panel], fmt: str, compact: bool) -> None:
    # written twice over: the second copy repeats every result under another patient
    # (same sex, age, birth date) and provenance
    read = _read(WRITERS[fmt](panels + panels), fmt)
    plain, fast = _both(read * 3, compact=compact)
    assert fast == plain


def _repeating_panels() -> list[Panel]:
    def result(i: int) -> Result:
        return Result(
            name="Calprotectin",
            value_text="75",
            value=parse_value("75"),
            unit="ug/g",
            lab_range=parse_range_text("0-50", unit="ug/g"),
            lab_range_text="0-50",
            provenance=Provenance(source="a.hl7", location=f"OBX {i}", format="hl7v2"),
        )

    patients = [
        PatientContext(patient_id=f"P{k}", name=f"Name {k}", sex="female") for k in range(3)
    ]
    return [Panel(patient=p, results=tuple(result(i) for i in range(4))) for p in patients]


def test_cache_answers_repeats() -> None:
    """The cache is used: repeated results are not interpreted again."""
    calls = 0
    panels = _repeating_panels()
    real = batch._engine(batch._resolve_default(), None, batch.DEFAULT_POLICY).run

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    engine = batch._engine(batch._resolve_default(), None, batch.DEFAULT_POLICY)
    engine.run = counting  # type: ignore[method-assign]
    try:
        out = io.BytesIO()
        write_records(panels, out)
    finally:
        del engine.run
    # 12 results: the first two sightings of the key are interpreted (the second builds
    # the template), the first misses are probed once more each (see _PROBES)
    assert calls < 12
    assert len(out.getvalue().splitlines()) == 12


@pytest.mark.parametrize(
    "leak",
    [
        lambda rec, interp, panel: interp.result.provenance.location,
        lambda rec, interp, panel: panel.patient.patient_id if panel else None,
        lambda rec, interp, panel: panel.patient.name if panel else None,
    ],
    ids=["provenance", "patient_id", "patient_name"],
)
@pytest.mark.parametrize("compact", [False, True])
def test_run_time_guard_turns_the_cache_off(
    monkeypatch: pytest.MonkeyPatch, leak: Callable[..., Any], compact: bool
) -> None:
    """A record that depends on what the key leaves out (here: a new field leaking the
    location or patient identity) is caught at run time: output stays the plain path's."""
    real = batch.result_record

    def leaky(interp: Any, *, panel: Any = None, **kw: Any) -> dict[str, Any]:
        rec = real(interp, panel=panel, **kw)
        rec["leak"] = leak(rec, interp, panel)
        if rec["range"] is not None:  # in the range too: no stray line in the ranges file
            rec["range"] = {**rec["range"], "leak": rec["leak"]}
        return rec

    monkeypatch.setattr(batch, "result_record", leaky)
    stats: dict[str, int] = {}
    plain, fast = _both(_repeating_panels(), stats=stats, compact=compact)
    assert fast == plain
    assert stats["off"] == 1
    assert all(json.loads(line)["status"] == "interpreted" for line in plain[0].splitlines())
    leaks = [json.loads(line)["leak"] for line in plain[0].splitlines()]
    assert len(set(leaks)) > 1


def test_cli_compact_writes_ranges_beside_the_output(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from guttests._cli.batch import compact_ranges_path
    from guttests.cli import cli

    src = FIXTURES / "hl7v2" / "stool_comprehensive.hl7"
    full, small = tmp_path / "full.ndjson", tmp_path / "small.ndjson"
    runner = CliRunner()
    for out, extra in ((full, []), (small, ["--compact"])):
        res = runner.invoke(cli, ["batch", str(src), "-o", str(out), "-q", *extra])
        assert res.exit_code == 0, res.output
    ranges_path = compact_ranges_path(small)
    assert ranges_path == tmp_path / "small.ranges.ndjson"
    ranges = {
        r["range_ref"]: r["range"]
        for r in map(json.loads, ranges_path.read_text(encoding="utf-8").splitlines())
    }
    full_records = [json.loads(line) for line in full.read_text(encoding="utf-8").splitlines()]
    small_records = [json.loads(line) for line in small.read_text(encoding="utf-8").splitlines()]
    assert len(full_records) == len(small_records) > 0
    for a, b in zip(full_records, small_records, strict=True):
        ref = b.pop("range_ref")
        assert a.pop("range") == (ranges[ref] if ref is not None else None)
        assert a == b
    assert small.stat().st_size < full.stat().st_size
    res = runner.invoke(cli, ["batch", str(src), "--compact", "-q"])
    assert res.exit_code == 2  # stdout has no place for the ranges


def test_relaxed_gc_restores_the_collector() -> None:
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with batch.relaxed_gc():
        assert gc.get_threshold()[0] >= 20_000
        assert gc.get_freeze_count() >= frozen
        garbage: list[object] = []
        garbage.append(garbage)  # a cycle made inside is still collectable
    del garbage
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
    # a caller's own freeze is left as it is
    gc.freeze()
    try:
        kept = gc.get_freeze_count()
        with batch.relaxed_gc():
            pass
        assert gc.get_freeze_count() == kept
    finally:
        gc.unfreeze()
    assert gc.get_threshold() == before


# --- the HL7 v2 token path (``iter_batch_parts``: panels before their results are built) --

HL7_FIXTURES = sorted(
    [*(FIXTURES / "hl7v2").glob("*.hl7"), *(FIXTURES / "conformance" / "hl7v2").glob("*")],
    key=str,
)


def _hl7_text(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8")
        list(iter_panels(io.StringIO(text, newline=""), "hl7v2"))
    except (GuttestsError, UnicodeDecodeError):
        return None
    return text


def _raw_and_plain(
    text: str, *, deidentify: bool = False, compact: bool = False
) -> tuple[tuple[bytes, bytes, Any], tuple[bytes, bytes, Any], dict[str, int]]:
    """``write_records`` on the token path against ``write_records_plain`` on the reader's
    panels, for the same HL7 v2 text."""
    from guttests._readers import iter_batch_parts

    outs = []
    stats: dict[str, int] = {}
    for raw in (False, True):
        out, ranges = io.BytesIO(), io.BytesIO()
        src = io.StringIO(text, newline="")
        opts: dict[str, Any] = {"max_bytes": None, "max_results": None}
        if raw:
            parts: Any = iter_batch_parts(src, "hl7v2", **opts)  # type: ignore[arg-type]
            counts = write_records(
                parts,
                out,
                deidentify=deidentify,
                ranges_out=ranges if compact else None,
                stats=stats,
            )
        else:
            panels = iter_panels(src, "hl7v2", **opts)  # type: ignore[arg-type]
            counts = write_records_plain(
                panels, out, deidentify=deidentify, ranges_out=ranges if compact else None
            )
        outs.append((out.getvalue(), ranges.getvalue(), counts))
    return outs[0], outs[1], stats


@pytest.mark.parametrize("path", HL7_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("deidentify", [False, True])
@pytest.mark.parametrize("compact", [False, True])
def test_hl7_token_path_byte_identical(path: Path, deidentify: bool, compact: bool) -> None:
    text = _hl7_text(path)
    if text is None:
        pytest.skip("not readable input (a test of errors, not of batch output)")
    # the messages three times over: the second sighting of a value builds its template,
    # the third is filled from the tokens
    plain, fast, stats = _raw_and_plain(text * 3, deidentify=deidentify, compact=compact)
    assert fast == plain
    assert stats["off"] == 0
    if plain[0]:
        assert stats["hits"] > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(panel_strategy(max_results=5), min_size=1, max_size=4), st.booleans())
def test_hl7_token_path_generated_byte_identical(panels: list[Panel], compact: bool) -> None:
    text = to_hl7v2(panels + panels)
    plain, fast, stats = _raw_and_plain(text * 3, compact=compact)
    assert fast == plain
    assert stats["off"] == 0


def test_hl7_token_path_guard_turns_itself_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the token path to make a record's identifiers or place differently from the
    reader, the run-time check would catch it: the output stays the reader's."""
    from guttests._readers.hl7v2 import RawPanel

    real = RawPanel.identifier

    def wrong(self: RawPanel, i: int) -> Any:
        found = real(self, i)
        return None if found is None else (found[0] + "-x", found[1], found[2])

    monkeypatch.setattr(RawPanel, "identifier", wrong)
    text = (FIXTURES / "hl7v2" / "stool_comprehensive.hl7").read_text(encoding="utf-8")
    plain, fast, stats = _raw_and_plain(text * 3)
    assert fast == plain
    assert stats["off"] == 1


def test_hl7_token_path_counts_and_limit() -> None:
    """The token path counts results as the reader does, and stops at ``max_results``."""
    from guttests._errors import LimitExceededError
    from guttests._readers import iter_batch_parts

    text = (FIXTURES / "hl7v2" / "stool_comprehensive.hl7").read_text(encoding="utf-8")
    n = sum(len(p.results) for p in _read(text, "hl7v2"))
    parts = list(iter_batch_parts(io.StringIO(text, newline=""), "hl7v2", max_results=n))
    assert sum(len(p.rows) for _, p in parts) == n  # type: ignore[union-attr]
    with pytest.raises(LimitExceededError):
        list(iter_batch_parts(io.StringIO(text, newline=""), "hl7v2", max_results=n - 1))


# --- shapes shared across patients -------------------------------------------------------


def _panels_of_patients(rng: Any) -> list[Panel]:
    """The same four results (one value) under patients of other sexes and birth dates."""
    from datetime import date

    def result(i: int) -> Result:
        return Result(
            name="Calprotectin",
            value_text="75",
            value=parse_value("75"),
            unit="ug/g",
            lab_range=rng,
            lab_range_text="0-50",
            provenance=Provenance(source="a.hl7", location=f"OBX {i}", format="hl7v2"),
        )

    patients = [
        PatientContext(
            patient_id=f"P{k}",
            sex=("female", "male")[k % 2],
            birth_date=date(1950 + 10 * k, 1 + k, 1),
        )
        for k in range(4)
    ]
    return [Panel(patient=p, results=tuple(result(i) for i in range(2))) for p in patients]


def test_a_plain_lab_range_shares_templates_across_patients() -> None:
    """The lab's own range applies whoever the patient is: its results share one shape
    (and its templates) across patients of any sex and age, and the output stays the
    plain path's."""
    rng = parse_range_text("0-50", unit="ug/g")
    engine = batch._engine(batch._resolve_default(), None, batch.DEFAULT_POLICY)
    assert engine.patient_free(rng)
    stats: dict[str, int] = {}
    plain, fast = _both(_panels_of_patients(rng), stats=stats)
    assert fast == plain
    # 8 results of one value: the first two build the shape and the template, the other
    # six (under three other patients) are filled from it
    assert stats["hits"] == 6


def test_a_range_restricted_by_sex_keeps_the_patient_in_the_key() -> None:
    """A lab range for one sex is compared only for that sex: results under a patient of
    the other sex are not interpretable. Their shapes keep the patient in the key."""
    from guttests._models import Applicability

    rng = parse_range_text("0-50", unit="ug/g")
    female = rng.model_copy(update={"applies_to": Applicability(sex="female")})
    engine = batch._engine(batch._resolve_default(), None, batch.DEFAULT_POLICY)
    assert not engine.patient_free(female)
    assert not engine.patient_free(None)
    plain, fast = _both(_panels_of_patients(female))
    assert fast == plain
    statuses = [json.loads(line)["status"] for line in plain[0].splitlines()]
    assert "interpreted" in statuses
    assert "not_interpretable" in statuses


def test_an_optimal_catalogue_keeps_the_patient_in_the_key() -> None:
    """Optimal ranges may be chosen by sex or age: with an optimal catalogue no shape
    leaves the patient out."""
    rng = parse_range_text("0-50", unit="ug/g")
    default = batch._resolve_default()
    engine = batch._engine(default, default, batch.DEFAULT_POLICY)
    assert not engine.patient_free(rng)


def test_records_before_a_failing_input_are_written() -> None:
    """Records go out in chunks; when the input fails half-way, the records of the panels
    read before it are still written (as when each panel was written at once), and whole
    lines only."""
    panels = _read(FIXTURES / "hl7v2" / "food_igg.hl7")
    assert panels

    def failing() -> Any:
        yield from panels
        raise GuttestsError("the input broke off")

    out = io.BytesIO()
    with pytest.raises(GuttestsError, match="broke off"):
        write_records(failing(), out)
    written = out.getvalue()
    expected = io.BytesIO()
    write_records_plain(panels, expected)
    assert written == expected.getvalue()
    assert written.endswith(b"\n")


# --- memory on values that never repeat ----------------------------------------------------


def test_values_remembered_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values that never repeat (every result a new number under one shape) are forgotten
    beyond the limit: what the writer remembers stays bounded however long the input, and
    the output stays the plain path's, repeats included."""
    monkeypatch.setattr(batch, "_VALUE_LIMIT", 8)
    rng = parse_range_text("0-50", unit="ug/g")
    texts = [f"{v}.5" for v in range(40)] * 3  # each value three times, far apart

    def result(i: int, text: str) -> Result:
        return Result(
            name="Calprotectin",
            value_text=text,
            value=parse_value(text),
            unit="ug/g",
            lab_range=rng,
            lab_range_text="0-50",
            provenance=Provenance(source="a.hl7", location=f"OBX {i}", format="hl7v2"),
        )

    panels = [Panel(results=(result(i, t),)) for i, t in enumerate(texts)]
    remembered: list[int] = []
    record = batch._Writer.record

    def watched(self: Any, *args: Any, **kwargs: Any) -> bytes:
        line = record(self, *args, **kwargs)
        remembered.append(sum(len(s.values) for s in self.shapes.values()))
        return line

    monkeypatch.setattr(batch._Writer, "record", watched)
    plain, fast = _both(panels)
    assert fast == plain
    assert len(remembered) == len(texts)  # no template hit: nothing repeats within 8 values
    assert max(remembered) <= 8


# --- orders of other collection times ------------------------------------------------------


def _timed_panels() -> list[Panel]:
    """Orders of one analyte at other collection times (each order of a feed has its own),
    some results with a time of their own, the lab's plain range: shapes leave the time out."""
    from datetime import UTC, datetime

    rng = parse_range_text("0-50", unit="ug/g")

    def result(i: int, own: datetime | None) -> Result:
        return Result(
            name="Calprotectin",
            value_text=("75", "12")[i % 2],
            value=parse_value(("75", "12")[i % 2]),
            unit="ug/g",
            lab_range=rng,
            lab_range_text="0-50",
            collected=own,
            provenance=Provenance(source="a.hl7", location=f"OBX {i}", format="hl7v2"),
        )

    panels = []
    for k in range(6):
        when = datetime(2024, 3, 1 + k, 7, 30, tzinfo=UTC)
        own = datetime(2024, 3, 1 + k, 9, 0, tzinfo=UTC) if k % 3 == 0 else None
        panels.append(
            Panel(
                patient=PatientContext(patient_id=f"P{k}", sex=("female", "male")[k % 2]),
                collected=when,
                results=tuple(result(i, own if i == 0 else None) for i in range(4)),
            )
        )
    return panels


def test_orders_of_other_times_share_shapes_and_templates() -> None:
    """Results interpreted alike for every patient share their shape and templates across
    orders of other collection times: each record still says its own time."""
    stats: dict[str, int] = {}
    plain, fast = _both(_timed_panels(), stats=stats)
    assert fast == plain
    assert stats["off"] == 0
    # 24 results of two values: two sightings of each build its template, the rest fill it
    assert stats["hits"] == 20
    times = [json.loads(line)["collected"] for line in plain[0].splitlines()]
    assert len(set(times)) == 8  # six orders' times and two results' own


def test_run_time_guard_catches_a_record_that_depends_on_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a record field (other than ``collected``) to depend on the collection time, the
    run-time check would catch it: the key leaves the time out only where nothing but that
    field may depend on it."""
    real = batch.result_record

    def timed(interp: Any, *, panel: Any = None, **kw: Any) -> dict[str, Any]:
        rec = real(interp, panel=panel, **kw)
        rec["notes"] = [*rec["notes"], f"ordered {panel.collected}" if panel else ""]
        return rec

    monkeypatch.setattr(batch, "result_record", timed)
    stats: dict[str, int] = {}
    plain, fast = _both(_timed_panels(), stats=stats)
    assert fast == plain
    assert stats["off"] == 1


def test_hl7_token_path_shares_shapes_across_order_times() -> None:
    """HL7 v2 messages of other order times (OBR-7) and observation times (OBX-14): the
    reader's OBX shapes leave both out, the records are the plain path's, with their own
    times, and templates answer repeats across messages."""
    text = (FIXTURES / "hl7v2" / "stool_comprehensive.hl7").read_text(encoding="utf-8")
    messages = []
    for day in range(1, 7):
        msg = text.replace("20240301", f"202403{day:02d}")
        assert msg != text or day == 1
        messages.append(msg)
    plain, fast, stats = _raw_and_plain("".join(messages))
    assert fast == plain
    assert stats["off"] == 0
    assert stats["hits"] > 0
    times = {json.loads(line)["collected"] for line in plain[0].splitlines()}
    assert len(times) >= 6
