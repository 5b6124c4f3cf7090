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
from collections.abc import Collection, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from notifications.cells import put
from scoring.engine import LedgerLine, UnitScore, cn_date
from scoring.rules import RuleBook, fmt_points

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_MAX_WIDTH = 60


def _put(ws: Worksheet, row: int, col: int, value: Any, *, bold: bool = False) -> None:
    """Write one value; text that a spreadsheet could read as a formula stays text."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, Decimal):
        value = value.normalize() if value != 0 else Decimal(0)  # written as its exact text
    put(cell, value)
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    if bold:
        cell.font = Font(bold=True)


def _width(value: Any) -> int:
    if value is None:
        return 0
    text = value.isoformat() if isinstance(value, date) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(ws: Worksheet, top: int, header: list[str], rows: list[list[Any]],
           wrap: Collection[int] = ()) -> None:
    for c, h in enumerate(header, start=1):
        _put(ws, top, c, h, bold=True)
        ws.cell(row=top, column=c).fill = _HEADER_FILL
    for r, row in enumerate(rows, start=top + 1):
        for c, v in enumerate(row, start=1):
            _put(ws, r, c, v)
            if c in wrap:
                ws.cell(row=r, column=c).alignment = Alignment(wrap_text=True, vertical="top")
    for c in range(1, len(header) + 1):
        widest = max([_width(header[c - 1])] + [_width(row[c - 1]) for row in rows])
        ws.column_dimensions[get_column_letter(c)].width = min(max(widest + 2, 8), _MAX_WIDTH)
    ws.freeze_panes = ws.cell(row=top + 1, column=3)


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
    wb = Workbook()
    wb.remove(wb.active)
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
        _put(ws, 1, 1, f"{title}——{rs.name}", bold=True)
        _put(ws, 2, 1, subtitle)
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
        _table(ws, 4, header, rows, wrap={len(header) - 3})

    ws = wb.create_sheet(sheet_title("明细", taken))
    _put(ws, 1, 1, f"{title}——扣分加分明细", bold=True)
    _put(ws, 2, 1, subtitle)
    header = ["单位", "单位代码", "规则代码", "规则", "一级指标", "事项", "发生日期", "期间",
              "说明", "分值", "状态"]
    rows = []
    for s in scores:
        tagged = ([(ln, "计入") for ln in s.lines] + [(ln, None) for ln in s.pending]
                  + [(ln, "已冲销") for ln in s.reversed])
        for ln, state in tagged:
            ref = rulebook.find(ln.rule_code)
            rule_title = ref.rule.title if ref else ""
            cat = f"{ref.category.code} {ref.category.name}" if ref else ""
            rows.append([s.unit_name, s.unit_code, ln.rule_code, rule_title, cat,
                         ln.item_code or "", ln.occurred_on, ln.period_key, ln.reason,
                         ln.amount, state or _pending_text(ln)])
    _table(ws, 4, header, rows, wrap={9})

    ws = wb.create_sheet(sheet_title("评分规则", taken))
    _put(ws, 1, 1, f"{rulebook.title}", bold=True)
    _put(ws, 2, 1, subtitle)
    header = ["考核对象", "一级指标", "规则代码", "规则", "评分方式", "加/减"]
    rows = [[rs.name, f"{c.code} {c.name}" + (f"（最多减{fmt_points(c.cap)}分）" if c.cap else ""),
             r.code, r.title, r.describe(), "减分" if r.direction == "deduct" else "加分"]
            for rs in rulebook.rule_sets for c, r in rs.rules()]
    _table(ws, 4, header, rows)

    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


__all__ = ["export_scorecard_xlsx", "sheet_title"]
