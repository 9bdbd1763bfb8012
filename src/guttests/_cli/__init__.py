"""The ``guttests`` command's code (:mod:`guttests.cli` is only the entry point).

One module per command: ``report`` (readable reports), ``batch`` (NDJSON/Parquet in bulk),
``catalogue`` (``ranges`` and ``analytes``), ``docs`` (``docs`` and ``examples``); shared
error handling, options and output-file writing live in ``_common``; ``_context`` fills
patient context from the command line, ``_tables`` and ``_examples`` serve the commands.
Each module imports only click at start-up; readers, engine and renderers are imported by
the command that needs them. Nothing here is public API.
"""

__all__: list[str] = []
