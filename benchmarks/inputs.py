"""Seeded generators of benchmark inputs: HL7 v2 ORU^R01, FHIR R4 NDJSON, read results.

Everything is deterministic for a given seed, so two runs time the same work. The shapes
follow real gut-health panels (stool analysis, permeability, food antibodies): the
analytes, units, lab ranges, censored values and qualitative results labs send.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

# (value type, OBX-3, value template, OBX-6, OBX-7)
HL7_ANALYTES = [
    ("NM", "38445-3^Calprotectin, Feces^LN", "{v:.1f}", "ug/g^^UCUM", "<=50.0"),
    ("NM", "25907-7^Pancreatic Elastase 1, Feces^LN", "{v:.0f}", "ug/g", ">200"),
    ("NM", "SIGA^Secretory IgA^L", "{v:.0f}", "ug/g", "510-2010"),
    ("NM", "BGLU^Beta-glucuronidase^L", "{v:.0f}", "U/mL", "368-6266"),
    ("ST", "BACF^Bacteroides fragilis (qPCR)^L", "{v:.1f}e5", "CFU/g", "1.6e9-2.5e11"),
    ("CWE", "GIAR^Giardia lamblia (PCR)^L", "260415000^Not detected^SCT", "", "Not Detected"),
    ("SN", "FIGG-SOY^Soy IgG^L", "<^0.15", "ug/mL", "<2.0"),
    ("NM", "ACET^Acetate, % of total SCFA^L", "{v:.1f}", "%", "47-77"),
    ("NM", "2756-5^pH of Stool^LN", "6.{i}", "[pH]", "6.0-7.2"),
    ("ST", "BLAS^Blastocystis hominis^L", "Not Detected", "", "Not Detected"),
]


def hl7_message(
    m: int, rnd: random.Random, obx_per_message: int = 20, *, times: bool = False
) -> str:
    """One ORU^R01 message (``\\r``-separated segments) with ``obx_per_message`` OBX.

    ``times``: each message its own collection time (OBR-7, OBX-14), as in a real feed;
    else every message has the same one.
    """
    when = "20240301073000+0100"
    if times:
        when = f"202403{1 + m % 28:02d}{m % 24:02d}{m * 7 % 60:02d}00+0100"
    segs = [
        rf"MSH|^~\&|GIPLUS|Northfield Digestive Lab|EHR|Clinic|20240305141522+0100||"
        rf"ORU^R01^ORU_R01|NDL-{m}|P|2.5.1",
        f"PID|1||MRN-{m:06d}^^^HIC^MR||Doe^Pat{m}||1986041{m % 10}|{'FM'[m % 2]}",
        f"OBR|1|ORD-1|NDL-1|GI-CSA^Comprehensive Stool Analysis^L|||{when}",
    ]
    for k in range(1, obx_per_message + 1):
        vt, code, value, unit, rng = HL7_ANALYTES[(k - 1) % len(HL7_ANALYTES)]
        val = value.format(v=rnd.uniform(1, 900), i=rnd.randint(0, 9))
        flag = rnd.choice(["N", "H", "L", ""])
        segs.append(f"OBX|{k}|{vt}|{code}||{val}|{unit}|{rng}|{flag}|||F|||{when}")
    segs.append("SPM|1|||119339001^Stool specimen^SCT^STL^Stool^HL70487")
    return "\r".join(segs) + "\r"


def hl7_messages(n: int, *, obx_per_message: int = 20, seed: int = 1) -> list[str]:
    """``n`` messages of ``obx_per_message`` OBX each."""
    rnd = random.Random(seed)
    return [hl7_message(m, rnd, obx_per_message) for m in range(n)]


def iter_hl7_chunks(
    results: int,
    *,
    obx_per_message: int = 20,
    seed: int = 1,
    per_chunk: int = 500,
    times: bool = False,
) -> Iterator[str]:
    """Text of messages holding ``results`` OBX in all, ``per_chunk`` messages at a time."""
    rnd = random.Random(seed)
    messages = -(-results // obx_per_message)
    for start in range(0, messages, per_chunk):
        yield "".join(
            hl7_message(m, rnd, obx_per_message, times=times)
            for m in range(start, min(start + per_chunk, messages))
        )


# (LOINC or None, name, UCUM code, unit as printed, low, high)
FHIR_ANALYTES = [
    ("38445-3", "Calprotectin, Feces", "ug/g", "µg/g", 0.0, 50.0),
    ("25907-7", "Pancreatic elastase-1, Feces", "ug/g", "µg/g", 200.0, None),
    (None, "Secretory IgA, Feces", "ug/g", "µg/g", 510.0, 2010.0),
    (None, "Zonulin, Serum", "ng/mL", "ng/mL", None, 48.0),
    (None, "Butyrate, Feces", "%", "%", 10.0, 29.0),
    (None, "Cow's milk IgG", "ug/mL", "µg/mL", None, 10.0),
]
_UCUM = "http://unitsofmeasure.org"


def fhir_observation(n: int, rnd: random.Random) -> dict[str, Any]:
    """One lab Observation as an EHR's bulk export writes it."""
    loinc, name, ucum, unit, low, high = FHIR_ANALYTES[n % len(FHIR_ANALYTES)]
    coding = [{"system": "http://example-lab.org/codes", "code": f"L{n % 97}", "display": name}]
    if loinc:
        coding.insert(0, {"system": "http://loinc.org", "code": loinc, "display": name})
    rng: dict[str, Any] = {}
    if low is not None:
        rng["low"] = {"value": low, "unit": unit, "system": _UCUM, "code": ucum}
    if high is not None:
        rng["high"] = {"value": high, "unit": unit, "system": _UCUM, "code": ucum}
    quantity: dict[str, Any] = {
        "value": round(rnd.uniform(1, 400), 2),
        "unit": unit,
        "system": _UCUM,
        "code": ucum,
    }
    if n % 11 == 0:
        quantity["comparator"] = "<"
    return {
        "resourceType": "Observation",
        "id": f"obs-{n}",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": coding, "text": name},
        "subject": {"reference": f"Patient/pt-{n // 40}"},
        "effectiveDateTime": "2024-03-11T08:15:00+01:00",
        "issued": "2024-03-13T16:02:00+01:00",
        "performer": [{"reference": "Organization/lab1", "display": "Northfield Gut Diagnostics"}],
        "valueQuantity": quantity,
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "N",
                    }
                ]
            }
        ],
        "referenceRange": [rng],
    }


