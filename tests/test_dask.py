"""Dask over Parquet: the same rows as one process, the catalogue sent once, no partial output."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402
import dask  # noqa: E402

from guttests import Catalogue  # noqa: E402
from guttests._dask import write_atomically  # noqa: E402 - an internal helper under test
from guttests.dask import (  # noqa: E402
    MANIFEST,
    DaskJobError,
    interpret_dask,
    interpret_parquet,
)
from guttests.dataframe import FrameError, interpret_frame  # noqa: E402

# dask's Parquet writer calls reset_index(inplace=True), which pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

# Workers unpickle the test-only partition functions below by value: they need not import
# this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

_ROWS = [
    # name, value choices, units, range
    (
        "Calprotectin, Feces",
        ["12.5", "48", "50.1", "130", "<10", "??", "-3"],
        ["ug/g", "mg/kg"],
        "",
    ),
    ("Pancreatic Elastase 1", ["80", "150", "450", ">500"], ["ug/g"], ""),
    ("Zonulin", ["31.2", "61.0", "Positive"], ["ng/mL", "furlongs"], "<48.0"),
    ("Giardia", ["Not Detected", "Detected", "Rare"], [""], "Not Detected"),
    ("Mystery marker", ["12", "13.5"], ["mg/L"], ""),
    ("Secretory IgA", ["400", "1200", "2500"], ["ug/g", ""], "510-2010"),
]


def make_dataset(directory: Path, rows: int = 1200, partitions: int = 4, seed: int = 3) -> Path:
    """A Parquet dataset of ``partitions`` files of a lab export, with rows nobody can interpret."""
    rnd = random.Random(seed)
    data = []
    for i in range(rows):
        name, values, units, rng = rnd.choice(_ROWS)
        data.append(
            {
                "Patient ID": f"P{i // 12:04d}",
                "Sex": rnd.choice(["F", "M", ""]),
                "Age": rnd.choice(["45", "3 mo", "", "12"]),
                "Collected": "2024-03-01",
                "Test": name,
                "Result": rnd.choice(values),
                "Units": rnd.choice(units),
                "Reference Range": rng,
                "Status": rnd.choice(["F", "F", "F", "X"]),
            }
        )
    df = pd.DataFrame(data).replace({"": None})
    directory.mkdir(parents=True, exist_ok=True)
    size = -(-rows // partitions)
    for p in range(partitions):
        df.iloc[p * size : (p + 1) * size].to_parquet(directory / f"part.{p}.parquet", index=False)
    return directory


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """Two worker processes of one thread; a task may be lost with its worker once."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("dask") / "input")


