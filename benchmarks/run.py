"""guttests benchmark suite: each figure beside a baseline measured in the same run.

Run from the repository root::

    python benchmarks/run.py            # full: about 5-10 minutes on 2 cores
    python benchmarks/run.py --quick    # about 2-3 minutes: smaller inputs, 200k instead of 1M
    python benchmarks/run.py --only hl7,fhir

Rows (see docs/performance.md for the goals):

* ``hl7``: HL7 v2 ORU^R01 (20 OBX per message) read + interpreted + one JSON record per
  result (``result_record`` serialised with orjson, as ``guttests batch`` writes it),
  against ``hl7.parse`` of the same messages and nothing else;
* ``fhir``: the same pipeline on FHIR R4 NDJSON Observations, against
  ``fhir.resources`` R4B ``Observation.model_validate`` alone (on dicts parsed beforehand);
* ``interpret``: already-read numeric results with unit conversion, against a naive loop
  creating a pint Quantity and calling ``.to()`` per result;
* ``cold_start``: ``python -m guttests report --example --format text`` in a fresh
  process, against ``python -c "import pint; pint.UnitRegistry()"``;
* ``batch_rss`` and ``growth``: ``python -m guttests batch`` on 10k, 100k and 1M
  results (200k with ``--quick``): peak RSS of the process, and CPU time per result of
  the same pipeline run in this process.

Issue 17 (second round), whole processes where users run processes:

* ``hl7_process``: ``python -m guttests batch in.hl7 -o out.ndjson -q`` on 40k OBX (10k
  with ``--quick``) against a process running ``hl7.parse`` on every message of the same
  file; goal >= 4x. CPU time (``wait4``), medians of interleaved pairs;
* ``hl7_process_times``: the same with each message its own collection time (OBR-7 and
  OBX-14), as in a real feed (the first row's messages all share one);
* ``fhir_process``: the same on 20k FHIR NDJSON Observations (4k) against a process
  validating each line with ``fhir.resources`` R4B; goal >= 10x;
* ``compact``: bytes per result written by ``batch --compact`` (records + ranges file)
  against the full records;
* ``serial``: the report in every format for one patient with 10k serial results of one
  analyte (2k with ``--quick``) against 10k results over 10 analytes; goal < 1.5x;
* ``dask``: ``batch --engine dask`` with 0 (in-process), 1 and 2 local workers at several
  sizes: fixed cost and per-row cost (least squares over best-of-2 wall times) and the
  row count above which 2 workers beat the in-process path;
* ``fhir_stream``: runs ``benchmarks/bench_fhir_stream.py`` (peak RSS of a FHIR Bundle
  through ``batch``), when that script is present;
* ``csv_stream``: peak RSS of ``python -m guttests batch`` on a CSV export without patient
  columns (one panel of 1M rows; 100k with ``--quick``): goal <= 150 MB;
* ``ndjson_stream``: the same on 1M FHIR NDJSON Observations (100k) whose values seldom
  repeat (what the writer remembers of values must stay bounded): goal <= 150 MB.

Each timed run of guttests starts with its per-value caches empty (parsed values and
units), as a fresh process would: otherwise repeats over one input find every value
parsed already. Timing: the CPU time of the process doing the work (``time.process_time`` in this
process, ``wait4`` rusage for child processes), best of several repeats, ours and the
baseline's interleaved, so that other load on a shared machine weighs on both alike.
Wall-clock times are recorded too. Inputs come from a seeded generator
(``benchmarks/inputs.py``). A JSON record of the run goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import inputs  # noqa: E402  (benchmarks/inputs.py, next to this file)

PYTHON = sys.executable
ROWS = (
    "interpret",
    "hl7",
    "fhir",
    "hl7_process",
    "hl7_process_times",
    "fhir_process",
    "compact",
    "serial",
    "dask",
    "fhir_stream",
    "csv_stream",
    "ndjson_stream",
    "cold_start",
    "batch",
)


# --- measuring ------------------------------------------------------------------------------


def best_of(runs: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[float, int]]:
    """CPU seconds (best of ``repeats``, interleaved) and the count each run returned."""
    best: dict[str, tuple[float, int]] = {name: (float("inf"), 0) for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.process_time()
            count = fn()
            elapsed = time.process_time() - start
            if elapsed < best[name][0]:
                best[name] = (elapsed, count)
    return best


# Runs ``python -m guttests ARGS`` and reports the peak RSS of that process since exec. The
# rusage of a child (ru_maxrss) would include the moments after fork, when the child is a
# copy of this process, which holds the inputs of the other rows.
_PEAK_RSS = """
import atexit, runpy, sys
def _peak():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    sys.stderr.write("PEAK_RSS_KB " + line.split()[1] + "\\n")
    except OSError:
        pass
