"""The digest table as an .xlsx attachment.

Formula injection: unit names and item titles come from imported documents; text that starts
with ``= + - @`` (or a tab/CR) is written as a string cell with Excel's quote prefix by the
shared rule in :mod:`notifications.cells`, so no name can ever become a formula.

Speed: openpyxl needs ~5-7 ms per small workbook (default styles, theme, stylesheet and a
temp file every time), which made the .xlsx the most expensive part of a digest mail. So
openpyxl writes the workbook *layout* once per table shape (styles, theme, column widths,
frozen header, the style id of every column) and ``table_xlsx`` then only generates the
sheet's rows and zips the parts (~0.3 ms). ``table_xlsx_openpyxl`` is the plain openpyxl
writer; the tests check that both produce the same cells, styles and layout.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from notifications.cells import clean_text, is_formula_like, put
from notifications.models import Attachment
from notifications.render import SHANGHAI, DigestContext, DigestRow, cn_date, workdays_phrase

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DIGEST_HEADERS = ("序号", "事项", "工作要求", "截止日期", "剩余/逾期工作日", "状态")
DIGEST_WIDTHS = (6, 40, 50, 22, 18, 12)
_WRAP_MIN_WIDTH = 30  # columns this wide wrap their text
_SHEET = "xl/worksheets/sheet1.xml"
_CORE = "docProps/core.xml"
_EPOCH_ZIP = (1980, 1, 1, 0, 0, 0)


def digest_rows(rows: Iterable[DigestRow]) -> list[tuple[object, ...]]:
    """The table rows exactly as the mail shows them (same order, same phrasing)."""
    return [
        (
            i,
            r.item,
            r.requirement,
            cn_date(r.due_date),
            workdays_phrase(r.working_days_left),
            r.status_label,
        )
        for i, r in enumerate(rows, start=1)
    ]


# --------------------------------------------------------------------------- openpyxl


def table_xlsx_openpyxl(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    sheet_title: str = "清单",
    widths: Sequence[int] = (),
    created: datetime | None = None,
) -> bytes:
    """A one-sheet workbook with a bold, frozen header row; every text cell is escaped."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title
    for r, row in enumerate([headers, *rows], start=1):
        for c, value in enumerate(row, start=1):
            put(ws.cell(row=r, column=c), value)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEF1F5")
    for cell in ws[1]:
        cell.font = bold
        cell.fill = fill
    wrap = Alignment(wrap_text=True, vertical="top")
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
        if width >= _WRAP_MIN_WIDTH:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.alignment = wrap
    ws.freeze_panes = "A2"
    wb.properties.creator = "duban"
    if created is not None:
        # Stable metadata: the same digest gives the same document properties on a retry.
        naive_utc = created.astimezone(UTC).replace(tzinfo=None)  # openpyxl stores naive UTC
        wb.properties.created = naive_utc
        wb.properties.modified = naive_utc
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- fast path


@dataclass(frozen=True)
class _Layout:
    """Parts of an openpyxl-written workbook that do not depend on the rows."""

    static_zip: bytes  # every part except the sheet and core.xml, already compressed
    sheet_head: str  # sheet XML up to <sheetData>, with a "{dimension}" placeholder
    sheet_tail: str  # sheet XML after </sheetData>
    core: str  # core.xml with "{created}" placeholders
    header_styles: tuple[str, ...]  # ' s="1"' or "" per column
    body_styles: tuple[str, ...]
    quoted_styles: tuple[str, ...]  # body style + quotePrefix, for formula-like text
    letters: tuple[str, ...]


