"""Scorecards → 自查评分表 (xlsx) that a unit can check line by line.

One sheet per rule set (unit-kind group) with category subtotals, totals, the caps that bit and
the final score; a 明细 sheet with every ledger line; a 评分规则 sheet with the rules. Values
only — no formulas — and any text starting with ``= + - @`` is stored as text with Excel's
quote prefix (the shared rule of :mod:`notifications.cells`), so a unit name like
``=HYPERLINK(...)`` can never become a formula.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet as Worksheet

from notifications.cells import clean_text, is_formula_like, put
from scoring.engine import LedgerLine, UnitScore, cn_date
from scoring.rules import RuleBook, fmt_points

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_MAX_WIDTH = 60
_WRAP = Alignment(wrap_text=True, vertical="top")


def _cell(ws: Worksheet, value: Any, *, bold: bool = False, fill: PatternFill | None = None,
          alignment: Alignment | None = None) -> Any:
    """One value as a cell of the streamed sheet; text that a spreadsheet could read as a
    formula stays text.  Plain values need no cell object (:func:`_row` passes them as is)."""
    cell = WriteOnlyCell(ws)
    if isinstance(value, Decimal):
        value = value.normalize() if value != 0 else Decimal(0)  # written as its exact text
    put(cell, value)
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    if bold:
        cell.font = Font(bold=True)
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    return cell


def _row(ws: Worksheet, values: Sequence[Any], wrap: Collection[int] = ()) -> list[Any]:
    """A data row: plain text and integers as they are, anything needing a style, quoting or
    cleaning (dates, decimals, formula-like text, wrapped columns) as a cell."""
    out: list[Any] = []
    for c, v in enumerate(values, start=1):
        if c in wrap:
            out.append(_cell(ws, v, alignment=_WRAP))
        elif v is None or type(v) is int or (type(v) is str and not is_formula_like(v)
                                             and clean_text(v) == v):
            out.append(v)
        else:
            out.append(_cell(ws, v))
    return out


def _width(value: Any) -> int:
    if value is None:
        return 0
    text = value.isoformat() if isinstance(value, date) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _column_width(header: str, values: Iterable[Any]) -> float:
    """``min(max(widest + 2, 8), _MAX_WIDTH)`` over the header and the values, where a value
    is only measured when it could be wider than the widest so far (a text of n characters is
    n to 2n wide), and not at all once the cap is reached."""
    widest = _width(header)
    for value in values:
        if widest + 2 >= _MAX_WIDTH:
            break
        if value is None:
            continue
        n = len(value.isoformat() if isinstance(value, date) else str(value))
        if 2 * n > widest:
            widest = max(widest, _width(value))
    return min(max(widest + 2, 8), _MAX_WIDTH)


def _write(ws: Worksheet, title: str, subtitle: str, header: list[str], rows: list[list[Any]],
           wrap: Collection[int] = (), top: int = 4) -> None:
    """The bold title (row 1), the subtitle (row 2), the header (row ``top``) and the rows.

    The sheet is streamed: the column widths and the frozen panes are set before any row."""
    for c in range(1, len(header) + 1):
        ws.column_dimensions[get_column_letter(c)].width = _column_width(
            header[c - 1], (row[c - 1] for row in rows))
    ws.freeze_panes = f"C{top + 1}"
    ws.append([_cell(ws, title, bold=True)])
    ws.append([_cell(ws, subtitle)])
    for _ in range(3, top):
        ws.append([])
    ws.append([_cell(ws, h, bold=True, fill=_HEADER_FILL) for h in header])
    for row in rows:
        ws.append(_row(ws, row, wrap))


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name (≤31 characters, none of []:*?/\\)."""
    base = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
    base = base[:31]
    title, n = base, 2
    while title in taken:
        suffix = f"({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title


def _state(s: UnitScore) -> str:
    return f"暂定（{len(s.pending)}项待定）" if s.provisional else "确定"


