"""The FHIR reader alone: CPU microseconds per Observation on NDJSON (median of repeats).

    python benchmarks/bench_fhir_reader.py [--n 20000] [--repeats 3] [--times one|order|line]
        [--profile]

Writes ``n`` Observations from :func:`inputs.fhir_observations` as ``benchmarks/run.py``
``fhir_process`` does (orjson, one per line), then reads the file with
``guttests._readers.iter_panels(path, "fhir")`` once per repeat, each in a fresh process
after its imports (cold caches, as in ``guttests batch``), and prints the median CPU time
per Observation. ``--profile`` prints a cProfile of one read instead. ``--times`` sets the
collection times: ``one`` for every line (as ``fhir_process``, the default), ``order`` one per
patient's 40 results (as an export of orders), ``line`` one per line.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))

import inputs

from guttests._readers import iter_panels


def read_all(path: Path) -> int:
    n = 0
    for panel in iter_panels(path, "fhir", max_bytes=None, max_results=None):
        n += len(panel.results)
    return n


def _with_times(records: list[dict[str, object]], times: str) -> list[dict[str, object]]:
    """The records with the collection times ``--times`` asks for."""
    if times == "one":
        return records
    start = datetime.datetime(2024, 3, 11, 8, 15)
    for n, r in enumerate(records):
        minutes = 17 * (n // 40) if times == "order" else 7 * n
        when = start + datetime.timedelta(minutes=minutes)
        r["effectiveDateTime"] = when.strftime("%Y-%m-%dT%H:%M:00+01:00")
    return records


def _child(path: Path) -> None:
    t0 = time.process_time()
    n = read_all(path)
    print(time.process_time() - t0, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--times", choices=["one", "order", "line"], default="one")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        src = Path(tmp) / "in.ndjson"
        with src.open("wb") as f:
            for r in _with_times(inputs.fhir_observations(args.n), args.times):
                f.write(orjson.dumps(r) + b"\n")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            read_all(src)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            return
        times = []
        for _ in range(args.repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(src)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            assert int(out[1]) == args.n, out
            times.append(float(out[0]))
        per = statistics.median(times) / args.n * 1e6
        print(
            f"FHIR reader: {per:.1f} us/Observation (median of {args.repeats}, n={args.n}, "
            f"times: {args.times})"
        )


if __name__ == "__main__":
    main()