atexit.register(_peak)
sys.argv = ["guttests", *sys.argv[1:]]
runpy.run_module("guttests", run_name="__main__", alter_sys=True)
"""


class Child:
    """A finished child process: wall and CPU seconds, peak RSS, exit status, stderr."""

    def __init__(self, argv: list[str], stdout: IO[bytes] | int = subprocess.DEVNULL) -> None:
        start = time.perf_counter()
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdout=stdout, stderr=err)
            _pid, status, usage = os.wait4(proc.pid, 0)
            self.wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            self.stderr = err.read().decode("utf-8", "replace")
        self.returncode = proc.returncode
        self.cpu = usage.ru_utime + usage.ru_stime
        self.max_rss_mb = usage.ru_maxrss / 1024  # KiB on Linux; includes the fork's copy
        for line in self.stderr.splitlines():
            if line.startswith("PEAK_RSS_KB "):
                self.max_rss_mb = int(line.split()[1]) / 1024


class Sink(io.RawIOBase):
    """A binary output that counts bytes and keeps none."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.count += len(b)
        return len(b)


def reset_value_caches() -> None:
    """Empty guttests' per-value caches (parsed values, units, names), as in a fresh process.

    Repeated runs over one input would otherwise find every value already parsed: a hit
    rate no real batch has, and one that depends on the input's size. Whatever is built
    once per process (the unit table, the shipped catalogue) is kept.
    """
    for name, module in list(sys.modules.items()):
        if name.startswith("guttests"):
            for obj in list(vars(module).values()):
                if (
                    isinstance(obj, functools._lru_cache_wrapper)
                    and (obj.cache_parameters()["maxsize"] or 0) > 1
                ):
                    obj.cache_clear()


def pipeline(source: Any, fmt: str, out: IO[bytes] | Sink) -> int:
    """Read, interpret and write one JSON line per result: what ``guttests batch`` does."""
    import orjson

    from guttests._catalogue import Catalogue
    from guttests._interpret import interpret_panel
    from guttests._readers import iter_panels
    from guttests._reports import result_record

    catalogue = Catalogue.default()
    dumps = orjson.dumps
    total = 0
    panels = iter_panels(source, fmt, max_bytes=None, max_results=None)  # type: ignore[arg-type]
    for index, panel in enumerate(panels):
        lines = [
            dumps(result_record(interp, panel=panel, panel_index=index))
            for interp in interpret_panel(panel, catalogue=catalogue)
        ]
        if lines:
            out.write(b"\n".join(lines) + b"\n")
        total += len(lines)
    return total


# --- rows ---------------------------------------------------------------------------------


def row(
    name: str,
    what: str,
    unit: str,
    ours: float | None,
    baseline: float | None,
    goal: str,
    met: bool | None,
    **extra: Any,
) -> dict[str, Any]:
    ratio = ours / baseline if ours is not None and baseline else None
    return {
        "row": name,
        "what": what,
        "unit": unit,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio,
        "goal": goal,
        "met": met,
        **extra,
    }


def bench_interpret(quick: bool) -> list[dict[str, Any]]:
    import pint

    from guttests._catalogue import Catalogue
    from guttests._interpret import interpret_panel
    from guttests._models import Age, Panel, PatientContext, Provenance, Result
    from guttests._range_text import parse_range_text
    from guttests._values import parse_value

    n = 20_000 if quick else 100_000
    rows = inputs.numeric_rows(n)
    ureg: pint.UnitRegistry[Any] = pint.UnitRegistry()
    catalogue = Catalogue.default()
    patient = PatientContext(sex="female", age=Age(value=42))
    results = [
        Result(
            name=name,
            value_text=str(value),
            value=parse_value(str(value)),
            unit=unit,
            lab_range=parse_range_text(text, unit=rng_unit) if text else None,
            lab_range_text=text,
            provenance=Provenance(location=f"row {i + 2}"),
        )
        for i, (name, unit, value, text, rng_unit) in enumerate(rows)
    ]
    panels = [Panel(patient=patient, results=tuple(results[i : i + 20])) for i in range(0, n, 20)]
    naive_n = n // 10  # the naive loop is slow: a tenth of the results is plenty

    def naive() -> int:
        out = [ureg.Quantity(v, u).to(to).magnitude for _, u, v, _, to in rows[:naive_n]]
        return len(out)

    def ours() -> int:
        count = 0
        for panel in panels:
            count += len(interpret_panel(panel, catalogue=catalogue))
        return count

    # Correctness of what is timed: every result interpreted, against the expected range.
    interps = [i for p in panels[:5] for i in interpret_panel(p, catalogue=catalogue)]
    assert all(i.interpreted for i in interps), [i.reason for i in interps if not i.interpreted]
    ours()  # warm: units parsed, catalogue indexes and range choices cached
    naive()
    t = best_of({"naive": naive, "ours": ours}, repeats=3 if quick else 5)
    naive_rate = t["naive"][1] / t["naive"][0]
    our_rate = t["ours"][1] / t["ours"][0]
    return [
        row(
            "interpret",
            f"interpret {n:,} read numeric results with unit conversion (catalogue and lab "
            "ranges), one process",
            "results/s",
            our_rate,
            naive_rate,
            ">= 20x and >= 200,000 results/s",
            our_rate / naive_rate >= 20 and our_rate >= 200_000,
            baseline_name="pint Quantity(v, unit).to(range unit) per result",
            results=n,
        )
    ]