def _range_text(s: UnitScore) -> str:
    if s.final_range is None:
        return ""
    lo, hi = s.final_range
    return f"{fmt_points(lo)} ~ {fmt_points(hi)}"


def _pending_text(line: LedgerLine) -> str:
    if line.pending_range is None:
        return ""
    lo, hi = line.pending_range
    verb = "减" if lo < 0 else "加"
    a, b = sorted((abs(lo), abs(hi)))
    return f"待定：视情况{verb}{fmt_points(a)}-{fmt_points(b)}分"


def export_scorecard_xlsx(scores: Sequence[UnitScore], path: str | Path, *, rulebook: RuleBook,
                          title: str) -> Path:
    """Write the 自查评分表 to ``path`` (overwritten) and return it."""
    path = Path(path)
    wb = Workbook(write_only=True)  # streamed: a province's year has ~100,000 detail lines
    taken: set[str] = set()
    period = scores[0].period if scores else None
    scheme = rulebook.scheme
    if scheme.style == "deduction":
        frame = f"减分制，最高减{fmt_points(scheme.max_deduction)}分，在减分框架内酌情加分"
    else:
        frame = f"基础分{fmt_points(scheme.base)}分，最低{fmt_points(scheme.floor)}分"
    subtitle = f"依据：{rulebook.source.title}；计分：{frame}"
    if period is not None:
        subtitle = (f"{period.name}（{cn_date(period.start)}至{cn_date(period.end)}）；"
                    + subtitle)

    for rs in rulebook.rule_sets:
        ws = wb.create_sheet(sheet_title(rs.name, taken))
        header = ["序号", "单位", "单位代码"]
        header += [f"{c.code} {c.name}" for c in rs.categories]
        header += ["减分合计", "加分合计", "封顶说明", "最终得分", "状态", "得分区间"]
        rows = []
        mine = [s for s in scores if s.rule_set == rs.name]
        for n, s in enumerate(mine, start=1):
            row: list[Any] = [n, s.unit_name, s.unit_code]
            row += [c.subtotal for c in s.categories]
            row += [-s.deductions, s.bonuses, "；".join(str(c) for c in s.caps), s.final,
                    _state(s), _range_text(s)]
            rows.append(row)
        _write(ws, f"{title}——{rs.name}", subtitle, header, rows, wrap={len(header) - 3})

    ws = wb.create_sheet(sheet_title("明细", taken))
    header = ["单位", "单位代码", "规则代码", "规则", "一级指标", "事项", "发生日期", "期间",
              "说明", "分值", "状态"]
    rows = []
    rules: dict[str, tuple[str, str]] = {}
    for s in scores:
        tagged = ([(ln, "计入") for ln in s.lines] + [(ln, None) for ln in s.pending]
                  + [(ln, "已冲销") for ln in s.reversed])
        for ln, state in tagged:
            if ln.rule_code not in rules:
                ref = rulebook.find(ln.rule_code)
                rules[ln.rule_code] = ((ref.rule.title, f"{ref.category.code} {ref.category.name}")
                                       if ref else ("", ""))
            rule_title, cat = rules[ln.rule_code]
            rows.append([s.unit_name, s.unit_code, ln.rule_code, rule_title, cat,
                         ln.item_code or "", ln.occurred_on, ln.period_key, ln.reason,
                         ln.amount, state or _pending_text(ln)])
    _write(ws, f"{title}——扣分加分明细", subtitle, header, rows, wrap={9})

    ws = wb.create_sheet(sheet_title("评分规则", taken))
    header = ["考核对象", "一级指标", "规则代码", "规则", "评分方式", "加/减"]
    rows = [[rs.name, f"{c.code} {c.name}" + (f"（最多减{fmt_points(c.cap)}分）" if c.cap else ""),
             r.code, r.title, r.describe(), "减分" if r.direction == "deduct" else "加分"]
            for rs in rulebook.rule_sets for c, r in rs.rules()]
    _write(ws, f"{rulebook.title}", subtitle, header, rows)

    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


__all__ = ["export_scorecard_xlsx", "sheet_title"]