def fhir_observations(n: int, *, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` Observations."""
    rnd = random.Random(seed)
    return [fhir_observation(i, rnd) for i in range(n)]


# Already-read numeric results: (name, unit, values from-to, lab range text or None
# (then the catalogue's range applies), the unit of the range used). Units are spelled
# so that pint's default registry reads them too (the naive baseline).
NUMERIC = [
    ("Calprotectin, Feces", "mg/kg", (5.0, 400.0), None, "ug/g"),
    ("Pancreatic Elastase 1", "mg/kg", (20.0, 700.0), None, "ug/g"),
    ("Zonulin", "ng/mL", (5.0, 120.0), "<48", "ug/L"),
    ("Lactoferrin", "mg/L", (0.5, 30.0), "0-7.24", "ug/mL"),
    ("Calprotectin", "ug/g", (5.0, 400.0), None, "ug/g"),
]
"""Catalogue ranges: calprotectin (ug/g, age-dependent: needs the patient's age) and
pancreatic elastase (ug/g); lab ranges: zonulin and lactoferrin, in another unit than
the value's."""

NumericRow = tuple[str, str, float, "str | None", str]


def numeric_rows(n: int, *, seed: int = 1) -> list[NumericRow]:
    """``n`` rows (name, unit, value, lab range text or None, unit of the range used)."""
    rnd = random.Random(seed)
    rows: list[NumericRow] = []
    for i in range(n):
        name, unit, (lo, hi), rng, rng_unit = NUMERIC[i % len(NUMERIC)]
        rows.append((name, unit, round(rnd.uniform(lo, hi), 1), rng, rng_unit))
    return rows