def bench_hl7(quick: bool) -> list[dict[str, Any]]:
    import hl7  # type: ignore[import-untyped]

    n = 500 if quick else 2500
    messages = inputs.hl7_messages(n)
    text = "".join(messages)
    obx = 20 * n

    def baseline() -> int:
        for m in messages:
            hl7.parse(m)
        return obx

    def ours() -> int:
        reset_value_caches()
        return pipeline(io.StringIO(text, newline=""), "hl7v2", Sink())

    assert ours() == obx
    t = best_of({"hl7.parse": baseline, "ours": ours}, repeats=3 if quick else 5)
    base, mine = obx / t["hl7.parse"][0], obx / t["ours"][0]
    return [
        row(
            "hl7",
            f"HL7 v2 ORU^R01, {n:,} messages x 20 OBX: read + interpret + JSON out",
            "OBX/s",
            mine,
            base,
            ">= 2x",
            mine / base >= 2,
            baseline_name="hl7.parse of the same messages",
            input_mb=len(text) / 1e6,
        )
    ]


def bench_fhir(quick: bool) -> list[dict[str, Any]]:
    import orjson
    from fhir.resources.R4B.observation import Observation

    n = 2000 if quick else 10_000
    resources = inputs.fhir_observations(n)
    ndjson = "".join(orjson.dumps(r).decode() + "\n" for r in resources)
    dicts = [orjson.loads(line) for line in ndjson.splitlines()]

    def baseline() -> int:
        return len([Observation.model_validate(d) for d in dicts])

    def ours() -> int:
        reset_value_caches()
        return pipeline(io.StringIO(ndjson), "fhir", Sink())

    assert ours() == n
    t = best_of({"fhir.resources": baseline, "ours": ours}, repeats=3 if quick else 5)
    base, mine = n / t["fhir.resources"][0], n / t["ours"][0]
    return [
        row(
            "fhir",
            f"FHIR R4 NDJSON, {n:,} Observations: read + interpret + JSON out",
            "resources/s",
            mine,
            base,
            ">= 10x",
            mine / base >= 10,
            baseline_name="fhir.resources R4B Observation.model_validate alone",
        )
    ]


def _cli_note(child: Child) -> str:
    lines = [line for line in child.stderr.strip().splitlines() if line.strip()]
    return f"exit {child.returncode}: {lines[-1] if lines else '(no message)'}"


def bench_cold_start(quick: bool) -> list[dict[str, Any]]:
    ours_argv = [PYTHON, "-m", "guttests", "report", "--example", "--format", "text"]
    base_argv = [PYTHON, "-c", "import pint; pint.UnitRegistry()"]
    probe = Child(ours_argv)
    if probe.returncode != 0:
        return [skipped("cold_start", "guttests report --example --format text", _cli_note(probe))]
    wall = {"ours": float("inf"), "pint": float("inf")}
    cpu = dict(wall)
    for _ in range(3 if quick else 7):
        for name, argv in (("ours", ours_argv), ("pint", base_argv)):
            child = Child(argv)
            wall[name] = min(wall[name], child.wall)
            cpu[name] = min(cpu[name], child.cpu)
    return [
        row(
            "cold_start",
            "guttests report --example --format text, fresh process (best wall time)",
            "s",
            wall["ours"],
            wall["pint"],
            "<= 1.0x",
            wall["ours"] <= wall["pint"],
            baseline_name='python -c "import pint; pint.UnitRegistry()"',
            cpu_ours=cpu["ours"],
            cpu_baseline=cpu["pint"],
            cpu_ratio=cpu["ours"] / cpu["pint"],
        )
    ]


