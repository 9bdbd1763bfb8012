"""Interpret Parquet datasets and Dask frames on a Dask cluster (public home).

Needs the ``dask`` extra (``pip install 'guttests[dask]'``); see docs/distributed.md.
:func:`interpret_parquet` reads a Parquet file or directory, interprets every row with
:func:`guttests.dataframe.interpret_frame` on the workers and writes a complete Parquet
directory (atomically) with a manifest; :func:`interpret_dask` gives the lazy Dask frame.
A failed job raises :class:`DaskJobError`; the call returns a :class:`ParquetSummary`.
"""

from __future__ import annotations

from ._dask import MANIFEST, DaskJobError, ParquetSummary, interpret_dask, interpret_parquet
from .dataframe import FrameError, MissingDependencyError

__all__ = [
    "MANIFEST",
    "DaskJobError",
    "FrameError",
    "MissingDependencyError",
    "ParquetSummary",
    "interpret_dask",
    "interpret_parquet",
]
