"""`guttests batch --engine dask` through the real entry point (in-process Dask, 0 workers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("dask")

FIXTURE = Path(__file__).parent / "fixtures" / "dataframe" / "portal_export.csv"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guttests", *args], capture_output=True, text=True, check=False
    )


def test_dask_engine_writes_every_row(tmp_path: Path) -> None:
    """Parquet in, Parquet out: one output row per input row, each interpreted or with a reason."""
    frame = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    src = tmp_path / "in"
    src.mkdir()
    frame.to_parquet(src / "part-0.parquet")
    out = tmp_path / "out"
    done = _run("batch", "--engine", "dask", "--workers", "0", str(src), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = pd.read_parquet(out)
    assert len(result) == len(frame)
    statuses = set(result["status"])
    assert statuses <= {"interpreted", "not_interpretable"}
    missing_reason = result[(result["status"] == "not_interpretable") & result["reason"].isna()]
    assert missing_reason.empty


def test_dask_options_need_the_dask_engine(tmp_path: Path) -> None:
    """--workers without --engine dask is a usage error (exit 2), not silently ignored."""
    done = _run("batch", str(FIXTURE), "-o", str(tmp_path / "x.ndjson"), "--workers", "2")
    assert done.returncode == 2
    assert "--engine dask" in done.stderr


def test_auto_engine_runs_small_parquet_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--engine auto (the default): Parquet goes to the Dask engine, in this process below
    the documented crossover; other inputs stream; --workers asks for a cluster."""
    import guttests._batch as batch

    frame = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    src = tmp_path / "in"
    src.mkdir()
    frame.to_parquet(src / "part-0.parquet")
    assert batch.parquet_rows(str(src)) == len(frame)
    assert batch.choose_engine(str(src), None, None) == ("dask", 0)
    assert batch.choose_engine(str(src), 2, None) == ("dask", 2)
    assert batch.choose_engine(str(FIXTURE), None, None) == ("stream", None)
    assert batch.choose_engine("-", None, None) == ("stream", None)
    monkeypatch.setattr(batch, "DASK_MIN_ROWS", 1)
    assert batch.choose_engine(str(src), None, None) == ("dask", None)
    out = tmp_path / "out"
    done = _run("batch", str(src), "-o", str(out))  # no --engine: auto
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(out)) == len(frame)
