"""guttests: typed interpretation of gut-health lab results.

Read lab panels (HL7 v2, FHIR R4, CSV, JSON), compare each result with a
cited reference range that carries units, and write neutral reports.

>>> import guttests
>>> from guttests import Provenance, Result, interpret, parse_value
>>> r = Result(name="Calprotectin, Feces", value_text="182", value=parse_value("182"),
...            unit="ug/g", provenance=Provenance(location="line 2"))
>>> interpret(r, catalogue=None).reason
"analyte 'Calprotectin, Feces' is not in the catalogue and the lab gave no reference range"
"""

import sys as _sys
from typing import TYPE_CHECKING

from ._errors import (
    CatalogueError,
    ContextError,
    CSVError,
    FHIRError,
    FormatError,
    GuttestsError,
    GuttestsWarning,
    HL7Error,
    InputError,
    LimitExceededError,
    RangeError,
    ReportError,
    UnitError,
    ValueParseError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._catalogue import Catalogue, load_optimal, range_file_schema, validate_range_files
    from ._interpret import RangePolicy, interpret, interpret_panel, interpret_panels
    from ._models import (
        Age,
        Analyte,
        Applicability,
        Band,
        CalendarAge,
        Caveat,
        Citation,
        Coding,
        Identifier,
        Interpretation,
        OptimalAssessment,
        Panel,
        PatientContext,
        Position,
        Provenance,
        ReferenceRange,
        Result,
    )
    from ._range_text import parse_range_text
    from ._readers import ReadItem, detect_format, iter_panels, iter_results, read
    from ._readers.csv import CsvMapping
    from ._readers.jsonio import dump_panels
    from ._reports import Report, build_report, render, report_schema, result_record
    from ._types import (
        Evidence,
        Family,
        InterpretationCode,
        RangeCategory,
        ResultStatus,
        Specimen,
        ValueKind,
    )
    from ._units import Unit, convert, parse_unit
    from ._values import CensoredValue, OrdinalValue, QualitativeValue, QuantityValue, parse_value

# Public names and the module that defines each, imported on first use (PEP 562), so that
# ``import guttests`` and the ``guttests`` command load only what they use: ``batch`` never
# loads the report writers, the CSV and JSON readers, or lark for the units it knows.
_LAZY: dict[str, str] = {
    "Catalogue": "._catalogue",
    "load_optimal": "._catalogue",
    "range_file_schema": "._catalogue",
    "validate_range_files": "._catalogue",
    "RangePolicy": "._interpret",
    "interpret": "._interpret",
    "interpret_panel": "._interpret",
    "interpret_panels": "._interpret",
    "Age": "._models",
    "Analyte": "._models",
    "Applicability": "._models",
    "Band": "._models",
    "CalendarAge": "._models",
    "Caveat": "._models",
    "Citation": "._models",
    "Coding": "._models",
    "Identifier": "._models",
    "Interpretation": "._models",
    "OptimalAssessment": "._models",
    "Panel": "._models",
    "PatientContext": "._models",
    "Position": "._models",
    "Provenance": "._models",
    "ReferenceRange": "._models",
    "Result": "._models",
    "parse_range_text": "._range_text",
    "ReadItem": "._readers",
    "detect_format": "._readers",
    "iter_panels": "._readers",
    "iter_results": "._readers",
    "read": "._readers",
    "CsvMapping": "._readers.csv",
    "dump_panels": "._readers.jsonio",
    "Report": "._reports",
    "build_report": "._reports",
    "render": "._reports",
    "report_schema": "._reports",
    "result_record": "._reports",
    "Evidence": "._types",
    "Family": "._types",
    "InterpretationCode": "._types",
    "RangeCategory": "._types",
    "ResultStatus": "._types",
    "Specimen": "._types",
    "ValueKind": "._types",
    "Unit": "._units",
    "convert": "._units",
    "parse_unit": "._units",
    "CensoredValue": "._values",
    "OrdinalValue": "._values",
    "QualitativeValue": "._values",
    "QuantityValue": "._values",
    "parse_value": "._values",
}


if not TYPE_CHECKING:  # for type checkers every public name is imported above

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib import import_module

        value: object = getattr(import_module(module, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "hypothesis" in _sys.modules:
    # st.from_type for the models: registered lazily, here when hypothesis came first
    # (the hypothesis entry point does it when guttests came first)
    from ._hypothesis_plugin import register as _register_strategies

    _register_strategies()

__all__ = [
    "Age",
    "Analyte",
    "Applicability",
    "Band",
    "CSVError",
    "CalendarAge",
    "Catalogue",
    "CatalogueError",
    "Caveat",
    "CensoredValue",
    "Citation",
    "Coding",
    "ContextError",
    "CsvMapping",
    "Evidence",
    "FHIRError",
    "Family",
    "FormatError",
    "GuttestsError",
    "GuttestsWarning",
    "HL7Error",
    "Identifier",
    "InputError",
    "Interpretation",
    "InterpretationCode",
    "LimitExceededError",
    "OptimalAssessment",
    "OrdinalValue",
    "Panel",
    "PatientContext",
    "Position",
    "Provenance",
    "QualitativeValue",
    "QuantityValue",
    "RangeCategory",
    "RangeError",
    "RangePolicy",
    "ReadItem",
    "ReferenceRange",
    "Report",
    "ReportError",
    "Result",
    "ResultStatus",
    "Specimen",
    "Unit",
    "UnitError",
    "ValueKind",
    "ValueParseError",
    "__version__",
    "build_report",
    "convert",
    "detect_format",
    "dump_panels",
    "interpret",
    "interpret_panel",
    "interpret_panels",
    "iter_panels",
    "iter_results",
    "load_optimal",
    "parse_range_text",
    "parse_unit",
    "parse_value",
    "range_file_schema",
    "read",
    "render",
    "report_schema",
    "result_record",
    "validate_range_files",
]
