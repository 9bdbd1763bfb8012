"""Coverage-guided fuzzing of guttests with atheris (libFuzzer), for long local runs.

The hypothesis tests in tests/fuzz run in CI; this harness runs for as long as you let it
and keeps a corpus. A finding is any exception that is not a ``GuttestsError``, or one
input that takes longer than ``--max-seconds`` (default 2).

Usage (see docs/reliability.md)::

    python fuzz/atheris_harness.py TARGET [libFuzzer options]

    TARGET: hl7v2 | fhir | csv | json | detect | ranges | pipeline

    python fuzz/atheris_harness.py hl7v2 -max_total_time=300 -max_len=65536
    python fuzz/atheris_harness.py ranges -max_total_time=300 fuzz/corpus/ranges
    python fuzz/atheris_harness.py ranges --ignore-known ...   # skip reported, open bugs

The seeds are the project's fixtures (tests/fixtures/<format>, reference_ranges); pass a
corpus directory as the last argument to keep what libFuzzer finds. libFuzzer prints the
number of inputs tried ("Done N runs") at the end; a finding stops the run and writes the
input to ``crash-<sha1>`` (reproduce: ``python fuzz/atheris_harness.py TARGET crash-<sha1>``).
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import guttests
    from guttests import Catalogue, GuttestsError, interpret_panels, load_optimal
    from guttests._reports import FORMATS, build_report, render

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("hl7v2", "fhir", "csv", "json", "detect", "ranges", "pipeline")
MAX_SECONDS = 2.0
KNOWN_BUGS_IGNORED = "--ignore-known" in sys.argv
if KNOWN_BUGS_IGNORED:
    sys.argv.remove("--ignore-known")


class SlowInput(Exception):
    """One input took longer than the bound: a hang or a blow-up."""


def _read(data: bytes, fmt: str | None) -> list[guttests.Panel] | None:
    try:
        return guttests.read(data, fmt)  # type: ignore[arg-type]
    except GuttestsError:
        return None


def _pipeline(data: bytes) -> None:
    panels = _read(data, None)
    if not panels:
        return
    catalogue = Catalogue.default()
    groups: dict[str, tuple[list[guttests.Panel], list[tuple[guttests.Interpretation, ...]]]]
    groups = {}
    for panel, interps in zip(panels, interpret_panels(panels, catalogue=catalogue), strict=True):
        entry = groups.setdefault(panel.patient.model_dump_json(), ([], []))
        entry[0].append(panel)
        entry[1].append(interps)
    for ps, its in groups.values():
        report = build_report(ps, its, catalogue_hash=catalogue.content_hash, version="fuzz")
        if len(report.rows) != sum(len(p.results) for p in ps):
            raise AssertionError("report rows differ from results read")
        for fmt in FORMATS:
            render(report, fmt)


def _ranges(data: bytes, path: Path) -> None:
    path.write_bytes(data)
    for load in (lambda: Catalogue.load(path), lambda: load_optimal(path)):
        try:
            load()
        except GuttestsError:
            pass
        except ValueError as exc:
            # Known, reported bug (tests/fuzz/test_fuzz_ranges.py, xfail): tomllib's
            # ValueError for integers of more than 4300 digits is not wrapped yet.
            if not (KNOWN_BUGS_IGNORED and "integer string conversion" in str(exc)):
                raise


def _seeds(target: str) -> list[Path]:
    if target == "ranges":
        dirs = [REPO / "tests" / "fixtures" / "ranges", REPO / "reference_ranges"]
        return sorted(p for d in dirs for p in d.glob("*.toml"))
    formats = ("hl7v2", "fhir", "csv", "json") if target in ("detect", "pipeline") else (target,)
    return sorted(
        p
        for f in formats
        for p in (REPO / "tests" / "fixtures" / f).iterdir()
        if p.is_file() and p.suffix != ".toml"
    )


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options] [corpus]")
    target = sys.argv.pop(1)
    limit = next((a for a in sys.argv if a.startswith("--max-seconds=")), None)
    max_seconds = float(limit.split("=", 1)[1]) if limit else MAX_SECONDS
    if limit:
        sys.argv.remove(limit)
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="guttests-fuzz-")) / "fuzzed.toml"

    # libFuzzer reads seeds from directories and writes new inputs into the first one
    # named: the fixtures come after any corpus directory given.
    seed_dir = Path(tempfile.mkdtemp(prefix=f"guttests-seeds-{target}-"))
    for n, p in enumerate(_seeds(target)):
        (seed_dir / f"{n:03d}-{p.name}").write_bytes(p.read_bytes())
    sys.argv.append(str(seed_dir))

    def one_input(data: bytes) -> None:
        start = time.perf_counter()
        if target == "ranges":
            _ranges(data, tmp)
        elif target == "pipeline":
            _pipeline(data)
        else:
            _read(data, None if target == "detect" else target)
        took = time.perf_counter() - start
        if took > max_seconds:
            raise SlowInput(f"{took:.2f} s for {len(data)} bytes")

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
