"""Text that is safe to print: control characters and bidirectional overrides neutralised.

Input text (names, values, units, range files) reaches terminals and text, Markdown and
HTML reports. An ESC starts a terminal escape sequence (colours, cursor moves, OSC window
titles and hyperlinks); a carriage return or backspace overwrites what was printed; NUL
truncates text in some viewers; a lone surrogate cannot be written as UTF-8; a
bidirectional override (U+202E) reverses how the text after it is shown, so ``<50`` can
read as ``05>``. Each such character is replaced by
U+FFFD (the replacement character): visible, inert, and never mistaken for content.
Tab and line feed stay; a CR LF pair becomes a line feed.

>>> neutralise("Zonulin\\x1b]0;owned\\x07 45 \\u202eLm/gn") == (
...     "Zonulin\\ufffd]0;owned\\ufffd 45 \\ufffdLm/gn"
... )
True
>>> neutralise("a\\r\\nb\\tc")
'a\\nb\\tc'
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["UNSAFE", "neutralise", "neutralised_model"]

UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab, line feed), DEL, C1 (incl. CSI, OSC)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks and overrides
    "\ud800-\udfff]"  # lone surrogates: not text, and not writable as UTF-8
)
_REPLACEMENT = "\ufffd"

_M = TypeVar("_M", bound=BaseModel)


def neutralise(text: str) -> str:
    """``text`` with every unsafe character replaced by U+FFFD (CR LF becomes LF)."""
    if not UNSAFE.search(text):
        return text
    return UNSAFE.sub(_REPLACEMENT, text.replace("\r\n", "\n"))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, BaseModel):
        return neutralised_model(value)
    if isinstance(value, tuple):
        items = tuple(_clean(v) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def neutralised_model(model: _M) -> _M:
    """The same immutable model with every string neutralised; ``model`` itself when no
    string needed it."""
    update = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        cleaned = _clean(value)
        if cleaned is not value and cleaned != value:
            update[name] = cleaned
    return model.model_copy(update=update) if update else model
