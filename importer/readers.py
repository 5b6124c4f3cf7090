"""Read the documents a coordinator receives: plain text, Word (.docx) and Excel 任务分解表.

Everything comes back as a :class:`Document`: the text in reading order (for .docx: paragraphs
and tables interleaved as in the file) and, when the file holds a task table (任务分解表, a header
row with 任务/要求/牵头单位/责任单位/时限 columns), its rows keyed by column role. Cells merged
across rows repeat their value in every row they cover, because a merged 重点任务 cell is the
task of each measure listed beside it.

A file we cannot read raises :class:`DocumentError` naming the file and saying why.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from duban.errors import UserError
from duban.inputs import (
    InputTooLarge,
    read_bounded,
    uncached_formula_cells,
    uncached_formula_problem,
    unpacked_size_problem,
)

__all__ = [
    "ROLE_LABELS",
    "Document",
    "DocumentError",
    "TableRow",
    "decode_text",
    "find_task_table",
    "read_document",
]

TEXT_SUFFIXES = {".txt", ".text", ""}
SUPPORTED = ".txt、.docx、.xlsx、.xls"


class DocumentError(UserError):
    """A document that cannot be read; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"无法读取文件 {self.path}：{reason}")


@dataclass(frozen=True)
class TableRow:
    """One data row of a task table: ``cells`` maps a column role to the cell text."""

    cells: dict[str, str]
    where: str  # "Sheet1 第5行" / "表格1 第3行": for review notes and errors

    def get(self, role: str) -> str:
        return self.cells.get(role, "")


@dataclass(frozen=True)
class Document:
    """A document's text in reading order, plus the rows of any task table it contains."""

    path: Path
    kind: str  # text | docx | xlsx | xls
    text: str
    rows: tuple[TableRow, ...] = ()
    sha256: str = ""
    encoding: str | None = None
    table_titles: tuple[str, ...] = field(default=())  # text above a task table's header


# --- plain text ------------------------------------------------------------------------------


def _plausible_share(text: str) -> float:
    """Share of characters a Chinese document is made of: Han, ASCII, CJK punctuation."""
    sample = text[:2000]
    if not sample:
        return 0.0
    ok = sum(
        1
        for ch in sample
        if " " <= ch <= "~"
        or ch in "\r\n\t"
        or "\u4e00" <= ch <= "\u9fff"
        or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef"
        or "\u2010" <= ch <= "\u2027"
    )
    return ok / len(sample)


def _utf16_encoding(data: bytes) -> str | None:
    """"utf-16" for text with a UTF-16 byte-order mark (Windows Notepad's "Unicode"), the
    byte order of BOM-less UTF-16 text (zero bytes, and it decodes to Chinese text), else None."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" not in data[:4096] or len(data) % 2:
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data[:4096].decode(encoding)
        except UnicodeDecodeError:
            continue
        if _plausible_share(text) >= 0.9:
            return encoding
    return None


def decode_text(data: bytes, path: str | Path) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), GB18030, UTF-16 or Big5; refuse binary data.

    UTF-8 is tried strictly first: a GB18030 file is almost never valid UTF-8, while GB18030 can
    decode nearly any byte string, so the reverse order would garble UTF-8 files. UTF-16 is
    recognised by its byte-order mark or its zero bytes; Big5 is the last resort. Text that is
    only blanks and control characters counts as empty.
    """
    text, encoding = _decode(data, path)
    if not text.strip():
        raise DocumentError(path, "文件是空的")
    return text, encoding