def _single_process(src: Path, **kw: object) -> pd.DataFrame:
    return interpret_frame(pd.read_parquet(src), **kw)  # type: ignore[arg-type]


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, rows and values; text dtypes may differ (Dask reads pd.NA, pandas NaN)."""

    def normal(df: pd.DataFrame) -> pd.DataFrame:
        df = df.reset_index(drop=True).astype(object)
        return df.where(df.notna(), None)

    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(normal(got), normal(want))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_dask_output_equals_the_single_process_path(
    client: distributed.Client, dataset: Path, tmp_path: Path
) -> None:
    """Two worker processes write exactly the rows one process computes, in order."""
    client.wait_for_workers(2, timeout=60)
    out_dir = tmp_path / "out"
    summary = interpret_parquet(dataset, out_dir, client=client)
    got = pd.read_parquet(out_dir)
    want = _single_process(dataset)
    assert_same_rows(got, want)
    assert summary.rows == len(want) == 1200
    assert summary.partitions == 4
    assert summary.interpreted == int((want["status"] == "interpreted").sum())
    assert summary.not_interpretable > 0
    assert want.loc[want["status"] == "not_interpretable", "reason"].notna().all()
    assert summary.catalogue_hash == Catalogue.default().content_hash
    assert (out_dir / MANIFEST).is_file()
    assert _leftovers(tmp_path) == []


def test_catalogue_is_scattered_once_to_each_worker(
    client: distributed.Client, dataset: Path
) -> None:
    """The partition tasks refer to one broadcast catalogue instead of each carrying a copy."""
    client.wait_for_workers(2, timeout=60)
    cat = Catalogue.default()
    out = interpret_dask(dd.read_parquet(dataset), client=client, catalogue=cat)
    # A worker restarted by an earlier test may still be joining: allow it a moment.
    deadline = time.monotonic() + 20
    cat_keys: list[object] = []
    while not cat_keys and time.monotonic() < deadline:
        cat_keys = [k for k, v in client.who_has().items() if len(v) == 2]
        if not cat_keys:
            time.sleep(0.2)
    assert cat_keys, "the catalogue is held by both workers"
    assert len(out.compute()) == 1200


def test_catalogue_pickles_small_and_fast() -> None:
    """What the scatter ships: the catalogue pickles to tens of kB in milliseconds."""
    cat = Catalogue.default()
    t0 = time.perf_counter()
    blob = pickle.dumps(cat)
    again = pickle.loads(blob)
    assert time.perf_counter() - t0 < 0.5
    assert len(blob) < 500_000
    assert again == cat
    assert again.resolve("Faecal calprotectin") == cat.resolve("Faecal calprotectin")


def test_in_process_run_and_existing_output(dataset: Path, tmp_path: Path) -> None:
    """workers=0 runs in this process; an existing output is refused unless overwrite is set."""
    out_dir = tmp_path / "out"
    first = interpret_parquet(dataset, out_dir, workers=0)
    with pytest.raises(FrameError, match="already exists"):
        interpret_parquet(dataset, out_dir, workers=0)
    second = interpret_parquet(dataset, out_dir, workers=0, overwrite=True)
    assert (first.rows, first.interpreted) == (second.rows, second.interpreted)
    assert_same_rows(pd.read_parquet(out_dir), _single_process(dataset))
    assert _leftovers(tmp_path) == []


def test_missing_input_is_an_input_error(tmp_path: Path) -> None:
    """A dataset path that does not exist is reported before any work starts."""
    from guttests import InputError

    with pytest.raises(InputError, match="no such Parquet"):
        interpret_parquet(tmp_path / "nope", tmp_path / "out", workers=0)


# --- lost workers (run last: they kill worker processes of the shared cluster) ----------------


def _kill_once(pdf: pd.DataFrame, marker: str) -> pd.DataFrame:
    """Kill this worker process the first time a partition with the marker row arrives."""
    if (pdf["Test"] == "KILL-WORKER").any() and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(17)
    return pdf


def _kill_always(pdf: pd.DataFrame) -> pd.DataFrame:
    """Kill every worker process that gets the partition holding the marker row."""
    if (pdf["Test"] == "KILL-WORKER").any():
        os._exit(17)
    return pdf


def _with_marker(tmp_path: Path) -> Path:
    src = make_dataset(tmp_path / "input", rows=400, partitions=4)
    part = src / "part.2.parquet"
    df = pd.read_parquet(part)
    df.loc[df.index[5], "Test"] = "KILL-WORKER"
    df.to_parquet(part, index=False)
    return src


def test_worker_killed_once_is_retried_and_output_is_complete(
    client: distributed.Client, tmp_path: Path
) -> None:
    """A worker lost mid-run: its task runs again elsewhere and the output is whole."""
    client.wait_for_workers(2, timeout=60)
    src = _with_marker(tmp_path)
    ddf = dd.read_parquet(src)
    marker = str(tmp_path / "killed")
    frame = interpret_dask(ddf.map_partitions(_kill_once, marker, meta=ddf._meta), client=client)
    out_dir = tmp_path / "out"
    with dask.config.set(scheduler=client):
        counts = write_atomically(frame, out_dir, status_column="status")
    assert Path(marker).exists(), "a worker was killed"
    assert sum(counts.values()) == 400
    assert_same_rows(pd.read_parquet(out_dir), _single_process(src))


def test_worker_killed_every_time_fails_loudly_without_output(
    client: distributed.Client, tmp_path: Path
) -> None:
    """A partition that kills every worker it reaches fails the job; no output appears."""
    client.wait_for_workers(1, timeout=60)
    src = _with_marker(tmp_path)
    ddf = dd.read_parquet(src)
    frame = interpret_dask(ddf.map_partitions(_kill_always, meta=ddf._meta), client=client)
    out_dir = tmp_path / "out"
    with (
        dask.config.set(scheduler=client),
        pytest.raises(DaskJobError, match="the Dask job failed"),
    ):
        write_atomically(frame, out_dir, status_column="status")
    assert not out_dir.exists()
    assert _leftovers(tmp_path) == []


# --- optional dependency ------------------------------------------------------------------------


def test_missing_dask_gives_an_install_hint() -> None:
    """Without dask, importing guttests.dask raises an ImportError naming the extra."""
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "try:\n"
        "    import guttests.dask as gd\n"
        "    gd.interpret_parquet('in', 'out')\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("MissingDependencyError")
    assert "pip install 'guttests[dask]'" in proc.stdout