_CELL_STYLE = re.compile(r'<c r="([A-Z]+)(\d+)"( s="\d+")?')
_W3CDTF = re.compile(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


@lru_cache(maxsize=16)
def _layout(headers: tuple[str, ...], widths: tuple[int, ...], sheet_title: str) -> _Layout:
    """Let openpyxl write the table shape once (header, a plain and a formula-like sample row)
    and keep the parts."""
    sample, quoted = ["x"] * len(headers), ["=x"] * len(headers)
    data = table_xlsx_openpyxl(headers, [sample, quoted], sheet_title=sheet_title, widths=widths)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = [(name, zf.read(name)) for name in zf.namelist()]
    by_name = dict(parts)
    sheet = by_name[_SHEET].decode("utf-8")
    head, rest = sheet.split("<sheetData>", 1)
    _, tail = rest.split("</sheetData>", 1)
    styles = {(m.group(1), m.group(2)): m.group(3) or "" for m in _CELL_STYLE.finditer(rest)}
    letters = tuple(get_column_letter(i) for i in range(1, len(headers) + 1))
    static = io.BytesIO()
    with zipfile.ZipFile(static, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, part in parts:
            if name not in (_SHEET, _CORE):
                zf.writestr(zipfile.ZipInfo(name, _EPOCH_ZIP), part, zipfile.ZIP_DEFLATED)
    return _Layout(
        static_zip=static.getvalue(),
        sheet_head=re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="{dimension}"/>', head),
        sheet_tail=tail,
        core=_W3CDTF.sub(r"\1{created}\3", by_name[_CORE].decode("utf-8")),
        header_styles=tuple(styles[(c, "1")] for c in letters),
        body_styles=tuple(styles[(c, "2")] for c in letters),
        quoted_styles=tuple(styles[(c, "3")] for c in letters),
        letters=letters,
    )


def _xml_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _cell(ref: str, style: str, quoted_style: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"{style} t="n"><v>{value}</v></c>'
    text = clean_text(str(value))
    if is_formula_like(text):
        style = quoted_style  # a string cell anyway (inlineStr); the prefix keeps it so on edit
    if not text:
        return f'<c r="{ref}"{style} t="inlineStr"></c>'  # what openpyxl writes for ""
    space = ' xml:space="preserve"' if text != text.strip() else ""  # as openpyxl does
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_xml_text(text)}</t></is></c>'


def table_xlsx(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    sheet_title: str = "清单",
    widths: Sequence[int] = (),
    created: datetime | None = None,
) -> bytes:
    """Same workbook as ``table_xlsx_openpyxl`` (layout by openpyxl), ~20x faster per call."""
    layout = _layout(tuple(headers), tuple(widths), sheet_title)
    n_cols = len(layout.letters)
    out: list[str] = []
    all_rows = [list(headers), *(list(r) for r in rows)]
    for r, row in enumerate(all_rows, start=1):
        if len(row) > n_cols:
            raise ValueError(f"row {r} has {len(row)} cells, the table has {n_cols} columns")
        styles = layout.header_styles if r == 1 else layout.body_styles
        # header text is part of the layout's key: row 1 already carries its quote prefix
        quoted = layout.header_styles if r == 1 else layout.quoted_styles
        cells = "".join(_cell(f"{layout.letters[c]}{r}", styles[c], quoted[c], v)
                        for c, v in enumerate(row))
        out.append(f'<row r="{r}">{cells}</row>')
    dimension = f"A1:{layout.letters[-1]}{len(all_rows)}"
    sheet = "".join(
        (
            layout.sheet_head.replace("{dimension}", dimension),
            "<sheetData>",
            *out,
            "</sheetData>",
            layout.sheet_tail,
        )
    )
    stamp = (created or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)
    core = layout.core.replace("{created}", stamp.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Append the two generated parts to the pre-compressed static ones (deflating the theme
    # and styles again for every mail was half the cost). Fixed timestamps: the same rows
    # always give the same bytes, so a retried mail carries an identical attachment.
    buf = io.BytesIO(layout.static_zip)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((_CORE, core), (_SHEET, sheet)):
            info = zipfile.ZipInfo(name, _EPOCH_ZIP)
            zf.writestr(info, data.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# --------------------------------------------------------------------------- digest


def digest_xlsx(ctx: DigestContext) -> bytes:
    return table_xlsx(
        DIGEST_HEADERS,
        digest_rows(ctx.rows),
        sheet_title="督办事项",
        widths=DIGEST_WIDTHS,
        created=ctx.generated_at,
    )


def digest_filename(ctx: DigestContext) -> str:
    d = ctx.generated_at.astimezone(SHANGHAI).date()
    return f"督办事项清单_{d:%Y%m%d}.xlsx"


def digest_attachment(ctx: DigestContext) -> Attachment:
    """The .xlsx of a digest's rows, ready to attach to the mail."""
    return Attachment(digest_filename(ctx), digest_xlsx(ctx), XLSX_MIME)
