"""Peak memory of ``guttests batch`` on one FHIR Bundle of many Observations (issue 17 §2).

Goal: a Bundle of 1M Observations through ``guttests batch`` in at most 150 MB peak RSS.
The Bundle is written to a temporary file, one line, as an EHR export writes it: per
patient a Patient, a DiagnosticReport naming its Observations, then the Observations
(10 per report, numeric with a lab range). ``guttests batch`` runs as a whole process
with its output to a pipe that is drained and discarded; the peak RSS is the child's
``ru_maxrss`` (``wait4``), the same figure ``/usr/bin/time -v`` reports as "Maximum
resident set size".

Run from the repository root::

    python benchmarks/bench_fhir_stream.py                 # 10k, 100k and 1M Observations
    python benchmarks/bench_fhir_stream.py --sizes 10000   # one size

For other benchmarks, :func:`measure` returns the figures of one size.

Measured on the shared 2-core machine (peak RSS; wall time depends on the other load):

============  =========  ===========  ================================
Observations  bundle MB  peak RSS MB  before (whole Bundle in memory)
============  =========  ===========  ================================
10,000        4.9        52           96 MB
100,000       48.6       63           323 MB at 50,000
1,000,000     486        77           (not run: grows ~6 MB per 1,000)
============  =========  ===========  ================================
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

GOAL_MB = 150.0
PER_REPORT = 10
_ANALYTES = (
    ("Calprotectin", "ug/g", 0, 50),
    ("Zonulin", "ng/mL", 0, 48),
    ("Elastase-1", "ug/g", 200, 500),
    ("Secretory IgA", "mg/dL", 51, 204),
    ("Lactoferrin", "ug/mL", 0, 7.24),
)


def write_bundle(out: IO[str], observations: int) -> None:
    """A collection Bundle with ``observations`` Observations, streamed to ``out``."""
    out.write('{"resourceType": "Bundle", "type": "collection", "entry": [')
    first = True
    for p in range(0, observations, PER_REPORT):
        n = min(PER_REPORT, observations - p)
        pid = f"urn:uuid:00000000-0000-4000-8000-{p:012d}"
        entries: list[dict[str, Any]] = [
            {
                "fullUrl": pid,
                "resource": {
                    "resourceType": "Patient",
                    "gender": "female" if p % 20 else "male",
                    "birthDate": "1980-04-02",
                },
            },
            {
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"text": "Stool panel"},
                    "subject": {"reference": pid},
                    "effectiveDateTime": "2024-05-01",
                    "result": [
                        {"reference": f"urn:uuid:00000000-0000-4000-9000-{p + k:012d}"}
                        for k in range(n)
                    ],
                },
            },
        ]
        for k in range(n):
            name, unit, low, high = _ANALYTES[(p + k) % len(_ANALYTES)]
            entries.append(
                {
                    "fullUrl": f"urn:uuid:00000000-0000-4000-9000-{p + k:012d}",
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"text": name},
                        "subject": {"reference": pid},
                        "valueQuantity": {
                            "value": round(low + (p + k) % 97 * 1.25, 2),
                            "unit": unit,
                        },
                        "referenceRange": [
                            {
                                "low": {"value": low, "unit": unit},
                                "high": {"value": high, "unit": unit},
                            }
                        ],
                    },
                }
            )
        for entry in entries:
            out.write(("" if first else ",") + json.dumps(entry))
            first = False
    out.write("]}\n")


def measure(observations: int, workdir: Path | None = None) -> dict[str, float]:
    """Peak RSS (MB), wall and CPU seconds of ``guttests batch`` on a Bundle of that size."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / f"bundle-{observations}.json"
        with path.open("w", encoding="utf-8") as f:
            write_bundle(f, observations)
        cmd = [sys.executable, "-m", "guttests", "batch", str(path), "-o", "-", "--quiet"]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        lines = 0
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            lines += chunk.count(b"\n")
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"guttests batch failed: {stderr}")
        if lines != observations:
            raise RuntimeError(f"{lines} records for {observations} Observations")
        return {
            "observations": float(observations),
            "bundle_mb": path.stat().st_size / 1e6,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    print(f"{'Observations':>12} {'bundle MB':>10} {'peak RSS MB':>12} {'wall s':>8} {'CPU s':>8}")
    worst = 0.0
    for size in (int(s) for s in args.sizes.split(",")):
        m = measure(size)
        worst = max(worst, m["peak_rss_mb"])
        print(
            f"{size:>12,} {m['bundle_mb']:>10.1f} {m['peak_rss_mb']:>12.1f} "
            f"{m['wall_s']:>8.1f} {m['cpu_s']:>8.1f}"
        )
    print(f"goal: peak RSS <= {GOAL_MB:.0f} MB: {'met' if worst <= GOAL_MB else 'NOT met'}")


if __name__ == "__main__":
    main()
