"""Throughput of the guttests FHIR reader against ``fhir.resources`` (R4B).

Plain script: ``python benchmarks/bench_fhir.py [N]``. Generates N NDJSON
Observations shaped like a stool / food panel export, then times, in one run:

* guttests: ``iter_panels`` over the NDJSON text (JSON parse, Observation
  fields, values, lab ranges, Result models);
* fhir.resources: ``Observation.model_validate`` alone, on dicts parsed
  beforehand (the parse is not counted against it).

Prints resources per second for both and their ratio (best of five interleaved repeats).
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable

import orjson

from guttests._readers.fhir import iter_panels

_ANALYTES = [
    ("38445-3", "Calprotectin, Feces", "ug/g", "µg/g", 0.0, 50.0),
    ("25907-7", "Pancreatic elastase-1, Feces", "ug/g", "µg/g", 200.0, None),
    (None, "Secretory IgA, Feces", "ug/g", "µg/g", 510.0, 2010.0),
    (None, "Zonulin, Serum", "ng/mL", "ng/mL", None, 48.0),
    (None, "Butyrate, Feces", "%", "%", 10.0, 29.0),
    (None, "Cow's milk IgG", "ug/mL", "µg/mL", None, 10.0),
]


def observation(n: int) -> dict[str, object]:
    loinc, name, ucum, unit, low, high = _ANALYTES[n % len(_ANALYTES)]
    coding = [{"system": "http://example-lab.org/codes", "code": f"L{n % 97}", "display": name}]
    if loinc:
        coding.insert(0, {"system": "http://loinc.org", "code": loinc, "display": name})
    rng: dict[str, object] = {}
    if low is not None:
        rng["low"] = {
            "value": low,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": ucum,
        }
    if high is not None:
        rng["high"] = {
            "value": high,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": ucum,
        }
    quantity: dict[str, object] = {
        "value": round(5 + (n * 7.31) % 400, 2),
        "unit": unit,
        "system": "http://unitsofmeasure.org",
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


def timed(func: Callable[[], int]) -> tuple[float, int]:
    # CPU time of this process: other work on a shared machine does not count.
    start = time.process_time()
    count = func()
    return time.process_time() - start, count


def main(n: int = 5000, repeats: int = 5) -> None:
    from fhir.resources.R4B.observation import Observation

    resources = [observation(i) for i in range(n)]
    ndjson = "\n".join(orjson.dumps(r).decode() for r in resources) + "\n"
    dicts = [orjson.loads(line) for line in ndjson.splitlines()]

    def guttests_read() -> int:
        return sum(len(p.results) for p in iter_panels(io.StringIO(ndjson), source="bench"))

    def fhir_resources_validate() -> int:
        return len([Observation.model_validate(d) for d in dicts])

    # Interleaved, best of each: a shared machine's load affects both alike.
    ours = theirs = float("inf")
    results = validated = 0
    for _ in range(repeats):
        elapsed, results = timed(guttests_read)
        ours = min(ours, elapsed)
        elapsed, validated = timed(fhir_resources_validate)
        theirs = min(theirs, elapsed)
    assert results == validated == n, (results, validated)
    print(f"{n} NDJSON Observations, best of {repeats}")
    print(f"guttests iter_panels:                 {n / ours:>10,.0f} resources/s")
    print(f"fhir.resources R4B model_validate:    {n / theirs:>10,.0f} resources/s")
    print(f"ratio:                                {theirs / ours:>10.1f} x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
