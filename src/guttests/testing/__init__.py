"""Hypothesis strategies for property-testing code that handles guttests data.

Use them to test your own mapping code (a LIS export, a FHIR feed) against
the invariants guttests keeps: nothing lost, the same result after a round
trip, the same flag in any compatible unit. See ``docs/testing.md``.

>>> from hypothesis import given, settings
>>> from guttests import read
>>> @settings(max_examples=10)
... @given(hl7_messages())
... def test_nothing_lost(sample):
...     read_back = read(sample.text, format="hl7v2")
...     assert sum(len(p.results) for p in read_back) == sample.result_count
>>> test_nothing_lost()

Every strategy produces only valid objects and shrinks toward the simplest
example. With hypothesis' ``from_type``, the library's own models work too::

    st.from_type(ReferenceRange), st.from_type(Result), st.from_type(Panel)

once :func:`register_strategies` has run (installed guttests registers them by itself
through the ``hypothesis`` entry point).

Requires ``hypothesis``: ``pip install 'guttests[testing]'`` (hypothesis only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

try:
    from hypothesis import find  # noqa: F401 - the docstring examples use it
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("guttests.testing needs hypothesis: pip install 'guttests[testing]'") from exc

from .._models import Panel
from ._strategies import (
    ValueForm,
    analytes,
    applicabilities,
    bands,
    catalogues,
    citations,
    collection_times,
    lab_range_texts,
    numbers,
    panels,
    patient_contexts,
    reference_ranges,
    results,
    units,
    value_texts,
    values,
)
from ._writers import to_csv, to_fhir, to_hl7v2, to_json, to_range_toml

__all__ = [
    "Serialised",
    "ValueForm",
    "analytes",
    "applicabilities",
    "bands",
    "catalogues",
    "citations",
    "collection_times",
    "csv_texts",
    "fhir_bundles",
    "hl7_messages",
    "json_documents",
    "lab_range_texts",
    "numbers",
    "panels",
    "patient_contexts",
    "reference_ranges",
    "register_strategies",
    "results",
    "to_csv",
    "to_fhir",
    "to_hl7v2",
    "to_json",
    "to_range_toml",
    "units",
    "value_texts",
    "values",
]

InputFormat = Literal["hl7v2", "fhir", "csv", "json"]


class Serialised(NamedTuple):
    """Generated input: the ``text`` in ``format``, and the ``panels`` it was written from.

    Compare what a reader returns with ``panels`` (provenance apart).

    >>> s = Serialised("", (), "csv")
    >>> s.result_count
    0
    """

    text: str
    panels: tuple[Panel, ...]
    format: InputFormat

    @property
    def result_count(self) -> int:
        """How many results the panels hold: one per observation in ``text``."""
        return sum(len(p.results) for p in self.panels)


def _serialised(
    fmt: InputFormat,
    write: Callable[[Sequence[Panel]], str],
    from_panels: SearchStrategy[Panel] | None,
    max_panels: int,
) -> SearchStrategy[Serialised]:
    def build(ps: list[Panel]) -> Serialised:
        return Serialised(write(ps), tuple(ps), fmt)

    strategy = from_panels if from_panels is not None else panels()
    return st.lists(strategy, min_size=1, max_size=max_panels).map(build)


def hl7_messages(
    from_panels: SearchStrategy[Panel] | None = None, *, max_panels: int = 3
) -> SearchStrategy[Serialised]:
    """HL7 v2 ORU^R01 text (one message per panel) with the panels it was written from.

    ``from_panels`` is the panel strategy (default :func:`panels`); 1 to
    ``max_panels`` panels are written (see :func:`to_hl7v2`).

    >>> sample = find(hl7_messages(panels(max_results=2)), lambda s: s.result_count == 2)
    >>> sample.text.count("OBX|")
    2
    """
    return _serialised("hl7v2", to_hl7v2, from_panels, max_panels)


def fhir_bundles(
    from_panels: SearchStrategy[Panel] | None = None, *, max_panels: int = 3
) -> SearchStrategy[Serialised]:
    """FHIR R4 Bundle JSON with the panels it was written from (see :func:`to_fhir`).

    >>> '"resourceType": "Bundle"' in find(fhir_bundles(), lambda s: True).text
    True
    """
    return _serialised("fhir", to_fhir, from_panels, max_panels)


def csv_texts(
    from_panels: SearchStrategy[Panel] | None = None, *, max_panels: int = 3
) -> SearchStrategy[Serialised]:
    """CSV exports (the CSV reader's default headers) with the panels they were written from.

    Consecutive panels with the same patient, date, lab and name are one panel
    to the reader: compare results, not panel counts.

    >>> find(csv_texts(), lambda s: True).text.startswith("Patient ID,")
    True
    """
    return _serialised("csv", to_csv, from_panels, max_panels)


def json_documents(
    from_panels: SearchStrategy[Panel] | None = None, *, max_panels: int = 3
) -> SearchStrategy[Serialised]:
    """``guttests-results/1`` JSON documents with the panels they were written from.

    >>> '"guttests-results/1"' in find(json_documents(), lambda s: True).text
    True
    """
    return _serialised("json", to_json, from_panels, max_panels)


def register_strategies() -> None:
    """Register strategies for the guttests models with ``st.from_type``.

    Installed guttests does this by itself (the ``hypothesis`` entry point); call it from
    a source tree without the installed entry point. Safe to call again.

    >>> from guttests._models import Panel
    >>> register_strategies()
    >>> isinstance(find(st.from_type(Panel), lambda p: True), Panel)
    True
    """
    import importlib

    from .._strategy_table import STRATEGIES

    here = globals()
    for (module, cls), (name, args) in STRATEGIES.items():
        model = getattr(importlib.import_module(module), cls)
        strategy = bands().flatmap(st.sampled_from) if name == "_band" else here[name](*args)
        st.register_type_strategy(model, strategy)


_hypothesis_setup_hook = register_strategies
"""The former name of :func:`register_strategies`."""


def _resolve_annotations() -> None:
    # hypothesis' strategy decorators evaluate annotations in their own module: resolve them
    # here, so that typing.get_type_hints works on every public strategy.
    import typing

    from . import _strategies

    for name in __all__:
        fn = globals().get(name)
        if not callable(fn) or not isinstance(getattr(fn, "__annotations__", None), dict):
            continue
        try:
            typing.get_type_hints(fn)
        except NameError:
            namespace = {**vars(_strategies), **globals()}
            fn.__annotations__ = typing.get_type_hints(fn, globalns=namespace)


_resolve_annotations()