def skipped(name: str, what: str, note: str) -> dict[str, Any]:
    return row(name, what, "", None, None, "", None, skipped=note)


def _write_hl7(path: Path, results: int, *, times: bool = False) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        for chunk in inputs.iter_hl7_chunks(results, times=times):
            f.write(chunk)


def bench_batch(quick: bool, sizes: Iterable[int] | None = None) -> list[dict[str, Any]]:
    sizes = list(sizes or ((10_000, 100_000, 200_000) if quick else (10_000, 100_000, 1_000_000)))
    out: list[dict[str, Any]] = []
    rss: dict[int, float] = {}
    cli_note: str | None = None
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        files = {size: Path(tmp) / f"in-{size}.hl7" for size in sizes}
        for size, path in files.items():
            _write_hl7(path, size)
        # peak RSS: the real command, a fresh process per size
        for size, src in files.items():
            dst = Path(tmp) / "out.ndjson"
            child = Child([PYTHON, "-c", _PEAK_RSS, "batch", str(src), "-o", str(dst), "-q"])
            if child.returncode != 0:
                cli_note = _cli_note(child)
                break
            with dst.open("rb") as f:
                lines = sum(1 for _ in f)
            assert lines == size, (lines, size)
            dst.unlink()
            rss[size] = child.max_rss_mb
            out.append(
                row(
                    f"batch_rss_{size}",
                    f"guttests batch, {size:,} HL7 results: peak RSS",
                    "MB",
                    child.max_rss_mb,
                    None,
                    "<= 150 MB",
                    child.max_rss_mb <= 150,
                    cpu_s=child.cpu,
                    wall_s=child.wall,
                )
            )
        # growth: the same pipeline in this process, CPU time per result, sizes interleaved,
        # best of the same number of rounds for every size (a best of more runs is lower)
        with files[sizes[0]].open(encoding="utf-8", newline="") as f:
            pipeline(f, "hl7v2", Sink())  # warm: imports, catalogue, unit table, caches
        per_result: dict[int, float] = {size: float("inf") for size in sizes}
        for _ in range(2):
            for size, src in files.items():
                reset_value_caches()
                start = time.process_time()
                with src.open(encoding="utf-8", newline="") as f:
                    got = pipeline(f, "hl7v2", Sink())
                per_result[size] = min(per_result[size], (time.process_time() - start) / size)
                assert got == size, (got, size)
    if cli_note is not None:
        out.append(skipped("batch_rss", "guttests batch: peak RSS", cli_note))
    if len(rss) > 1:
        # the smallest size is left out: caches (bounded) fill up during the first 100k
        steady = {s: v for s, v in rss.items() if s >= 100_000}
        if len(steady) < 2:
            steady = rss
        lo, hi = min(steady.values()), max(steady.values())
        out.append(
            row(
                "batch_rss_constant",
                "peak RSS, largest / smallest over "
                + ", ".join(f"{s:,}" for s in steady)
                + " results",
                "x",
                hi / lo,
                None,
                "constant in input size (<= 1.2x)",
                hi / lo <= 1.2,
                rss_mb={str(s): v for s, v in rss.items()},
            )
        )
    first = per_result[sizes[0]]
    worst = max(abs(v / first - 1) for v in per_result.values())
    out.append(
        row(
            "growth",
            "CPU time per result, HL7 read + interpret + JSON, at "
            + ", ".join(f"{s:,}" for s in sizes)
            + " results (largest deviation from the smallest size)",
            "us/result",
            per_result[sizes[-1]] * 1e6,
            first * 1e6,
            "linear: within +-20 %",
            worst <= 0.2,
            us_per_result={str(s): v * 1e6 for s, v in per_result.items()},
            deviation=worst,
        )
    )
    return out


# --- issue 17: whole processes, compact output, serial results, Dask, FHIR streaming -------


def _compile_bytecode() -> None:
    """Write the bytecode of guttests and of the baselines' packages, as an install does.

    This machine may set PYTHONDONTWRITEBYTECODE; an editable install then recompiles
    guttests' sources in every process (about 0.1 s), which no installed copy does.
    """
    import importlib.util

    dirs = []
    for name in ("guttests", "hl7", "fhir.resources"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(spec.submodule_search_locations)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", *dirs], env=env, check=False, capture_output=True
    )


