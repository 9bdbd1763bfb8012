"""Generate the UCUM part of src/guttests/_data/units.txt from ucumvert's ucum-essence.xml.

Run: python scripts/gen_units.py > ucum_part.txt, then assemble
src/guttests/_data/units.txt as scripts/units_header.txt + ucum_part.txt + scripts/units_tail.txt
(the hand-written guttests definitions and lab spellings).
"""

from __future__ import annotations

import re
import sys
from fractions import Fraction
from xml.etree import ElementTree

from lark import Token
from ucumvert.parser import get_ucum_parser
from ucumvert.xml_util import UCUM_ESSENCE_FILE

NS = "{http://unitsofmeasure.org/ucum-essence}"
root = ElementTree.parse(UCUM_ESSENCE_FILE).getroot()
BASE_DIMS = {
    "m": "length",
    "s": "time",
    "g": "mass",
    "rad": "angle",
    "K": "temperature",
    "C": "charge",
    "cd": "luminosity",
}
# guttests deviations from UCUM (see the header of units.txt)
OVERRIDE_BASE = {"mol": "substance", "U": "assay_unit"}


def pname(code: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", code):
        return code
    special = {
        "10*": "ten_star",
        "10^": "ten_caret",
        "%": "percent",
        "'": "arc_minute",
        "''": "arc_second",
        "g%": "gram_percent",
        "%[slope]": "percent_slope_",
    }
    if code in special:
        return special[code]
    s = code.replace("[", "").replace("]", "_").replace("'", "_").replace(".", "_")
    s = s.replace("/", "_per_").replace("^", "_pow_").replace("(", "").replace(")", "")
    if s[0].isdigit():
        s = "n" + s
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s), (code, s)
    return s


def dimname(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", name.strip()).strip("_").lower()
    return "n" + s if s[0].isdigit() else s


prefixes = {}
out = []
out.append("# --- UCUM prefixes (pint: long name, value, UCUM symbol) ---")
for p in root.findall(f"{NS}prefix"):
    code = p.attrib["Code"]
    name = p.find(f"{NS}name").text
    val = p.find(f"{NS}value").attrib["value"]
    prefixes[code] = Fraction(val)
    out.append(f"{name}- = {val} = {code}-")

atoms: dict[str, tuple[float, dict[str, int]]] = {}
lines: dict[str, str] = {}
out.append("")
out.append("# --- UCUM base units, plus guttests' own base dimensions ---")
for b in root.findall(f"{NS}base-unit"):
    code = b.attrib["Code"]
    name = b.find(f"{NS}name").text
    out.append(f"{code} = [{BASE_DIMS[code]}]  # ucum: {code} | {name}")
    atoms[code] = (Fraction(1), {code: 1})

units = root.findall(f"{NS}unit")
info = {}
for u in units:
    code = u.attrib["Code"]
    val = u.find(f"{NS}value")
    fn = val.find(f"{NS}function")
    info[code] = {
        "name": u.find(f"{NS}name").text,
        "special": u.attrib.get("isSpecial") == "yes",
        "arbitrary": u.attrib.get("isArbitrary") == "yes",
        "cls": u.attrib.get("class"),
        "unit": (fn.attrib["Unit"] if fn is not None else val.attrib["Unit"]),
        "value": (fn.attrib["value"] if fn is not None else val.attrib.get("value", "1")),
        "metric": u.attrib.get("isMetric") == "yes",
    }

parser = get_ucum_parser()


class Unresolved(Exception):
    pass


def mul(a, b, sign=1):
    f = a[0] * (b[0] ** sign)
    d = dict(a[1])
    for k, v in b[1].items():
        d[k] = d.get(k, 0) + sign * v
        if d[k] == 0:
            del d[k]
    return (f, d)


def power(a, n):
    return (a[0] ** n, {k: v * n for k, v in a[1].items()})


def ev(node):
    if isinstance(node, Token):
        if node.type == "ANNOTATION":
            return (Fraction(1), {})
        raise ValueError(node)
    ch = node.children
    if node.data == "main_term":
        if len(ch) == 2:
            return power(ev(ch[1]), -1)
        return ev(ch[0])
    if node.data == "term":
        return mul(ev(ch[0]), ev(ch[2]), 1 if ch[1] == "." else -1)
    if node.data == "component":
        return ev(ch[0])
    if node.data == "annotatable":
        return power(ev(ch[0]), int(ch[1]))
    if node.data == "simple_unit":
        if ch[0].type == "FACTOR":
            return (Fraction(int(ch[0])), {})
        if len(ch) == 2:
            a = atom(str(ch[1]))
            return (a[0] * prefixes[str(ch[0])], a[1])
        return atom(str(ch[0]))
    raise ValueError(node.data)


def atom(code):
    if code not in atoms:
        raise Unresolved(code)
    return atoms[code]


special_lines = []
pending = list(info)
kinds = {}
while pending:
    progress = False
    for code in list(pending):
        i = info[code]
        pn = pname(code)
        comment = f"# ucum: {code} | {i['name']}"
        if code in OVERRIDE_BASE:
            atoms[code] = (Fraction(1), {code: 1})
            lines[code] = (
                f"{pn} = [{OVERRIDE_BASE[code]}]  {comment} (guttests: own base dimension, see header)"
            )
        elif i["special"]:
            atoms[code] = (Fraction(1), {code: 1})
            lines[code] = (
                f"{pn} = [special_{pname(code).strip('_').lower()}]  {comment} (special unit {i['value']} {i['unit']}: never converted)"
            )
        elif i["arbitrary"] and i["unit"] == "1":
            atoms[code] = (Fraction(1), {code: 1})
            lines[code] = f"{pn} = [{dimname(i['name'])}]  {comment} (arbitrary)"
        else:
            try:
                f, d = ev(parser.parse(i["unit"]))
            except Unresolved:
                continue
            f *= Fraction(i["value"])
            atoms[code] = (f, d)
            expr = " * ".join(
                [repr(float(f))]
                + [f"{pname(k)}" + (f" ** {v}" if v != 1 else "") for k, v in sorted(d.items())]
            )
            lines[code] = f"{pn} = {expr}  {comment} = {i['value']} {i['unit']}"
        pending.remove(code)
        progress = True
    if not progress:
        sys.exit(f"unresolved: {pending}")

out.append("")
out.append(
    "# --- UCUM units (values resolved to base units; the UCUM definition follows '=' in the comment) ---"
)
for code in info:
    out.append(lines[code])
names = [pname(c) for c in info] + list(BASE_DIMS)
assert len(names) == len(set(names)), "pint name collision"
print("\n".join(out))
