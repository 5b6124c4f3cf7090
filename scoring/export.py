"""Scorecards → 自查评分表 (xlsx) that a unit can check line by line.

One sheet per rule set (unit-kind group) with category subtotals, totals, the caps that bit and
the final score; a 明细 sheet with every ledger line; a 评分规则 sheet with the rules. Values
only — no formulas — and any text starting with ``= + - @`` is stored as text with Excel's
quote prefix (the shared rule of :mod:`notifications.cells`), so a unit name like
``=HYPERLINK(...)`` can never become a formula.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
import zipfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from notifications.cells import clean_text, is_formula_like
from scoring.engine import LedgerLine, UnitScore, cn_date
from scoring.rules import RuleBook, fmt_points

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_MAX_WIDTH = 60
_WRAP = Alignment(wrap_text=True, vertical="top")
_MAX_TEXT = 32767  # what a cell holds (openpyxl cuts longer text the same way)


@dataclass
class _Sheet:
    title: str
    heading: str  # row 1, bold
    subtitle: str  # row 2
    header: list[str]  # row 4, bold on the header fill
    rows: list[list[Any]]  # from row 5
    wrap: Collection[int] = ()  # 1-based columns whose data cells wrap


# A cell's style: (bold, header fill, wrapped, date format, quote prefix) → its index in the
# workbook's stylesheet, which openpyxl writes (see _write_workbook).
_STYLES = list(itertools.product((False, True), repeat=5))


def _style_key(value: Any, *, bold: bool = False, fill: bool = False,
               wrap: bool = False) -> tuple[bool, bool, bool, bool, bool]:
    return (bold, fill, wrap, isinstance(value, date),
            isinstance(value, str) and is_formula_like(clean_text(value)))


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
    measured: set[Any] = set()  # a column repeats its values (units, rules, items, states)
    for value in values:
        if widest + 2 >= _MAX_WIDTH:
            break
        if value is None or value in measured:
            continue
        n = len(value.isoformat() if isinstance(value, date) else str(value))
        if 2 * n > widest:
            widest = max(widest, _width(value))
            measured.add(value)
    return min(max(widest + 2, 8), _MAX_WIDTH)


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
    return "" if line.pending_range is None else _range_words(*line.pending_range)


@lru_cache(maxsize=1024)
def _range_words(lo: Decimal, hi: Decimal) -> str:  # a year repeats a rule's range ~100,000×
    verb = "减" if lo < 0 else "加"
    a, b = sorted((abs(lo), abs(hi)))
    return f"待定：视情况{verb}{fmt_points(a)}-{fmt_points(b)}分"


def export_scorecard_xlsx(scores: Sequence[UnitScore], path: str | Path, *, rulebook: RuleBook,
                          title: str) -> Path:
    """Write the 自查评分表 to ``path`` (overwritten) and return it."""
    path = Path(path)
    taken: set[str] = set()
    sheets: list[_Sheet] = []
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
        sheets.append(_Sheet(sheet_title(rs.name, taken), f"{title}——{rs.name}", subtitle,
                             header, rows, wrap={len(header) - 3}))

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
    sheets.append(_Sheet(sheet_title("明细", taken), f"{title}——扣分加分明细", subtitle, header,
                         rows, wrap={9}))

    header = ["考核对象", "一级指标", "规则代码", "规则", "评分方式", "加/减"]
    rows = [[rs.name, f"{c.code} {c.name}" + (f"（最多减{fmt_points(c.cap)}分）" if c.cap else ""),
             r.code, r.title, r.describe(), "减分" if r.direction == "deduct" else "加分"]
            for rs in rulebook.rule_sets for c, r in rs.rules()]
    sheets.append(_Sheet(sheet_title("评分规则", taken), f"{rulebook.title}", subtitle, header,
                         rows))

    path.parent.mkdir(parents=True, exist_ok=True)
    _write_workbook(path, sheets)
    return path


# --------------------------------------------------------------------------- the .xlsx itself
#
# openpyxl writes the package (workbook, stylesheet, each sheet's columns and frozen panes);
# the cells — a province's year has ~100,000 detail lines, over a million cells — are written
# here as the same XML openpyxl writes for them (inline strings, "%.16g" numbers, dates as
# serial days), several times faster than through openpyxl's cell objects.

WIDTH_SAMPLE = 10_000  # column widths are measured on a sheet's first rows
# The sheets are deflated at level 1: a year's 评分表 is ~10 % larger and written 3× faster.
_SHEET_DATA = re.compile(r"<sheetData>.*?</sheetData>|<sheetData/>", re.S)
_CELL_STYLE = re.compile(r'<c r="([A-Z]+)1"(?: s="(\d+)")?')


def _write_workbook(path: Path, sheets: list[_Sheet]) -> None:
    wb = Workbook(write_only=True)
    for n, sheet in enumerate(sheets):
        ws = wb.create_sheet(sheet.title)
        for c in range(1, len(sheet.header) + 1):
            ws.column_dimensions[get_column_letter(c)].width = _column_width(
                sheet.header[c - 1], (row[c - 1] for row in sheet.rows[:WIDTH_SAMPLE]))
        ws.freeze_panes = "C5"
        if n == 0:  # one cell per style, so the stylesheet has them all (replaced below)
            ws.append([_sample_cell(ws, key) for key in _STYLES])
    template = BytesIO()
    wb.save(template)
    with zipfile.ZipFile(template) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        names = [f"xl/worksheets/sheet{n}.xml" for n in range(1, len(sheets) + 1)]
        styles: dict[tuple, str] = {}
        for col, s_id in _CELL_STYLE.findall(src.read(names[0]).decode("utf-8")):
            styles[_STYLES[_column_index(col) - 1]] = f' s="{s_id}"' if s_id else ""
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename not in names:
                out.writestr(info, data)
                continue
            sheet = sheets[names.index(info.filename)]
            xml = data.decode("utf-8")
            found = _SHEET_DATA.search(xml)
            with out.open(info.filename, "w") as stream:  # streamed: the rows never all
                stream.write(xml[:found.start()].encode("utf-8"))  # sit in memory at once
                stream.write(b"<sheetData>")
                chunk: list[str] = []
                for row in _sheet_rows(sheet, styles):
                    chunk.append(row)
                    if len(chunk) >= 2000:
                        stream.write("".join(chunk).encode("utf-8"))
                        chunk.clear()
                stream.write("".join(chunk).encode("utf-8"))
                stream.write(b"</sheetData>")
                stream.write(xml[found.end():].encode("utf-8"))


def _sample_cell(ws, key: tuple[bool, bool, bool, bool, bool]) -> WriteOnlyCell:
    bold, fill, wrap, is_date, quote = key
    cell = WriteOnlyCell(ws, "x")
    if bold:
        cell.font = Font(bold=True)
    if fill:
        cell.fill = _HEADER_FILL
    if wrap:
        cell.alignment = _WRAP
    if is_date:
        cell.number_format = "yyyy-mm-dd"
    if quote:
        cell.quotePrefix = True
    return cell


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _sheet_rows(sheet: _Sheet, styles: dict[tuple, str]):
    letters = [get_column_letter(c) for c in range(1, max(len(sheet.header), 1) + 1)]
    plain, wrapped = styles[_style_key(None)], styles[_style_key(None, wrap=True)]
    yield f'<row r="1">{_cell_xml("A1", sheet.heading, styles, bold=True)}</row>'
    yield f'<row r="2">{_cell_xml("A2", sheet.subtitle, styles)}</row>'
    yield '<row r="3"/>'
    yield '<row r="4">' + "".join(_cell_xml(f"{letters[c]}4", h, styles, bold=True, fill=True)
                                  for c, h in enumerate(sheet.header)) + "</row>"
    wrap = {c - 1 for c in sheet.wrap}
    # A cell's XML after its reference, per (column kind, value): most values repeat.
    tails: dict[tuple[bool, Any], str] = {}
    for r, row in enumerate(sheet.rows, start=5):
        cells = []
        for c, v in enumerate(row):
            if v is None and c not in wrap:
                continue
            key = (c in wrap, type(v), v)
            tail = tails.get(key)
            if tail is None:
                if type(v) is not str or is_formula_like(v) or not v \
                        or len(v) > _MAX_TEXT or _ILLEGAL.search(v):
                    tail = _cell_tail(v, styles, wrap=c in wrap)
                else:  # the common case: plain text
                    tail = f'{wrapped if c in wrap else plain} t="inlineStr"><is>{_text(v)}</is></c>'
                if c not in wrap:  # wrapped columns hold long, mostly unique texts
                    tails[key] = tail
            cells.append(f'<c r="{letters[c]}{r}"{tail}')
        yield f'<row r="{r}">{"".join(cells)}</row>'


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cell_xml(ref: str, value: Any, styles: dict[tuple, str], *, bold: bool = False,
              fill: bool = False, wrap: bool = False) -> str:
    return f'<c r="{ref}"' + _cell_tail(value, styles, bold=bold, fill=fill, wrap=wrap)


def _cell_tail(value: Any, styles: dict[tuple, str], *, bold: bool = False, fill: bool = False,
               wrap: bool = False) -> str:
    """A cell as openpyxl writes it, after ``<c r="A1"``: text cleaned and cut to a cell's
    size, formula-like text with the quote prefix, numbers as ``%.16g``, dates as serial days
    in yyyy-mm-dd."""
    if isinstance(value, str):
        value = clean_text(value)[:_MAX_TEXT]
    style = styles[_style_key(value, bold=bold, fill=fill, wrap=wrap)]
    if value is None or value == "":
        kind = "inlineStr" if value == "" else "n"
        return f'{style} t="{kind}"/>'
    if isinstance(value, str):
        return f'{style} t="inlineStr"><is>{_text(value)}</is></c>'
    if isinstance(value, bool):
        return f'{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, date):
        return f'{style} t="n"><v>{_serial(value)}</v></c>'
    if isinstance(value, Decimal):
        value = value.normalize() if value != 0 else Decimal(0)
    return f'{style} t="n"><v>{float(value):.16g}</v></c>'


@lru_cache(maxsize=4096)
def _serial(day: date) -> str:
    return f"{float(to_excel(day)):.16g}"


def _text(value: str) -> str:
    escaped = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace("\r", "&#13;"))
    stripped = value.strip()
    if stripped and value != stripped:
        return f'<t xml:space="preserve">{escaped}</t>'
    return f"<t>{escaped}</t>"


__all__ = ["export_scorecard_xlsx", "sheet_title"]