def paired(
    argvs: dict[str, list[str]], repeats: int, stdout: Any = subprocess.DEVNULL
) -> dict[str, dict[str, float]]:
    """Whole processes, run in interleaved pairs (the order alternating each round).

    Medians and spreads (max/min) of CPU seconds (user + system, ``wait4``) and wall seconds.
    """
    import statistics

    cpu: dict[str, list[float]] = {k: [] for k in argvs}
    wall: dict[str, list[float]] = {k: [] for k in argvs}
    names = list(argvs)
    for i in range(repeats):
        for name in names if i % 2 == 0 else names[::-1]:
            child = Child(argvs[name], stdout=stdout)
            if child.returncode != 0:
                raise RuntimeError(f"{name}: {_cli_note(child)}")
            cpu[name].append(child.cpu)
            wall[name].append(child.wall)
    return {
        name: {
            "cpu": statistics.median(cpu[name]),
            "wall": statistics.median(wall[name]),
            "cpu_spread": max(cpu[name]) / min(cpu[name]),
            "wall_min": min(wall[name]),
            "runs": len(cpu[name]),
        }
        for name in names
    }


_HL7_BASELINE = """
import sys, hl7
text = open(sys.argv[1], encoding="utf-8", newline="").read()
for part in text.split("MSH|")[1:]:
    hl7.parse("MSH|" + part)
"""

_FHIR_BASELINE = """
import sys, orjson
from fhir.resources.R4B.observation import Observation
with open(sys.argv[1], "rb") as f:
    for line in f:
        if line.strip():
            Observation.model_validate(orjson.loads(line))
"""


def _process_row(
    name: str,
    what: str,
    goal: float,
    ours: list[str],
    base: list[str],
    base_name: str,
    count: int,
    repeats: int,
) -> dict[str, Any]:
    t = paired({"ours": ours, "baseline": base}, repeats)
    mine, theirs = count / t["ours"]["cpu"], count / t["baseline"]["cpu"]
    return row(
        name,
        what,
        "results/s",
        mine,
        theirs,
        f">= {goal:g}x (CPU time, medians of interleaved pairs)",
        mine / theirs >= goal,
        baseline_name=base_name,
        wall_ratio=t["baseline"]["wall"] / t["ours"]["wall"],
        cpu_s={k: v["cpu"] for k, v in t.items()},
        cpu_spread={k: v["cpu_spread"] for k, v in t.items()},
        pairs=repeats,
    )


def bench_hl7_process(quick: bool, *, times: bool = False) -> list[dict[str, Any]]:
    n = 10_000 if quick else 40_000
    _compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        src = Path(tmp) / "in.hl7"
        _write_hl7(src, n, times=times)
        out = Path(tmp) / "out.ndjson"
        name, what = "hl7_process", f"HL7 v2 batch, {n:,} OBX"
        if times:
            name, what = "hl7_process_times", what + " (each message its own collection time)"
        return [
            _process_row(
                name,
                f"{what}: python -m guttests batch, whole process",
                4,
                [PYTHON, "-m", "guttests", "batch", str(src), "-o", str(out), "-q"],
                [PYTHON, "-c", _HL7_BASELINE, str(src)],
                "hl7.parse of every message, whole process",
                n,
                3 if quick else 5,
            )
        ]


def bench_fhir_process(quick: bool) -> list[dict[str, Any]]:
    import orjson

    n = 4_000 if quick else 20_000
    _compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        src = Path(tmp) / "in.ndjson"
        with src.open("wb") as f:
            for r in inputs.fhir_observations(n):
                f.write(orjson.dumps(r) + b"\n")
        out = Path(tmp) / "out.ndjson"
        return [
            _process_row(
                "fhir_process",
                f"FHIR R4 NDJSON batch, {n:,} Observations: python -m guttests batch, "
                "whole process",
                10,
                [PYTHON, "-m", "guttests", "batch", str(src), "-o", str(out), "-q"],
                [PYTHON, "-c", _FHIR_BASELINE, str(src)],
                "fhir.resources R4B Observation.model_validate per line, whole process",
                n,
                3 if quick else 5,
            )
        ]


