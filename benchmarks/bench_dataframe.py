"""Results per second: the columnar batch API and Dask, against the per-result loop.

Run: ``python benchmarks/bench_dataframe.py [rows] [--skip-dask]`` (default 200000 rows).
Prints the figures and writes them to ``benchmarks/results/bench_dataframe-<rows>.json``.

* ``loop: interpret per row``: ``interpret(result, context)`` on Results already built (the
  single-result path alone, measured on a slice and reported per second);
* ``loop: CSV reader + interpret``: the CSV text of the same rows read with the CSV reader and
  each result interpreted (today's ``guttests batch`` without the JSON writing);
* ``interpret_frame (pandas)``: the columnar API on the whole frame, one process;
* ``parquet -> parquet, one process``: read the dataset, ``interpret_frame``, write it;
* ``dask, N workers``: ``interpret_parquet`` on a local cluster of N worker processes
  (one thread each); cluster start-up is timed apart from the job. The job runs twice:
  ``cold`` (workers import guttests, build the unit registry, receive the catalogue) and
  ``warm`` (the same workers again).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from guttests import Catalogue, interpret
from guttests._readers.csv import read_csv
from guttests.dataframe import interpret_frame, interpret_parquet

RESULTS = Path(__file__).resolve().parent / "results"

# name, LOINC, unit choices, value maker, lab range choices, specimen
_ANALYTES: list[tuple[str, str, tuple[str, ...], str, tuple[str, ...], str]] = [
    ("Calprotectin, Feces", "38445-3", ("ug/g", "ug/g", "mg/kg"), "calp", ("<=50", ""), "Stool"),
    ("Pancreatic Elastase 1", "25907-7", ("ug/g",), "ela", (">200", ""), "Stool"),
    ("Secretory IgA", "", ("ug/g",), "siga", ("510-2010",), "Stool"),
    ("Zonulin", "", ("ng/mL",), "zon", ("<48.0", ""), "Serum"),
    ("Beta-glucuronidase", "", ("U/mL",), "bglu", ("368-6266",), "Stool"),
    ("Giardia lamblia (PCR)", "", ("",), "qual", ("Not Detected",), "Stool"),
    ("Bacteroides fragilis (qPCR)", "", ("CFU/g",), "qpcr", ("1.6e9-2.5e11",), "Stool"),
    ("Occult blood", "29771-3", ("",), "fit", ("Negative",), "Stool"),
    ("Stool pH", "", ("",), "ph", ("6.0-7.2",), "Stool"),
    ("Wheat IgG4", "", ("ug/mL",), "igg4", ("<2.00",), "Serum"),
    ("Mystery marker", "", ("mg/L",), "zon", ("",), "Serum"),
]


def _values(kind: str, rnd: np.random.Generator, n: int) -> list[str]:
    if kind == "calp":
        x = rnd.lognormal(3.8, 0.9, n)
        out = [f"{v:.1f}" for v in x]
        for i in np.flatnonzero(rnd.random(n) < 0.05):
            out[i] = "<10"
        return out
    if kind == "ela":
        return [str(int(v)) if v < 500 else ">500" for v in rnd.uniform(30, 700, n)]
    if kind == "siga":
        return [f"{v:.0f}" for v in rnd.uniform(300, 3000, n)]
    if kind == "zon":
        return [f"{v:.1f}" for v in rnd.uniform(15, 95, n)]
    if kind == "bglu":
        return [f"{v:.0f}" for v in rnd.uniform(200, 7000, n)]
    if kind == "qual":
        return list(np.where(rnd.random(n) < 0.03, "Detected", "Not Detected"))
    if kind == "qpcr":
        mantissa, exponent = rnd.uniform(1, 9.9, n), rnd.integers(8, 12, n)
        return [f"{m:.1f}e{e}" for m, e in zip(mantissa, exponent, strict=True)]
    if kind == "fit":
        return list(np.where(rnd.random(n) < 0.05, "Pos", "Neg"))
    if kind == "ph":
        return [f"{v:.1f}" for v in rnd.uniform(5.5, 8.0, n)]
    if kind == "igg4":
        return [f"{v:.2f}" if v >= 0.15 else "<0.15" for v in rnd.exponential(1.2, n)]
    raise ValueError(kind)


def make_frame(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` rows of a lab portal export: panels of about 20 results per patient visit."""
    rnd = np.random.default_rng(seed)
    a = rnd.integers(0, len(_ANALYTES), n)
    visit = np.arange(n) // 20
    n_visits = int(visit[-1]) + 1 if n else 0
    sex = rnd.choice(np.array(["F", "M"], dtype=object), n_visits)
    birth_year = rnd.integers(1940, 2020, n_visits)
    month = rnd.integers(1, 13, n_visits)
    birth = np.array([f"{y}-{m:02d}-15" for y, m in zip(birth_year, month, strict=True)])
    day = rnd.integers(1, 29, n_visits)
    collected = np.array([f"2024-03-{d:02d}" for d in day], dtype=object)
    cols: dict[str, list[Any]] = {k: [None] * n for k in ("Test", "LOINC", "Result", "Units")}
    cols |= {k: [None] * n for k in ("Reference Range", "Specimen")}
    for k, (name, loinc, units, kind, ranges, specimen) in enumerate(_ANALYTES):
        rows = np.flatnonzero(a == k)
        vals = _values(kind, rnd, len(rows))
        u = rnd.choice(np.array(units, dtype=object), len(rows))
        r = rnd.choice(np.array(ranges, dtype=object), len(rows))
        for j, i in enumerate(rows.tolist()):
            cols["Test"][i] = name
            cols["LOINC"][i] = loinc or None
            cols["Result"][i] = vals[j]
            cols["Units"][i] = u[j] or None
            cols["Reference Range"][i] = r[j] or None
            cols["Specimen"][i] = specimen
    junk = np.flatnonzero(rnd.random(n) < 0.005)
    for i in junk.tolist():
        cols["Result"][i] = "see note"
    return pd.DataFrame(
        {
            "Patient ID": [f"NDL-{v:06d}" for v in visit],
            "Sex": sex[visit],
            "DOB": birth[visit],
            "Collected": collected[visit],
            **{k: pd.Series(v, dtype=object) for k, v in cols.items()},
            "Status": "F",
        }
    )


