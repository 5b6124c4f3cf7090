"""Read the 台账 a coordinator keeps: one row per completed task, in a spreadsheet.

Real 台账 are not tidy: a title (often a merged cell) and a date line above the header, Chinese
column names in several variants ("单位名称"/"责任单位", "条目"/"序号", "完成时间（年月日）"),
the unit cell merged down over that unit's rows, dates as Excel dates, serial numbers or text
("2020年9月14日", "2020-09-14", "9月14日"). This module finds the header row, maps the columns,
fills merged cells down and hands back the rows as written — resolving units, items and dates
against the plan is :mod:`reports.completions`' job. No database here.

Reads .xlsx/.xlsm (openpyxl), .xls (xlrd) and .csv (UTF-8, else GB18030; UTF-16 with a BOM).
"""

from __future__ import annotations

import csv
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from duban.errors import UserError
from duban.inputs import (
    size_problem,
    uncached_formula_cells,
    uncached_formula_problem,
    unpacked_size_problem,
)

HEADER_SCAN_ROWS = 30

# Column names per field, most specific first: when two columns match one field the one whose
# name comes earlier wins ("条目" beats "序号", which is usually just the row number).
FIELDS: dict[str, tuple[str, ...]] = {
    "unit": ("单位", "单位名称", "责任单位", "承办单位", "报送单位", "填报单位", "完成单位",
             "落实单位", "责任部门", "部门", "部门名称"),
    "item": ("条目", "条目序号", "条目编号", "条目号", "要点条目", "要点序号", "工作要点序号",
             "任务编号", "任务序号", "事项编号", "事项序号", "编号", "序号"),
    "period": ("期次", "所属期", "报送期", "报送期次", "期间", "月份", "期数"),
    "done": ("完成时间", "完成日期", "实际完成时间", "实际完成日期", "办结时间", "办结日期",
             "落实时间", "报送时间", "报送日期", "上传时间", "上传日期", "发布时间", "发布日期",
             "公开时间", "公开日期"),
    "url": ("网址", "佐证网址", "链接", "佐证链接", "链接地址", "网页链接", "网站链接",
            "公开网址", "发布网址", "公开链接", "发布链接", "url", "网址链接"),
    "doc": ("文号", "佐证文号", "发文字号", "文件文号", "发文文号", "文件编号"),
    "note": ("说明", "佐证说明", "佐证", "佐证材料", "完成情况说明", "完成情况", "落实情况",
             "备注"),
}
REQUIRED = ("unit", "item", "done")
FIELD_NAMES = {"unit": "单位", "item": "条目（序号）", "done": "完成时间"}

_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
_DOC_NUMBER = re.compile(r"[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*\d+\s*号")


class TaizhangError(UserError):
    """The file cannot be read as a 台账 (exit code 2): nothing was recorded."""


@dataclass(frozen=True)
class TaizhangRow:
    """One data row as written; ``row`` is the spreadsheet's own row number (1-based)."""

    row: int
    unit: str
    item: str
    done: Any  # date / datetime / number (Excel serial) / text / None
    period: str = ""
    url: str = ""
    doc: str = ""
    note: str = ""

    @property
    def has_evidence(self) -> bool:
        return bool(self.url or self.doc or self.note)


@dataclass(frozen=True)
class Taizhang:
    path: Path
    sheet: str
    header_row: int
    columns: dict[str, str]  # field → the header text found
    rows: list[TaizhangRow] = field(default_factory=list)


# --------------------------------------------------------------------------- values


