"""OBX per second: guttests' HL7 v2 reader against ``hl7.parse`` alone, on the same messages.

Run: ``python benchmarks/bench_hl7.py [messages]`` (default 3000 messages of 20 OBX).

* ``hl7.parse``: python-hl7 tokenizing each message, nothing interpreted (the baseline);
* ``iter_panels``: guttests reading the whole file: framing, tokenizing, values, units,
  ranges, dates, typed models;
* ``iter_panels + JSON``: the same, then each panel written as JSON.
"""

from __future__ import annotations

import io
import random
import sys
import time
from collections.abc import Callable

import hl7  # type: ignore[import-untyped]

from guttests._readers.hl7v2 import iter_panels

_ANALYTES = [
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


def make_messages(n: int, obx_per_message: int = 20, seed: int = 1) -> list[str]:
    """``n`` realistic ORU^R01 messages, ``\\r``-separated."""
    rnd = random.Random(seed)
    out = []
    for m in range(n):
        segs = [
            rf"MSH|^~\&|GIPLUS|Northfield Digestive Lab|EHR|Clinic|20240305141522+0100||"
            rf"ORU^R01^ORU_R01|NDL-{m}|P|2.5.1",
            f"PID|1||MRN-{m:06d}^^^HIC^MR||Doe^Pat{m}||1986041{m % 10}|{'FM'[m % 2]}",
            "OBR|1|ORD-1|NDL-1|GI-CSA^Comprehensive Stool Analysis^L|||20240301073000+0100",
        ]
        for k in range(1, obx_per_message + 1):
            vt, code, value, unit, rng = _ANALYTES[(k - 1) % len(_ANALYTES)]
            val = value.format(v=rnd.uniform(1, 900), i=rnd.randint(0, 9))
            flag = rnd.choice(["N", "H", "L", ""])
            segs.append(f"OBX|{k}|{vt}|{code}||{val}|{unit}|{rng}|{flag}|||F|||20240301073000+0100")
        segs.append("SPM|1|||119339001^Stool specimen^SCT^STL^Stool^HL70487")
        out.append("\r".join(segs) + "\r")
    return out


def _timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(n: int = 3000) -> None:
    messages = make_messages(n)
    text = "".join(messages)
    obx = n * 20

    def baseline() -> None:
        for m in messages:
            hl7.parse(m)

    def guttests_read() -> None:
        count = sum(len(p.results) for p in iter_panels(io.StringIO(text, newline="")))
        assert count == obx

    def guttests_json() -> None:
        for p in iter_panels(io.StringIO(text, newline="")):
            p.model_dump_json()

    guttests_read()  # warm caches and imports, as a long-running reader would be
    # Interleaved repeats, best of each: other load on the machine hits all three alike.
    runs = [(_timed(baseline), _timed(guttests_read), _timed(guttests_json)) for _ in range(3)]
    t_hl7, t_read, t_json = (min(col) for col in zip(*runs, strict=True))
    print(f"{n} messages, {obx} OBX, {len(text) / 1e6:.1f} MB")
    print(f"hl7.parse alone        {obx / t_hl7:>10,.0f} OBX/s")
    print(f"iter_panels            {obx / t_read:>10,.0f} OBX/s  ({t_hl7 / t_read:.2f}x hl7.parse)")
    print(f"iter_panels + JSON out {obx / t_json:>10,.0f} OBX/s  ({t_hl7 / t_json:.2f}x hl7.parse)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
