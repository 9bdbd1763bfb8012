"""The FHIR reader alone: microseconds per Observation on NDJSON (medians of repeats).

    python benchmarks/bench_fhir_reader.py [--n 20000] [--repeats 3] [--profile]

Writes ``n`` Observations from :func:`inputs.fhir_observations` as ``benchmarks/run.py``
``fhir_process`` does (orjson, one per line), then reads the file with
``guttests._readers.iter_panels(path, "fhir")`` and prints the per-Observation CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guttests-bench-") as tmp:
        src = Path(tmp) / "in.ndjson"
        with src.open("wb") as f:
            for r in inputs.fhir_observations(args.n):
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
            t0 = time.process_time()
            got = read_all(src)
            times.append(time.process_time() - t0)
            assert got == args.n, got
        per = statistics.median(times) / args.n * 1e6
        print(f"FHIR reader: {per:.1f} us/Observation (median of {args.repeats}, n={args.n})")


if __name__ == "__main__":
    main()