def _csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(df.columns))
    for row in df.itertuples(index=False):
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), "200000"))
    skip_dask = "--skip-dask" in argv
    cat = Catalogue.default()
    figures: dict[str, Any] = {
        "rows": n,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
    }

    t0 = time.perf_counter()
    df = make_frame(n)
    figures["generate_s"] = time.perf_counter() - t0

    # the per-result loop, on a slice (it is the slow path)
    k = min(n, 20000)
    text = _csv_text(df.iloc[:k])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        panels = read_csv(text, source="bench.csv")
        items = [(r, p.patient, p.collected) for p in panels for r in p.results]
        t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r, patient, when in items:
        interpret(r, patient, catalogue=cat, collected=when)
    t_interp = time.perf_counter() - t0
    figures["loop_interpret_per_row_rps"] = _rate(k, t_interp)
    figures["loop_csv_reader_plus_interpret_rps"] = _rate(k, t_read + t_interp)

    interpret_frame(df.iloc[:100], catalogue=cat)  # warm caches as the loop did
    t0 = time.perf_counter()
    out = interpret_frame(df, catalogue=cat)
    t_frame = time.perf_counter() - t0
    figures["interpret_frame_rps"] = _rate(n, t_frame)
    figures["interpret_frame_s"] = t_frame
    counts = out["status"].value_counts().to_dict()
    figures["status_counts"] = {str(key): int(v) for key, v in counts.items()}

    work = Path(tempfile.mkdtemp(prefix="guttests-bench-"))
    try:
        src = work / "in"
        src.mkdir()
        parts = 8
        for i, chunk in enumerate(np.array_split(np.arange(n), parts)):
            df.iloc[chunk].to_parquet(src / f"part.{i}.parquet", index=False)
        t0 = time.perf_counter()
        single = interpret_frame(pd.read_parquet(src), catalogue=cat)
        single.to_parquet(work / "single.parquet", index=False)
        figures["parquet_single_process_rps"] = _rate(n, time.perf_counter() - t0)

        if not skip_dask:
            from distributed import Client, LocalCluster

            for workers in (1, 2):
                t0 = time.perf_counter()
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
                client = Client(cluster)
                t_start = time.perf_counter() - t0
                try:
                    runs = []
                    for attempt in ("cold", "warm"):
                        t0 = time.perf_counter()
                        summary = interpret_parquet(
                            src, work / f"dask{workers}-{attempt}", client=client, catalogue=cat
                        )
                        runs.append(time.perf_counter() - t0)
                finally:
                    client.close()
                    cluster.close()
                figures[f"dask_{workers}_workers_rps"] = _rate(n, runs[0])
                figures[f"dask_{workers}_workers_job_s"] = runs[0]
                figures[f"dask_{workers}_workers_warm_rps"] = _rate(n, runs[1])
                figures[f"dask_{workers}_workers_cluster_start_s"] = t_start
                assert summary.rows == n
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(key) for key in figures)
    for key, value in figures.items():
        shown = f"{value:,.0f}" if isinstance(value, float) and value > 100 else value
        if isinstance(value, float) and value <= 100:
            shown = f"{value:.3f}"
        print(f"{key:<{width}}  {shown}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench_dataframe-{n}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
