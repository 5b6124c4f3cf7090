"""Spreadsheet cells that can never become formulas — the one rule every .xlsx duban writes
follows (the digest attachment in :mod:`notifications.xlsx`, the 评分表 in
:mod:`scoring.export`).

Unit names, contact names and item titles come from imported documents. Text starting with
``= + - @`` (or a tab/CR, which some spreadsheet apps strip before parsing) would be stored by
openpyxl as a *formula* and evaluated when the file is opened (``=HYPERLINK(...)``,
``@SUM(...)``, DDE payloads). Such text is written as a string cell with Excel's quote prefix
(``quotePrefix``): it shows exactly as written, is never evaluated, and stays text when someone
edits the cell. Numbers stay numbers (a deduction of -0.2 is a number, not text).

Pure: no openpyxl import here; :func:`put` works on any openpyxl cell.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry (openpyxl raises IllegalCharacterError on them).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """``text`` without the characters an .xlsx cannot hold."""
    return _ILLEGAL_XML.sub("", text)


def is_formula_like(value: object) -> bool:
    """True for text a spreadsheet would read as a formula; never for numbers."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def put(cell: Any, value: object) -> None:
    """Write ``value`` into an openpyxl cell: text cleaned, formula-like text as a quoted string
    cell (``data_type 's'`` + ``quotePrefix``); numbers, dates and None unchanged."""
    if isinstance(value, str):
        value = clean_text(value)
    cell.value = value
    if is_formula_like(value):
        cell.data_type = "s"
        cell.quotePrefix = True


__all__ = ["FORMULA_TRIGGERS", "clean_text", "is_formula_like", "put"]