def _decode(data: bytes, path: str | Path) -> tuple[str, str]:
    if not data.strip():
        raise DocumentError(path, "文件是空的")
    if data.startswith(b"%PDF"):
        raise DocumentError(path, "这是 PDF 文件，不支持；请先转换为文字（.txt）或 Word（.docx）")
    utf16 = _utf16_encoding(data)
    if utf16 is not None:
        try:
            text = data.decode(utf16)
        except UnicodeDecodeError as exc:
            raise DocumentError(path, f"看起来是 UTF-16 编码的文本，但第 {exc.start} 字节处无法解码") from exc
        if _looks_like_text(text):
            return text, utf16
        raise DocumentError(path, "不是文本文件（含二进制数据）；支持的格式：" + SUPPORTED)
    if b"\x00" in data[:4096]:
        raise DocumentError(path, "不是文本文件（含二进制数据）；支持的格式：" + SUPPORTED)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        if _looks_like_text(text):
            return text, "utf-8"
        raise DocumentError(path, "不是文本文件（含二进制数据）；支持的格式：" + SUPPORTED)
    # GB18030 decodes most Big5 files too, into rare characters: prefer the plausible reading.
    fallback: tuple[str, str] | None = None
    for encoding in ("gb18030", "big5"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not _looks_like_text(text):
            continue
        if _plausible_share(text) >= 0.9:
            return text, encoding
        fallback = fallback or (text, encoding)
    if fallback is not None:
        return fallback
    raise DocumentError(
        path, "不是 UTF-8、GB18030、UTF-16 或 Big5 编码的文本，或内容不是文字；请另存为 UTF-8 文本"
    )


def _looks_like_text(text: str) -> bool:
    sample = text[:20000]
    bad = sum(
        1
        for ch in sample
        if (ord(ch) < 32 and ch not in "\r\n\t\f") or 0xE000 <= ord(ch) <= 0xF8FF or ch == "\ufffd"
    )
    return bad <= max(2, len(sample) // 100)


# --- task tables -----------------------------------------------------------------------------

# Column roles and the header words that name them. Exact matches win over "contains".
_ROLE_HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("序号", "编号", "序列号", "项次"),
    "task": (
        "重点任务",
        "工作任务",
        "主要任务",
        "任务名称",
        "任务",
        "重点工作",
        "工作事项",
        "事项",
    ),
    "requirement": (
        "工作要求",
        "具体要求",
        "工作内容",
        "具体内容",
        "主要内容",
        "具体措施",
        "工作措施",
        "任务要求",
        "任务内容",
        "主要措施",
    ),
    "lead": ("牵头单位", "牵头部门", "主办单位", "牵头"),
    "responsible": (
        "责任单位",
        "责任部门",
        "配合单位",
        "配合部门",
        "协办单位",
        "参与单位",
        "责任主体",
    ),
    "time_limit": (
        "完成时限",
        "时限",
        "时间节点",
        "完成时间",
        "办结时限",
        "时间要求",
        "进度安排",
        "时间安排",
    ),
}
ROLE_LABELS = {
    "number": "序号",
    "task": "任务",
    "requirement": "要求",
    "lead": "牵头单位",
    "responsible": "责任单位",
    "time_limit": "时限",
}
_HEADER_SCAN_ROWS = 15


def _header_key(cell: str) -> str:
    from importer.normalize import normalize_text

    return re.sub(r"[\s:：*＊]", "", normalize_text(cell))


def _role_of(cell: str) -> str | None:
    key = _header_key(cell)
    if not key or len(key) > 12:
        return None
    for role, words in _ROLE_HEADERS.items():
        if key in words:
            return role
    for role, words in _ROLE_HEADERS.items():
        if any(w in key for w in words if len(w) >= 2):
            return role
    return None


def _header_roles(row: Sequence[str]) -> dict[int, str]:
    roles: dict[int, str] = {}
    for col, cell in enumerate(row):
        role = _role_of(cell)
        if role and role not in roles.values():
            roles[col] = role
    return roles


def find_task_table(
    grid: Sequence[Sequence[str]], name: str
) -> tuple[list[TableRow], list[str]] | None:
    """Find the header row of a 任务分解表 in ``grid`` and return its data rows.

    The header is the row (among the first 15) naming the most column roles; it must name a
    task or requirement column and at least one unit or time-limit column. Returns the rows and
    the non-empty text above the header (usually the table's title), or None if no header.
    """
    best: tuple[int, dict[int, str]] | None = None
    for r, row in enumerate(grid[:_HEADER_SCAN_ROWS]):
        roles = _header_roles(row)
        values = set(roles.values())
        if not values & {"task", "requirement"} or not values & {
            "lead",
            "responsible",
            "time_limit",
        }:
            continue
        if best is None or len(roles) > len(best[1]):
            best = (r, roles)
    if best is None:
        return None
    header_row, roles = best
    titles = [
        " ".join(dict.fromkeys(c.strip() for c in row if c.strip())) for row in grid[:header_row]
    ]
    rows: list[TableRow] = []
    previous_task = ""
    for r in range(header_row + 1, len(grid)):
        raw = grid[r]
        cells = {role: (raw[col].strip() if col < len(raw) else "") for col, role in roles.items()}
        if not any(cells.values()):
            continue
        if _header_roles(raw) == roles:  # header repeated (printed tables repeat it per page)
            continue
        if not cells.get("task") and not cells.get("requirement"):
            continue  # a 合计/备注 line or a stray unit cell
        if "task" in cells and not cells["task"] and cells.get("requirement"):
            cells["task"] = previous_task  # blank (unmerged) task cell under a task group
        previous_task = cells.get("task", "") or previous_task
        rows.append(TableRow(cells=cells, where=f"{name} 第{r + 1}行"))
    return rows, [t for t in titles if t]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fill_merged(grid: list[list[str]], ranges: Iterable[tuple[int, int, int, int]]) -> None:
    """Copy each merged range's top-left value into every cell it covers (0-based, end-exclusive)."""
    for r0, r1, c0, c1 in ranges:
        value = grid[r0][c0] if r0 < len(grid) and c0 < len(grid[r0]) else ""
        for r in range(r0, min(r1, len(grid))):
            row = grid[r]
            while len(row) < c1:
                row.append("")
            for c in range(c0, c1):
                row[c] = value


# --- spreadsheets ----------------------------------------------------------------------------


def _read_xlsx(path: Path) -> list[tuple[str, list[list[str]]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise DocumentError(
            path, f"不是有效的 Excel (.xlsx) 文件（{type(exc).__name__}: {exc}）"
        ) from exc
    sheets = []
    for ws in book.worksheets:
        grid = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        _fill_merged(
            grid,
            ((m.min_row - 1, m.max_row, m.min_col - 1, m.max_col) for m in ws.merged_cells.ranges),
        )
        sheets.append((ws.title, grid))
    problem = uncached_formula_problem(uncached_formula_cells(path, book))
    if problem:
        raise DocumentError(path, problem)
    return sheets


def _read_xls(path: Path) -> list[tuple[str, list[list[str]]]]:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), formatting_info=True)
    except Exception as exc:
        raise DocumentError(
            path, f"不是有效的 Excel 97-2003 (.xls) 文件（{type(exc).__name__}: {exc}）"
        ) from exc
    sheets = []
    for sheet in book.sheets():
        grid: list[list[str]] = []
        for r in range(sheet.nrows):
            row = []
            for c in range(sheet.ncols):
                cell = sheet.cell(r, c)
                value: Any = cell.value
                if cell.ctype == xlrd.XL_CELL_DATE:
                    value = xlrd.xldate_as_datetime(cell.value, book.datemode)
                row.append(_cell_text(value))
            grid.append(row)
        _fill_merged(grid, sheet.merged_cells)  # xlrd gives (rlo, rhi, clo, chi), end-exclusive
        sheets.append((sheet.name, grid))
    return sheets


def _spreadsheet_document(path: Path, kind: str, data: bytes) -> Document:
    sheets = _read_xlsx(path) if kind == "xlsx" else _read_xls(path)
    rows: list[TableRow] = []
    titles: list[str] = []
    texts: list[str] = []
    for name, grid in sheets:
        found = find_task_table(grid, name)
        if found is None:
            texts.extend("\t".join(c for c in row if c) for row in grid if any(row))
            continue
        rows.extend(found[0])
        titles.extend(found[1])
    if not rows:
        raise DocumentError(
            path,
            "没有找到任务分解表：表头应包含“任务/工作要求”列和“牵头单位/责任单位/时限”列之一",
        )
    return Document(
        path=path,
        kind=kind,
        text="\n".join(titles + texts),
        rows=tuple(rows),
        sha256=hashlib.sha256(data).hexdigest(),
        table_titles=tuple(titles),
    )


# --- Word ------------------------------------------------------------------------------------


_CN_COUNT = "零一二三四五六七八九"
_CHINESE_FORMATS = {
    "chineseCounting",
    "chineseCountingThousand",
    "chineseLegalSimplified",
    "ideographTraditional",
    "japaneseCounting",
    "taiwaneseCounting",
    "taiwaneseCountingThousand",
}


def _chinese_count(n: int) -> str:
    if n < 10:
        return _CN_COUNT[n]
    if n < 20:
        return "十" + (_CN_COUNT[n - 10] if n > 10 else "")
    if n < 100:
        return _CN_COUNT[n // 10] + "十" + (_CN_COUNT[n % 10] if n % 10 else "")
    return str(n)


def _format_number(n: int, fmt: str) -> str:
    if fmt in _CHINESE_FORMATS:
        return _chinese_count(n)
    if fmt == "decimalEnclosedCircle" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt in ("lowerLetter", "upperLetter") and 1 <= n <= 26:
        return chr((0x61 if fmt == "lowerLetter" else 0x41) + n - 1)
    if fmt in ("none", "bullet"):
        return ""
    return str(n)


class _DocxNumbering:
    """Word's automatic list numbers ("1." "一、" "（一）"), which python-docx does not render.

    Plans typed in Word often number items with a list style; without the numbers the
    segmenter could not see the items. We rebuild the printed label from numbering.xml:
    each (numId, level) counts up, a higher level restarts the lower ones, and ``lvlText``
    ("%1、", "（%1）", "%1.%2") gives the shape.
    """

    def __init__(self, document: Any) -> None:
        from docx.oxml.ns import qn

        self._qn = qn
        self._levels: dict[str, dict[int, tuple[int, str, str]]] = {}
        self._counters: dict[str, dict[int, int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[int, str, str]]] = {}
        for node in root.findall(qn("w:abstractNum")):
            levels: dict[int, tuple[int, str, str]] = {}
            for lvl in node.findall(qn("w:lvl")):
                start = lvl.find(qn("w:start"))
                fmt = lvl.find(qn("w:numFmt"))
                text = lvl.find(qn("w:lvlText"))
                levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
                    int(start.get(qn("w:val"), "1")) if start is not None else 1,
                    fmt.get(qn("w:val"), "decimal") if fmt is not None else "decimal",
                    text.get(qn("w:val"), "") if text is not None else "",
                )
            abstract[node.get(qn("w:abstractNumId"), "")] = levels
        for num in root.findall(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            if ref is not None:
                self._levels[num.get(qn("w:numId"), "")] = abstract.get(
                    ref.get(qn("w:val"), ""), {}
                )

    def _num_pr(self, paragraph: Any) -> tuple[str, int] | None:
        qn = self._qn
        for ppr in (
            paragraph._p.pPr,
            getattr(paragraph.style.element, "pPr", None) if paragraph.style else None,
        ):
            if ppr is None:
                continue
            num_pr = ppr.find(qn("w:numPr"))
            if num_pr is None:
                continue
            num_id = num_pr.find(qn("w:numId"))
            ilvl = num_pr.find(qn("w:ilvl"))
            if num_id is None:
                continue
            return num_id.get(qn("w:val"), ""), int(
                ilvl.get(qn("w:val"), "0")
            ) if ilvl is not None else 0
        return None

    def label(self, paragraph: Any) -> str:
        """The printed number of ``paragraph`` ("" if it has none); advances the counters."""
        found = self._num_pr(paragraph)
        if found is None or found[0] == "0" or found[0] not in self._levels:
            return ""
        num_id, ilvl = found
        levels = self._levels[num_id]
        if ilvl not in levels:
            return ""
        counters = self._counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels[ilvl][0] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        text = levels[ilvl][2]

        def value(m: re.Match[str]) -> str:
            level = int(m.group(1)) - 1
            start, fmt, _ = levels.get(level, (1, "decimal", ""))
            return _format_number(counters.get(level, start), fmt)

        return re.sub(r"%(\d)", value, text)


def _read_docx(path: Path, data: bytes) -> Document:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise DocumentError(
            path, f"不是有效的 Word (.docx) 文件（{type(exc).__name__}: {exc}）"
        ) from exc
    numbering = _DocxNumbering(document)
    lines: list[str] = []
    rows: list[TableRow] = []
    titles: list[str] = []
    table_no = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            table_no += 1
            grid = [[cell.text.strip() for cell in row.cells] for row in block.rows]
            found = find_task_table(grid, f"表格{table_no}")
            if found is not None and found[0]:
                rows.extend(found[0])
                # Word puts a table's title in the paragraph above it, not in the table.
                above = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
                titles.extend(found[1] or ([above] if above and len(above) <= 60 else []))
                continue
            for row in grid:
                cells = [c for c in dict.fromkeys(row) if c]  # merged cells repeat: keep once
                if cells:
                    lines.append("\t".join(cells))
        else:
            label = numbering.label(block) if block.text.strip() else ""
            lines.extend((label + block.text).split("\n"))
    text = "\n".join(lines)
    if not text.strip() and not rows:
        raise DocumentError(path, "Word 文件里没有文字")
    return Document(
        path=path,
        kind="docx",
        text=text,
        rows=tuple(rows),
        sha256=hashlib.sha256(data).hexdigest(),
        table_titles=tuple(titles),
    )


# --- entry point -----------------------------------------------------------------------------


def read_document(path: str | Path) -> Document:
    """Read ``path`` by its suffix (checked against its first bytes); see the module docstring."""
    p = Path(path)
    try:
        data = read_bounded(p)  # a 50 MB file is refused before it is read
    except InputTooLarge as exc:
        raise DocumentError(p, exc.reason) from exc
    except FileNotFoundError as exc:
        raise DocumentError(p, "文件不存在") from exc
    except IsADirectoryError as exc:
        raise DocumentError(p, "这是一个目录，不是文件") from exc
    except OSError as exc:
        raise DocumentError(p, f"读取失败（{exc.strerror or exc}）") from exc
    suffix = p.suffix.lower()
    if suffix == ".pdf" or data.startswith(b"%PDF"):
        raise DocumentError(p, "PDF 文件不支持；请先转换为文字（.txt）或 Word（.docx）")
    if suffix == ".doc":
        raise DocumentError(p, "旧版 Word (.doc) 不支持；请在 Word/WPS 中另存为 .docx")
    if not data.strip():
        raise DocumentError(p, "文件是空的")
    if suffix in (".docx", ".xlsx", ".xlsm"):
        if not zipfile.is_zipfile(p):
            raise DocumentError(p, f"扩展名是 {suffix}，但文件内容不是 Office 文档")
        unpacked = unpacked_size_problem(p)
        if unpacked:
            raise DocumentError(p, unpacked)
        if suffix == ".docx":
            return _read_docx(p, data)
        return _spreadsheet_document(p, "xlsx", data)
    if suffix == ".xls":
        return _spreadsheet_document(p, "xls", data)
    if suffix in TEXT_SUFFIXES:
        text, encoding = decode_text(data, p)
        return Document(
            path=p,
            kind="text",
            text=text,
            sha256=hashlib.sha256(data).hexdigest(),
            encoding=encoding,
        )
    raise DocumentError(p, f"不支持的文件类型“{suffix}”；支持：{SUPPORTED}")