def _text(value: Any) -> str:
    """A cell as text: numbers without a spurious ".0", whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return " ".join(str(value).split())


def header_key(text: str) -> str:
    """A header as compared: width-folded, no spaces or stars, no bracketed hint."""
    s = unicodedata.normalize("NFKC", str(text or ""))
    s = re.sub(r"[\s*※★]+", "", s)
    s = re.sub(r"\(.*?\)$", "", s)  # 完成时间(年月日) → 完成时间 (after NFKC （） are ())
    return s.lower()


def _match(text: Any) -> tuple[str, int] | None:
    """(field, rank) for a header cell; lower rank = more specific."""
    key = header_key(_text(text))
    if not key or len(key) > 12:  # a title line is never a column name
        return None
    for name, words in FIELDS.items():
        for rank, word in enumerate(words):
            if key == header_key(word):
                return name, rank
    for name, words in FIELDS.items():  # 完成时间及网址 → first field whose word starts it
        for rank, word in enumerate(words):
            if len(word) >= 2 and key.startswith(header_key(word)):
                return name, rank + 100
    return None


def map_header(cells: list[Any]) -> dict[str, int]:
    """field → column index for one candidate header row."""
    best: dict[str, tuple[int, int]] = {}
    for col, cell in enumerate(cells):
        hit = _match(cell)
        if hit is None:
            continue
        name, rank = hit
        if name not in best or rank < best[name][0]:
            best[name] = (rank, col)
    return {name: col for name, (_, col) in best.items()}


def item_text(value: Any) -> str:
    """"6", 6.0, "第6项" → "6"; width-folded, so "（六）" → "(六)" (the plan lookup ignores
    brackets, and :func:`cn_number` reads it as 6 when the plan numbers items in digits)."""
    s = unicodedata.normalize("NFKC", _text(value)).strip()
    m = re.fullmatch(r"第\s*(.+?)\s*[项条]", s)
    if m:
        s = m.group(1)
    return s.rstrip("、.")


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}


def cn_number(text: str) -> int | None:
    """"六" → 6, "十九" → 19, "二十一" → 21 (1–99); None if it is not one."""
    s = text.strip("()（）、. ")
    if not s or any(ch not in _CN_DIGITS and ch != "十" for ch in s):
        return None
    if "十" not in s:
        return _CN_DIGITS[s] if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


_FULL = re.compile(
    r"(\d{4})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T\s]?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?(?::\d{1,2}(?:\.\d+)?)?)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日?"
                        r"(?:\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?)?")


class DateProblem(ValueError):
    """A completion date that cannot be read; the message is for the user."""


def parse_done(value: Any, *, default_year: int) -> tuple[date, time | None]:
    """A completion date (and time, if written) from a cell.

    Excel dates, Excel serial numbers, "2020-09-14", "2020/9/14", "2020.9.14", "2020年9月14日",
    "20200914", "9月14日" (year: ``default_year``), each optionally with "10:30".
    """
    if isinstance(value, datetime):
        t = value.time()
        return value.date(), (None if t == time(0) else t.replace(microsecond=0))
    if isinstance(value, date):
        return value, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 20000 < value < 80000:  # 1954..2119: anything else is not a date serial
            raise DateProblem(f"完成时间 {_text(value)!r} 不是日期")
        from openpyxl.utils.datetime import from_excel

        return parse_done(from_excel(value), default_year=default_year)
    s = unicodedata.normalize("NFKC", _text(value)).strip()
    if not s:
        raise DateProblem("缺少完成时间")
    hint = "（应写成 2020-09-14、2020年9月14日 或 9月14日）"
    try:
        if m := _FULL.fullmatch(s):
            y, mo, d, hh, mm = m.groups()
            return date(int(y), int(mo), int(d)), (time(int(hh), int(mm)) if hh else None)
        if m := _COMPACT.fullmatch(s):
            return date(*(int(x) for x in m.groups())), None
        if m := _MONTH_DAY.fullmatch(s):
            mo, d, hh, mm = m.groups()
            return date(default_year, int(mo), int(d)), (time(int(hh), int(mm)) if hh else None)
    except ValueError:
        raise DateProblem(f"完成时间 {s!r} 不是有效日期{hint}") from None
    raise DateProblem(f"无法识别的完成时间 {s!r}{hint}")


def period_key(text: str, *, year: int) -> str:
    """"2020年9月" / "9月" / "2020-09" → "2020-09"; "第三季度" → "2020-Q3"; else as written."""
    s = unicodedata.normalize("NFKC", text).strip()
    if m := re.fullmatch(r"(?:(\d{4})\s*[年\-./])?\s*(\d{1,2})\s*月?(?:份)?", s):
        y, mo = m.groups()
        if 1 <= int(mo) <= 12:
            return f"{y or year}-{int(mo):02d}"
    if m := re.fullmatch(r"(?:(\d{4})\s*年)?\s*第?([一二三四1-4])季度", s):
        y, q = m.groups()
        n = int(q) if q.isdigit() else "一二三四".index(q) + 1
        return f"{y or year}-Q{n}"
    if m := re.fullmatch(r"(?:(\d{4})\s*年)?\s*([上下])半年", s):
        y, h = m.groups()
        return f"{y or year}-H{1 if h == '上' else 2}"
    return s


def classify_evidence(url: str, doc: str, note: str) -> tuple[str, str, str]:
    """A generic 佐证 column may hold a link or a 文号: put it where it belongs."""
    if note and not url and _URL.match(note):
        return note, doc, ""
    if note and not doc and _DOC_NUMBER.search(note) and len(note) <= 40:
        return url, note, ""
    return url, doc, note


# --------------------------------------------------------------------------- files


def _grid_openpyxl(path: Path) -> list[tuple[str, list[list[Any]], list[tuple[int, int, int, int]]]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=True)  # values, not formulas
    problem = uncached_formula_problem(uncached_formula_cells(path, wb))
    if problem:  # a formula without its saved result would read as an empty cell
        raise TaizhangError(f"无法读取台账 {path}：{problem}")
    sheets = []
    ordered = [wb.active, *[ws for ws in wb.worksheets if ws is not wb.active]]
    for ws in ordered:
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        merged = [(m.min_row, m.max_row, m.min_col, m.max_col) for m in ws.merged_cells.ranges]
        sheets.append((ws.title, grid, merged))
    return sheets


def _grid_xlrd(path: Path) -> list[tuple[str, list[list[Any]], list[tuple[int, int, int, int]]]]:
    import xlrd

    book = xlrd.open_workbook(str(path), formatting_info=True)
    sheets = []
    for sh in book.sheets():
        grid = []
        for r in range(sh.nrows):
            row = []
            for c in range(sh.ncols):
                cell = sh.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    row.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    row.append(None)
                else:
                    row.append(cell.value)
            grid.append(row)
        merged = [(rlo + 1, rhi, clo + 1, chi) for rlo, rhi, clo, chi in sh.merged_cells]
        sheets.append((sh.name, grid, merged))
    return sheets


def _grid_csv(path: Path) -> list[tuple[str, list[list[Any]], list[tuple[int, int, int, int]]]]:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in raw[:4096]:
        raise TaizhangError(f"无法读取台账 {path}：不是文本文件（含二进制数据），不像 .csv")
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TaizhangError(f"无法读取台账 {path}：文件编码既不是 UTF-8、GB18030 也不是 UTF-16")
    grid = [[c if c != "" else None for c in row] for row in csv.reader(text.splitlines())]
    return [(path.stem, grid, [])]


def _fill_merged(grid: list[list[Any]], merged: list[tuple[int, int, int, int]],
                 below: int) -> None:
    """Copy each merged range's value into every cell of it (rows after ``below`` only)."""
    for r1, r2, c1, c2 in merged:
        if r1 <= below:
            continue
        value = grid[r1 - 1][c1 - 1] if r1 - 1 < len(grid) and c1 - 1 < len(grid[r1 - 1]) else None
        for r in range(r1, r2 + 1):
            if r - 1 >= len(grid):
                break
            row = grid[r - 1]
            for c in range(c1, c2 + 1):
                while len(row) < c:
                    row.append(None)
                row[c - 1] = value


