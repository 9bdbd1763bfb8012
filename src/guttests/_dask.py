"""Interpreting a Parquet dataset with Dask: one :func:`interpret_frame` call per partition.

The catalogue is sent to every worker once (``Client.scatter(..., broadcast=True)``) and each
partition task refers to it; the output is written to a temporary directory beside the
target and renamed into place only when every partition was written, so a failed job never
leaves output that looks complete.

>>> import tempfile, pathlib, pandas as pd
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"Test": ["Zonulin"], "Result": ["61.2"], "Units": ["ng/mL"],
...               "Reference Range": ["<48.0"]}).to_parquet(tmp / "part.0.parquet")
>>> summary = interpret_parquet(tmp, tmp / "out", workers=0)
>>> summary.rows, summary.interpreted, summary.partitions
(1, 1, 1)
>>> pd.read_parquet(tmp / "out")["interpretation"].tolist()
['H']

``workers=0`` runs in this process (Dask's synchronous scheduler), for small inputs and tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ._catalogue import Catalogue, resolve_catalogue
from ._errors import GuttestsError, InputError
from ._interpret import RangePolicy
from ._readers.csv import CsvMapping
from ._version import __version__
from .dataframe import FrameError, MissingDependencyError, interpret_frame, output_meta

try:
    import dask
    import dask.dataframe as dd
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    from dask.delayed import delayed
    from distributed import Client, LocalCluster
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingDependencyError(
        "interpreting Parquet datasets with Dask needs dask and distributed",
        hint="pip install 'guttests[dask]'",
    ) from _exc

__all__ = [
    "MANIFEST",
    "DaskJobError",
    "ParquetSummary",
    "interpret_dask",
    "interpret_parquet",
    "write_atomically",
]

MANIFEST = "_guttests.json"
"""File written into the output directory: counts, catalogue hash, guttests version."""


class DaskJobError(GuttestsError, RuntimeError):
    """A Dask job that failed (a worker lost, a task error); no output was written."""


class ParquetSummary(BaseModel):
    """What one :func:`interpret_parquet` run did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_dir: str
    output_dir: str
    rows: int
    interpreted: int
    not_interpretable: int
    partitions: int
    catalogue_hash: str
    seconds: float


def _partition(
    pdf: pd.DataFrame,
    catalogue: Catalogue,
    optimal: Catalogue | None,
    policy: RangePolicy | None,
    mapping: CsvMapping | None,
    prefix: str,
) -> pd.DataFrame:
    return interpret_frame(
        pdf, catalogue=catalogue, optimal=optimal, policy=policy, mapping=mapping, prefix=prefix
    )


def interpret_dask(
    ddf: dd.DataFrame,
    *,
    client: Client | None = None,
    catalogue: Catalogue | Literal["default"] | None = "default",
    optimal: Catalogue | None = None,
    policy: RangePolicy | None = None,
    mapping: CsvMapping | None = None,
    prefix: str = "",
) -> dd.DataFrame:
    """The lazy Dask frame of ``ddf`` with the interpretation columns appended.

    With a ``client``, the catalogues are scattered to every worker once; without one
    they travel in the task graph as one shared key.

    >>> import pandas as pd, dask.dataframe as dd
    >>> df = pd.DataFrame({"Test": ["Zonulin", "Calprotectin"], "Result": ["30", "??"]})
    >>> out = interpret_dask(dd.from_pandas(df, npartitions=2))
    >>> out.compute(scheduler="sync")["status"].tolist()
    ['not_interpretable', 'not_interpretable']
    """
    cat = resolve_catalogue(catalogue)
    meta = output_meta(ddf._meta, prefix=prefix)
    cat_ref: Any
    opt_ref: Any
    if client is not None:
        cat_ref = client.scatter(cat, broadcast=True, hash=False)  # type: ignore[no-untyped-call]
        opt_ref = (
            client.scatter(optimal, broadcast=True, hash=False)  # type: ignore[no-untyped-call]
            if optimal
            else None
        )
    else:
        cat_ref = delayed(cat, pure=True)
        opt_ref = delayed(optimal, pure=True) if optimal else None
    out: dd.DataFrame = ddf.map_partitions(  # type: ignore[no-untyped-call]
        _partition, cat_ref, opt_ref, policy, mapping, prefix, meta=meta, align_dataframes=False
    )
    return out