def bench_compact(quick: bool) -> list[dict[str, Any]]:
    """Bytes per result: the full records against --compact (records + ranges file)."""
    from guttests._batch import write_records
    from guttests._readers import iter_panels

    n = 10_000 if quick else 40_000
    text = "".join(inputs.iter_hl7_chunks(n))
    sizes = {}
    for name, compact in (("full", False), ("compact", True)):
        out, ranges = Sink(), Sink()
        panels = iter_panels(io.StringIO(text, newline=""), "hl7v2", max_bytes=None)
        got = write_records(panels, out, ranges_out=ranges if compact else None)
        assert got[0] == n
        sizes[name] = (out.count + ranges.count) / n
    return [
        row(
            "compact",
            f"batch output bytes per result, {n:,} HL7 results: --compact (records + "
            "ranges file) against the full records",
            "bytes/result",
            sizes["compact"],
            sizes["full"],
            "smaller than the full records (each distinct range written once)",
            sizes["compact"] < sizes["full"],
            baseline_name="full records (the default)",
        )
    ]


_SERIAL_NAMES = (
    "Calprotectin",
    "Zonulin",
    "Secretory IgA",
    "Lactoferrin",
    "Pancreatic elastase",
    "Beta-glucuronidase",
    "Butyrate",
    "Acetate",
    "Propionate",
    "Lysozyme",
)


def _serial_panels(n: int, analytes: int) -> list[Any]:
    from datetime import date, timedelta

    from guttests._models import Panel, PatientContext, Provenance, Result
    from guttests._range_text import parse_range_text
    from guttests._values import parse_value

    patient = PatientContext(patient_id="P1", sex="female", birth_date=date(1980, 5, 1))
    start = date(1990, 1, 1)
    panels = []
    for i in range(n):
        text = f"{20 + (i * 37) % 300}"
        result = Result(
            name=_SERIAL_NAMES[i % analytes],
            value_text=text,
            value=parse_value(text),
            unit="ug/g",
            lab_range=parse_range_text("0-50", unit="ug/g"),
            lab_range_text="0-50",
            provenance=Provenance(location=f"row {i + 2}"),
        )
        when = start + timedelta(days=i)
        panels.append(Panel(patient=patient, collected=when, results=(result,)))
    return panels


def bench_serial(quick: bool) -> list[dict[str, Any]]:
    """Goal 3: one analyte's n serial results against n results over 10 analytes."""
    from guttests._catalogue import Catalogue
    from guttests._interpret import interpret_panels
    from guttests._reports import FORMATS, build_report, render

    n = 2_000 if quick else 10_000
    catalogue = Catalogue.default()

    def make(analytes: int) -> Callable[[], int]:
        panels = _serial_panels(n, analytes)

        def run() -> int:
            interps = interpret_panels(panels, catalogue=catalogue)
            report = build_report(
                panels, interps, catalogue_hash="0" * 64, version="bench", catalogue=catalogue
            )
            for fmt in FORMATS:
                render(report, fmt)
            return n

        return run

    t = best_of({"10 analytes": make(10), "one analyte": make(1)}, repeats=1 if quick else 2)
    one, ten = t["one analyte"][0], t["10 analytes"][0]
    return [
        row(
            "serial",
            f"report in every format ({', '.join(FORMATS)}): one patient, {n:,} serial "
            "results of one analyte against 10 analytes",
            "s",
            one,
            ten,
            "< 1.5x",
            one / ten < 1.5,
            baseline_name=f"{n:,} results over 10 analytes",
        )
    ]