def _find_header(grid: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    for r, cells in enumerate(grid[:HEADER_SCAN_ROWS], start=1):
        mapping = map_header(cells)
        if all(f in mapping for f in REQUIRED):
            return r, mapping
    return None


def _closest(grid: list[list[Any]]) -> str:
    best, best_row = {}, 0
    for r, cells in enumerate(grid[:HEADER_SCAN_ROWS], start=1):
        mapping = map_header(cells)
        if len(mapping) > len(best):
            best, best_row = mapping, r
    if not best:
        return ""
    missing = "、".join(FIELD_NAMES[f] for f in REQUIRED if f not in best)
    return f"；第{best_row}行最像表头，但缺少“{missing}”列"


def _sub_header(grid: list[list[Any]], header_row: int, cols: dict[str, int]) -> dict[str, int]:
    """The second line of a two-line header, if there is one: it names columns (网址, 文号…) and
    is empty under 单位/条目/完成时间 (merged down from the line above)."""
    if header_row >= len(grid):
        return {}
    below = grid[header_row]
    sub = map_header(below)
    if not sub:
        return {}
    for f in REQUIRED:
        c = cols[f]
        if c not in sub.values() and c < len(below) and _text(below[c]):
            return {}  # a data row that happens to contain a word like 说明
    return sub


def read_taizhang(path: str | Path) -> Taizhang:
    """The 台账's rows, from the first sheet (active sheet first) that has a header row."""
    path = Path(path)
    suffix = path.suffix.lower()
    readers = {".xlsx": _grid_openpyxl, ".xlsm": _grid_openpyxl, ".xls": _grid_xlrd,
               ".csv": _grid_csv}
    reader = readers.get(suffix)
    if reader is None:
        raise TaizhangError(f"无法读取台账 {path}：只支持 .xlsx、.xls 和 .csv 文件")
    if not path.is_file():
        raise TaizhangError(f"找不到台账文件 {path}")
    too_large = size_problem(path) or (
        unpacked_size_problem(path) if suffix in (".xlsx", ".xlsm") else None
    )
    if too_large:  # refused before any reader loads it
        raise TaizhangError(f"无法读取台账 {path}：{too_large}")
    try:
        sheets = reader(path)
    except TaizhangError:
        raise
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        raise TaizhangError(f"无法读取台账 {path}：文件已损坏或不是 {suffix} 格式（{exc}）") from exc
    except Exception as exc:  # xlrd.XLRDError and other parser failures
        raise TaizhangError(f"无法读取台账 {path}：{type(exc).__name__}: {exc}") from exc
    hints = []
    for name, grid, merged in sheets:
        found = _find_header(grid)
        if found is None:
            hints.append(f"工作表“{name}”{_closest(grid) or '没有可识别的列名'}")
            continue
        header_row, cols = found
        names = {f: _text(grid[header_row - 1][c]) for f, c in cols.items()}
        first_data = header_row + 1
        sub = _sub_header(grid, header_row, cols)
        if sub:  # 佐证材料 over 网址 | 文号 | 说明: the lower row names those columns
            cols = {f: c for f, c in cols.items() if c not in sub.values() and f not in sub}
            names = {f: names[f] for f in cols}
            cols.update(sub)
            names.update({f: _text(grid[header_row][c]) for f, c in sub.items()})
            first_data += 1
        _fill_merged(grid, merged, first_data - 1)
        rows = []
        for r in range(first_data, len(grid) + 1):
            cells = grid[r - 1]

            def cell(name: str, cells: list[Any] = cells, cols: dict[str, int] = cols) -> Any:
                c = cols.get(name)
                return cells[c] if c is not None and c < len(cells) else None

            filled = [v for v in cells if _text(v)]
            if not filled:
                continue
            unit, item = _text(cell("unit")), item_text(cell("item"))
            done = cell("done")
            url, doc, note = classify_evidence(_text(cell("url")), _text(cell("doc")),
                                               _text(cell("note")))
            if len(filled) == 1 and not (item or _text(done) or url or doc):
                continue  # a lone note line: 填表说明、合计、填表人…
            rows.append(TaizhangRow(row=r, unit=unit, item=item,
                                    done=done if _text(done) else None,
                                    period=_text(cell("period")), url=url, doc=doc, note=note))
        ordered = sorted(cols, key=lambda f: cols[f])
        return Taizhang(path=path, sheet=name, header_row=header_row,
                        columns={f: names[f] for f in ordered}, rows=rows)
    need = "、".join(f"“{FIELD_NAMES[f]}”" for f in REQUIRED)
    raise TaizhangError(f"无法读取台账 {path}：前{HEADER_SCAN_ROWS}行中找不到包含{need}列的表头（"
                        + "；".join(hints) + "）")


__all__ = ["FIELDS", "DateProblem", "Taizhang", "TaizhangError", "TaizhangRow",
           "classify_evidence", "cn_number", "header_key", "item_text", "map_header",
           "parse_done", "period_key", "read_taizhang"]