def interpret_parquet(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    client: Client | None = None,
    scheduler: str | None = None,
    catalogue: Catalogue | Literal["default"] | None = "default",
    optimal: Catalogue | None = None,
    policy: RangePolicy | None = None,
    mapping: CsvMapping | None = None,
    prefix: str = "",
    overwrite: bool = False,
) -> ParquetSummary:
    """Read a Parquet dataset, interpret every row, write a Parquet dataset; return counts.

    Where it runs: on ``client`` if given; else on the scheduler at ``scheduler``
    (``"tcp://host:8786"``); else on a local cluster of ``workers`` processes
    (default: one per CPU) started and stopped here; ``workers=0`` runs in this
    process. ``output_dir`` must not exist unless ``overwrite`` is set; it appears
    only when the whole dataset was written.
    """
    started = time.perf_counter()
    src, dst = Path(input_dir), Path(output_dir)
    if not src.exists():
        raise InputError("no such Parquet file or directory", source=str(src))
    if dst.exists() and not overwrite:
        raise FrameError(
            "the output directory already exists",
            source=str(dst),
            hint="choose a new directory, or pass overwrite=True (--overwrite)",
        )
    cat = resolve_catalogue(catalogue)
    try:
        ddf = dd.read_parquet(str(src))
    except Exception as exc:
        raise InputError(f"cannot read the Parquet dataset: {exc}", source=str(src)) from exc
    with _running(client, scheduler, workers) as c:
        out = interpret_dask(
            ddf,
            client=c,
            catalogue=cat,
            optimal=optimal,
            policy=policy,
            mapping=mapping,
            prefix=prefix,
        )
        summaries: list[ParquetSummary] = []

        def manifest(counts: dict[str, int]) -> str:
            interpreted = counts.get("interpreted", 0)
            total = sum(counts.values())
            summaries.append(
                ParquetSummary(
                    input_dir=str(src),
                    output_dir=str(dst),
                    rows=total,
                    interpreted=interpreted,
                    not_interpretable=total - interpreted,
                    partitions=ddf.npartitions,
                    catalogue_hash=cat.content_hash,
                    seconds=time.perf_counter() - started,
                )
            )
            return json.dumps({"guttests": __version__, **summaries[0].model_dump()}, indent=2)

        write_atomically(
            out, dst, status_column=prefix + "status", overwrite=overwrite, manifest=manifest
        )
    return summaries[0]


@contextlib.contextmanager
def _running(
    client: Client | None, scheduler: str | None, workers: int | None
) -> Iterator[Client | None]:
    """The client to run on, and the scheduler Dask's ``compute`` calls use meanwhile."""
    if client is not None:
        with dask.config.set(scheduler=client):
            yield client
        return
    if workers == 0 and scheduler is None:
        with dask.config.set(scheduler="sync"):
            yield None
        return
    try:
        if scheduler is not None:
            owned = Client(scheduler)  # type: ignore[no-untyped-call]
            cluster = None
        else:
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            owned = Client(cluster)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise DaskJobError(f"cannot start or reach the Dask scheduler: {exc}") from exc
    try:
        with dask.config.set(scheduler=owned):
            yield owned
    finally:
        owned.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def _value_counts(column: pd.Series) -> pd.Series:
    return column.value_counts()


def _arrow_types(frame: dd.DataFrame) -> dict[str, Any]:
    """Arrow types of the text columns: Dask cannot infer them from an object ``meta``."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    return {
        str(name): pa.string()
        for name, dtype in frame.dtypes.items()
        if dtype == object  # noqa: E721 - numpy's object dtype compares equal to `object`
    }


def write_atomically(
    frame: dd.DataFrame,
    dst: Path,
    *,
    status_column: str,
    overwrite: bool = False,
    manifest: Callable[[dict[str, int]], str] | None = None,
) -> dict[str, int]:
    """Write ``frame`` as Parquet to ``dst`` through a temporary sibling directory.

    Returns the number of rows per value of ``status_column``; ``manifest`` turns them
    into the text of :data:`MANIFEST`, written before the rename. Any failure removes the
    temporary directory and leaves ``dst`` as it was.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        try:
            frame.to_parquet(  # type: ignore[no-untyped-call]
                str(tmp), write_index=False, schema=_arrow_types(frame)
            )
            written = dd.read_parquet(str(tmp), columns=[status_column])
            per_part = written[status_column].map_partitions(_value_counts).compute()
            counts = {str(k): int(v) for k, v in per_part.groupby(level=0).sum().items()}
        except GuttestsError:
            raise
        except Exception as exc:
            raise DaskJobError(
                f"the Dask job failed; nothing was written ({type(exc).__name__}: {exc})",
                source=str(dst),
            ) from exc
        if manifest is not None:
            (tmp / MANIFEST).write_text(manifest(counts) + "\n", encoding="utf-8")
        if dst.exists() and overwrite:
            old = dst.parent / f".{dst.name}.old-{uuid.uuid4().hex[:12]}"
            os.replace(dst, old)
            os.replace(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