def _write_parquet(path: Path, rows: int) -> None:
    """The CSV column set as Parquet, rows from the HL7 analytes (numeric and qualitative)."""
    import pandas as pd

    rnd = inputs.random.Random(3)
    names, values, units, ranges, patients = [], [], [], [], []
    for i in range(rows):
        _vt, code, value, unit, rng = inputs.HL7_ANALYTES[i % len(inputs.HL7_ANALYTES)]
        names.append(code.split("^")[1])
        values.append(value.format(v=rnd.uniform(1, 900), i=rnd.randint(0, 9)).replace("^", ""))
        units.append(unit.split("^")[0])
        ranges.append(rng)
        patients.append(f"P{i // 20}")
    frame = pd.DataFrame(
        {
            "Patient ID": patients,
            "Test": names,
            "Result": values,
            "Units": units,
            "Reference Range": ranges,
        }
    )
    path.mkdir(parents=True, exist_ok=True)
    per_part = max(1, rows // 4)
    for k, start in enumerate(range(0, rows, per_part)):
        frame.iloc[start : start + per_part].to_parquet(path / f"part.{k}.parquet", index=False)


def bench_dask(quick: bool) -> list[dict[str, Any]]:
    """Goal 5: fixed cost and per-row cost of --engine dask, in-process and 1 -> 2 workers."""
    try:
        import dask  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        return [skipped("dask", "Dask engine", f"not installed: {exc}")]
    sizes = (20_000, 100_000) if quick else (50_000, 200_000, 500_000)
    workers = (0, 1, 2)
    wall: dict[tuple[int, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        for size in sizes:
            src = Path(tmp) / f"in-{size}"
            _write_parquet(src, size)
            argvs = {
                str(w): [
                    PYTHON,
                    "-m",
                    "guttests",
                    "batch",
                    "--engine",
                    "dask",
                    "--workers",
                    str(w),
                    "--overwrite",
                    "-q",
                    str(src),
                    "-o",
                    str(Path(tmp) / f"out-{size}-{w}"),
                ]
                for w in workers
            }
            t = paired(argvs, 2)
            for w in workers:
                wall[(size, w)] = t[str(w)]["wall_min"]  # best of 2: the least disturbed
    fit: dict[int, tuple[float, float]] = {}
    for w in workers:
        # least squares over the sizes: wall = fixed + per_row * rows
        xs, ys = list(sizes), [wall[(size, w)] for size in sizes]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        per_row = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        fit[w] = (my - per_row * mx, per_row)
    (f0, r0), (f2, r2) = fit[0], fit[2]
    crossover = (f2 - f0) / (r0 - r2) if r0 > r2 and f2 > f0 else None
    return [
        row(
            f"dask_{w}",
            f"--engine dask --workers {w}"
            + (" (in-process, synchronous scheduler)" if w == 0 else " (local cluster)")
            + ": fixed cost (s) and per-row cost (us), wall time fitted over "
            + " and ".join(f"{s:,}" for s in sizes)
            + " rows",
            "s",
            fit[w][0],
            None,
            "",
            None,
            us_per_row=fit[w][1] * 1e6,
            wall_s={str(s): wall[(s, w)] for s in sizes},
        )
        for w in workers
    ] + [
        row(
            "dask_crossover",
            "rows above which 2 local Dask workers beat the in-process path (wall time)",
            "rows",
            crossover,
            None,
            "documented (docs/performance.md); the CLI picks the in-process path below it",
            None,
            note=None if crossover is not None else "2 workers are not faster per row here",
        )
    ]


def bench_fhir_stream(quick: bool) -> list[dict[str, Any]]:
    """Goal 2 (H2's script): peak RSS of batch on one FHIR Bundle, if the script is here."""
    script = HERE / "bench_fhir_stream.py"
    if not script.exists():
        return [skipped("fhir_stream", "FHIR Bundle streaming", f"{script.name} not present")]
    sizes = "100000" if quick else "10000,100000,1000000"
    proc = subprocess.run(
        [PYTHON, str(script), "--sizes", sizes], capture_output=True, text=True, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit {proc.returncode}"
    for line in lines[:-1]:
        print("    " + line)
    return [
        row(
            "fhir_stream",
            f"FHIR Bundle through guttests batch, {sizes} Observations: peak RSS ({script.name})",
            "",
            None,
            None,
            "<= 150 MB peak RSS at 1M Observations (the script's verdict)",
            proc.returncode == 0 and "NOT met" not in last and "met" in last,
            note=last,
        )
    ]


def _write_csv(path: Path, rows: int) -> None:
    """A lab export without patient columns: every row one result of a single panel."""
    numeric = [r for r in inputs.NUMERIC if r[3] is not None]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("Test,Result,Units,Reference Range\n")
        for i in range(rows):
            name, unit, (lo, hi), rng, _ = numeric[i % len(numeric)]
            f.write(f"{name},{lo + (hi - lo) * (i % 997) / 997:.1f},{unit},{rng}\n")


def _stream_row(name: str, what: str, src: Path, n: int) -> dict[str, Any]:
    """Peak RSS of ``python -m guttests batch`` on ``src`` (``n`` results), whole process."""
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        out = Path(tmp) / "out.ndjson"
        child = Child([PYTHON, "-c", _PEAK_RSS, "batch", str(src), "-o", str(out), "-q"])
        if child.returncode != 0:
            raise RuntimeError(f"{name}: {_cli_note(child)}")
        with out.open("rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    if lines != n:
        raise RuntimeError(f"{name}: {lines} records for {n} results")
    mb = src.stat().st_size / 1e6
    return row(
        name,
        f"{what.format(mb=mb)}: python -m guttests batch, peak RSS",
        "MB",
        child.max_rss_mb,
        None,
        "<= 150 MB peak RSS",
        child.max_rss_mb <= 150,
        cpu_s=child.cpu,
    )


def bench_csv_stream(quick: bool) -> list[dict[str, Any]]:
    """Goal 2 for CSV: one panel of many rows (no patient columns) streams through batch."""
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        src = Path(tmp) / "export.csv"
        _write_csv(src, n)
        what = f"CSV without patient columns, {n:,} rows ({{mb:.0f}} MB, one panel)"
        return [_stream_row("csv_stream", what, src, n)]


def bench_ndjson_stream(quick: bool) -> list[dict[str, Any]]:
    """Goal 2 for FHIR NDJSON: lines of values that seldom repeat stream through batch."""
    import random

    import orjson

    n = 100_000 if quick else 1_000_000
    rnd = random.Random(17)
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        src = Path(tmp) / "export.ndjson"
        with src.open("wb") as f:
            for i in range(n):
                f.write(orjson.dumps(inputs.fhir_observation(i, rnd)) + b"\n")
        what = f"FHIR NDJSON, {n:,} Observations ({{mb:.0f}} MB, values seldom repeat)"
        return [_stream_row("ndjson_stream", what, src, n)]


# --- report ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": load,
    }


def _fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    if unit in ("s", "x"):
        return f"{x:.2f}"
    if unit in ("MB", "us/result", "bytes/result"):
        return f"{x:.1f}"
    return f"{x:,.0f}"


def print_rows(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r.get("skipped"):
            print(f"- {r['row']}: SKIPPED ({r['skipped']})")
            continue
        verdict = {True: "met", False: "NOT met", None: ""}[r["met"]]
        line = f"- {r['row']}: {r['what']}\n    ours {_fmt(r['ours'], r['unit'])} {r['unit']}"
        if r["baseline"] is not None:
            line += f"; baseline {_fmt(r['baseline'], r['unit'])} {r['unit']}"
            line += f" ({r.get('baseline_name', 'baseline')})" if "baseline_name" in r else ""
            line += f"; ratio {r['ratio']:.2f}x"
        line += f"; goal {r['goal']}: {verdict}"
        if "cpu_ratio" in r:
            line += (
                f"\n    CPU: ours {r['cpu_ours']:.2f} s, baseline {r['cpu_baseline']:.2f} s, "
                f"ratio {r['cpu_ratio']:.2f}x"
            )
        if "wall_ratio" in r:
            spread = ", ".join(f"{k} {v:.2f}x" for k, v in r["cpu_spread"].items())
            line += (
                f"\n    wall-time ratio {r['wall_ratio']:.2f}x; CPU seconds "
                + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_s"].items())
                + f"; spread (max/min over {r['pairs']} runs): {spread}"
            )
        if "us_per_row" in r:
            line += f"\n    per row {r['us_per_row']:.1f} us; wall s by size: " + ", ".join(
                f"{int(k):,}: {v:.1f}" for k, v in r["wall_s"].items()
            )
        if r.get("note"):
            line += f"\n    note: {r['note']}"
        if "us_per_result" in r:
            line += "\n    per size: " + ", ".join(
                f"{int(k):,}: {v:.1f} us" for k, v in r["us_per_result"].items()
            )
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, 200k not 1M")
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated: {ROWS}")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="JSON record dir")
    args = parser.parse_args(argv)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(only) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; choose from {ROWS}")
    info = machine()
    print(
        f"guttests benchmarks ({'quick' if args.quick else 'full'}): {info['nproc']} CPUs, "
        f"{info['cpu']}, Python {info['python']}, load {info['load_average']}",
        flush=True,
    )
    benches: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
        "interpret": bench_interpret,
        "hl7": bench_hl7,
        "fhir": bench_fhir,
        "hl7_process": bench_hl7_process,
        "hl7_process_times": functools.partial(bench_hl7_process, times=True),
        "fhir_process": bench_fhir_process,
        "compact": bench_compact,
        "serial": bench_serial,
        "dask": bench_dask,
        "fhir_stream": bench_fhir_stream,
        "csv_stream": bench_csv_stream,
        "ndjson_stream": bench_ndjson_stream,
        "cold_start": bench_cold_start,
        "batch": bench_batch,
    }
    rows: list[dict[str, Any]] = []
    for name in only:
        started = time.perf_counter()
        got = benches[name](args.quick)
        print_rows(got)
        print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)
        rows += got
    from guttests import __version__

    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "guttests_version": __version__,
        "machine": info,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}-{record['mode']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
