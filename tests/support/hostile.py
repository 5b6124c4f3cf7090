"""Hostile and broken input files, generated in the tests (no binaries in the repository).

Empty files, random bytes, a PNG, a zip that is no Office document, a 50 MB sparse file,
text in other encodings, an .xlsx task table with merged cells and formula cells (with or
without the result Excel would have saved), a .docx whose plan sits inside tables.
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import docx
import openpyxl

MB = 1024 * 1024


def random_bytes(n: int = 4096, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def png() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def zip_not_office(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "这是一个压缩包，不是 Office 文档")
    return path


def zip_bomb(path: Path, unpacked_mb: int) -> Path:
    """A small .xlsx-named zip whose one member unpacks to ``unpacked_mb`` MB of zeros."""
    block = b"\x00" * MB
    with (zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
          archive.open("xl/worksheets/sheet1.xml", "w") as member):
        for _ in range(unpacked_mb):
            member.write(block)
    return path


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that costs no disk and no time to make (a hole after ``head``)."""
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


PLAN_TEXT = """\
新源市2025年政务公开工作要点
一、加强政策解读
1.做好政策解读工作。新出台的政策文件须于5个工作日内发布解读材料。（牵头单位：市政府办公室；责任单位：各县区政府）
2.推进基层政务公开标准化。9月15日前完成事项目录编制。（牵头单位：市司法局）
"""
PLAN_TEXT_TRADITIONAL = """\
新源市2025年政務公開工作要點
一、加強政策解讀
1.做好政策解讀工作。新出臺的政策文件須於5個工作日內發布解讀材料。（牽頭單位：市政府辦公室；責任單位：各縣區政府）
2.推進基層政務公開標準化。9月15日前完成事項目錄編制。（牽頭單位：市司法局）
"""

TASK_TITLE = "新源市2025年政务公开重点任务分解表"
TASK_HEADER = ["序号", "重点任务", "工作要求", "牵头单位", "完成时限"]


def task_table_xlsx(path: Path, *, cached: bool) -> Path:
    """A 任务分解表 as offices make them: a merged title, a 重点任务 cell merged over two
    measures, 序号 computed by =ROW()-2, and a 时限 given by a formula.

    ``cached=True`` adds the results Excel or WPS save with every formula (openpyxl cannot
    compute them); ``cached=False`` is the file as a program wrote it: formulas only.
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "分解表"
    ws["A1"] = TASK_TITLE
    ws.merge_cells("A1:E1")
    ws.append(TASK_HEADER)
    ws.append(["=ROW()-2", "推进政策解读", "新出台政策文件5个工作日内发布解读", "市政府办公室", None])
    ws.append(["=ROW()-2", None, "每季度结束后10个工作日内报送解读情况", "市政府办公室", "每季度"])
    ws.merge_cells("B3:B4")
    ws.append(["=ROW()-2", "编制公开事项目录", "完成基层政务公开事项目录", "市司法局",
               '="9月"&"15日前"'])
    wb.save(path)
    if cached:
        with_cached_results(path, "xl/worksheets/sheet1.xml",
                            {"A3": ("n", "1"), "A4": ("n", "2"), "A5": ("n", "3"),
                             "E5": ("str", "9月15日前")})
    return path


def with_cached_results(path: Path, member: str, results: dict[str, tuple[str, str]]) -> None:
    """Write saved formula results into an .xlsx, as Excel does: ``{"A3": ("n", "1")}``."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                xml = data.decode("utf-8")
                for ref, (kind, value) in results.items():
                    pattern = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*>\s*</v></c>'
                                         rf'|<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/></c>')
                    m = pattern.search(xml)
                    assert m, f"no formula cell {ref} in {member}"
                    attrs = m.group(1) if m.group(1) is not None else m.group(3)
                    attrs = re.sub(r'\s+t="[^"]*"', "", attrs)  # keep the style (s="…")
                    formula = m.group(2) if m.group(2) is not None else m.group(4)
                    xml = (xml[: m.start()] + f'<c r="{ref}"{attrs} t="{kind}"><f>{formula}</f>'
                           f"<v>{value}</v></c>" + xml[m.end():])
                data = xml.encode("utf-8")
            dst.writestr(info, data)
    shutil.move(tmp, path)


def plan_in_tables_docx(path: Path) -> Path:
    """A Word plan whose text lives in tables: a one-column layout table holding the numbered
    items, then a 任务分解表 with a header row."""
    document = docx.Document()
    document.add_paragraph("新源市2025年政务公开工作要点")
    layout = document.add_table(rows=0, cols=1)
    for line in PLAN_TEXT.splitlines()[1:]:
        layout.add_row().cells[0].text = line
    document.save(path)
    return path


def task_table_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph(TASK_TITLE)
    table = document.add_table(rows=1, cols=len(TASK_HEADER))
    for cell, word in zip(table.rows[0].cells, TASK_HEADER, strict=True):
        cell.text = word
    for row in (["1", "推进政策解读", "新出台政策文件5个工作日内发布解读", "市政府办公室", ""],
                ["2", "", "每季度结束后10个工作日内报送解读情况", "市政府办公室", "每季度"],
                ["3", "编制公开事项目录", "完成基层政务公开事项目录", "市司法局", "9月15日前"]):
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    table.cell(1, 1).merge(table.cell(2, 1))  # the 重点任务 cell spans its two measures
    document.save(path)
    return path


# The files every reader must refuse: name → (file suffix, writer).
Writer = Callable[[Path], None]
BROKEN: dict[str, Writer] = {
    "empty": lambda p: p.write_bytes(b""),
    "blank": lambda p: p.write_bytes(b" \r\n\t\n"),
    "random-bytes": lambda p: p.write_bytes(random_bytes()),
    "png": lambda p: p.write_bytes(png()),
    "zip-not-office": lambda p: zip_not_office(p) and None,
}


def row_counts(url: str) -> dict[str, int]:
    """Rows in every table of the duban schema: what 'nothing was written' is checked against."""
    import sqlalchemy as sa

    from db.models import Base
    from db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.scalar(sa.select(sa.func.count()).select_from(t))
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


TAIZHANG_HEADER = ["序号", "单位名称", "条目", "完成时间", "网址"]


def taizhang_xlsx(path: Path, *, cached: bool) -> Path:
    """A 台账 for the example plan (config/plans/2020-chaoyang.yaml): a merged title, the unit
    cell merged down over its two rows, completion dates typed as =DATE(…) formulas.

    ``cached=True`` adds the results Excel saves (date serials); ``cached=False`` leaves the
    formulas without results, as a program writes them.
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "9月台账"
    ws["A1"] = "朝阳市2020年政务公开工作任务落实台账"
    ws.merge_cells("A1:E1")
    ws.append(["填报日期：2020年10月9日"])
    ws.append(TAIZHANG_HEADER)
    ws.append([1, "市司法局", "6", "=DATE(2020,9,14)", "http://sfj.example.gov.cn/zl"])
    ws.append([2, None, "21", "=DATE(2020,9,25)", "http://sfj.example.gov.cn/gk"])
    ws.merge_cells("B4:B5")
    for ref in ("D4", "D5"):
        ws[ref].number_format = "yyyy-mm-dd"
    wb.save(path)
    if cached:
        serial = {ref: (date(2020, 9, day) - date(1899, 12, 30)).days
                  for ref, day in (("D4", 14), ("D5", 25))}
        with_cached_results(path, "xl/worksheets/sheet1.xml",
                            {ref: ("n", str(n)) for ref, n in serial.items()})
    return path
