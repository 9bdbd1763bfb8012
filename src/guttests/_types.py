"""Named types shared across guttests: enums and literals at the edges."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = [
    "Evidence",
    "Family",
    "InterpretationCode",
    "RangeCategory",
    "ResultStatus",
    "Sex",
    "Specimen",
    "ValueKind",
]

Sex = Literal["female", "male"]
"""Sex as reference ranges use it. Other or unknown sex is ``None`` on the panel."""


class Specimen(StrEnum):
    """Specimen a result or range applies to."""

    SERUM = "serum"
    PLASMA = "plasma"
    BLOOD = "blood"
    STOOL = "stool"
    URINE = "urine"
    SALIVA = "saliva"
    OTHER = "other"


class Family(StrEnum):
    """Families of gut-health panels."""

    PERMEABILITY = "permeability"
    STOOL = "stool"
    FOOD_SENSITIVITY = "food_sensitivity"
    OTHER = "other"


class ValueKind(StrEnum):
    """How an analyte is reported."""

    QUANTITATIVE = "quantitative"
    ORDINAL = "ordinal"
    QUALITATIVE = "qualitative"


class Evidence(StrEnum):
    """What kind of source a range rests on, shown beside the range in every report."""

    LABORATORY = "laboratory"
    """A clinical laboratory's published reference interval for its own assay."""
    MANUFACTURER = "manufacturer"
    """An assay manufacturer's insert."""
    GUIDELINE = "guideline"
    """A professional society's guideline or position paper."""
    MULTI_STUDY = "multi-study"
    """A systematic review or several concordant studies."""
    SINGLE_STUDY = "single-study"
    """One published study (provisional: not yet confirmed by others)."""

    @property
    def label(self) -> str:
        """As reports print it: 'laboratory reference interval', 'single study'."""
        return _EVIDENCE_LABELS[self]


_EVIDENCE_LABELS = {
    Evidence.LABORATORY: "laboratory reference interval",
    Evidence.MANUFACTURER: "assay manufacturer",
    Evidence.GUIDELINE: "professional guideline",
    Evidence.MULTI_STUDY: "several studies",
    Evidence.SINGLE_STUDY: "single study",
}


class RangeCategory(StrEnum):
    """What a range is for (after FHIR ObservationDefinition.qualifiedInterval.category)."""

    REFERENCE = "reference"
    OPTIMAL = "optimal"
    CRITICAL = "critical"
    ABSOLUTE = "absolute"


class ResultStatus(StrEnum):
    """Status of one result (FHIR ObservationStatus; HL7 OBX-11 is mapped onto it)."""

    REGISTERED = "registered"
    PRELIMINARY = "preliminary"
    FINAL = "final"
    AMENDED = "amended"
    CORRECTED = "corrected"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"
    UNKNOWN = "unknown"

    @property
    def interpretable(self) -> bool:
        """Whether a result with this status is interpreted at all."""
        return self not in (
            ResultStatus.CANCELLED,
            ResultStatus.ENTERED_IN_ERROR,
            ResultStatus.REGISTERED,
        )


class InterpretationCode(StrEnum):
    """Codes of the HL7 v3 ObservationInterpretation code system used by guttests.

    System: ``http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation``.
    """

    NORMAL = "N"
    LOW = "L"
    HIGH = "H"
    CRITICAL_LOW = "LL"
    CRITICAL_HIGH = "HH"
    ABNORMAL = "A"
    POSITIVE = "POS"
    NEGATIVE = "NEG"
    DETECTED = "DET"
    NOT_DETECTED = "ND"
    INDETERMINATE = "IND"
    EQUIVOCAL = "E"

    @property
    def display(self) -> str:
        """The code system's display text."""
        return _DISPLAY[self]

    @property
    def outside_reference(self) -> bool:
        """True for codes that mean 'outside the reference range / not the expected result'."""
        return self in _OUTSIDE


INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

_DISPLAY = {
    InterpretationCode.NORMAL: "Normal",
    InterpretationCode.LOW: "Low",
    InterpretationCode.HIGH: "High",
    InterpretationCode.CRITICAL_LOW: "Critical low",
    InterpretationCode.CRITICAL_HIGH: "Critical high",
    InterpretationCode.ABNORMAL: "Abnormal",
    InterpretationCode.POSITIVE: "Positive",
    InterpretationCode.NEGATIVE: "Negative",
    InterpretationCode.DETECTED: "Detected",
    InterpretationCode.NOT_DETECTED: "Not detected",
    InterpretationCode.INDETERMINATE: "Indeterminate",
    InterpretationCode.EQUIVOCAL: "Equivocal",
}

_OUTSIDE = frozenset(
    {
        InterpretationCode.LOW,
        InterpretationCode.HIGH,
        InterpretationCode.CRITICAL_LOW,
        InterpretationCode.CRITICAL_HIGH,
        InterpretationCode.ABNORMAL,
        InterpretationCode.POSITIVE,
        InterpretationCode.DETECTED,
    }
)
