"""Reading documents: text encodings, Word (paragraphs + tables in order), Excel task tables."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import docx
import openpyxl
import pytest

from importer.readers import DocumentError, find_task_table, read_document

from .conftest import FIXTURES

TEXT = "2025年政务公开工作要点\n一、加强政策解读\n（一）做好政策解读。6月底前完成。"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("gb18030"), "gb18030"),
    ],
)
def test_text_is_read_as_utf8_with_or_without_bom_or_gb18030(
    tmp_path: Path, data: bytes, encoding: str
) -> None:
    path = tmp_path / "plan.txt"
    path.write_bytes(data)
    document = read_document(path)
    assert document.kind == "text"
    assert document.encoding == encoding
    assert document.text.lstrip("\ufeff") == TEXT


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "plan.txt"
    path.write_bytes(TEXT.encode("gb18030"))
    assert read_document(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "空"),
        ("blank.txt", b"  \n\n ", "空"),
        ("garbage.txt", random.Random(1).randbytes(2048) + b"\x00", "不是文本文件"),
        ("garbage2.txt", bytes(b for b in random.Random(2).randbytes(4096) if b >= 0x80), "编码"),
        ("plan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        ("disguised.txt", b"%PDF-1.4\n", "PDF"),
        ("plan.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".doc"),
        ("plan.odt", b"PK\x03\x04", "不支持的文件类型"),
        ("plan.docx", b"this is not a zip", "不是 Office 文档"),
        ("plan.xlsx", b"this is not a zip", "不是 Office 文档"),
        ("plan.xls", b"not an excel file at all", ".xls"),
    ],
)
def test_unreadable_files_raise_document_error_naming_the_file(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError) as info:
        read_document(path)
    message = str(info.value)
    assert str(path) in message
    assert reason in message


def test_missing_file_raises_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="不存在"):
        read_document(tmp_path / "nope.txt")


def test_document_error_is_a_user_error_with_exit_code_2(tmp_path: Path) -> None:
    from duban.errors import UserError

    error = DocumentError(tmp_path / "x.pdf", "PDF")
    assert isinstance(error, UserError) and error.exit_code == 2


def _docx_with_table(path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("2025年政务公开工作要点")
    document.add_paragraph("一、加强政策解读")
    document.add_paragraph("（一）做好政策解读。按下表时间公开。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "公开事项"
    table.cell(0, 1).text = "公开时间"
    table.cell(1, 0).text = "政策文件"
    table.cell(1, 1).text = "6月底前"
    document.add_paragraph("（二）加强平台建设。")
    document.save(str(path))


def test_docx_paragraphs_and_tables_come_in_document_order(tmp_path: Path) -> None:
    path = tmp_path / "plan.docx"
    _docx_with_table(path)
    document = read_document(path)
    lines = document.text.split("\n")
    assert lines.index("（一）做好政策解读。按下表时间公开。") < lines.index("政策文件\t6月底前")
    assert lines.index("政策文件\t6月底前") < lines.index("（二）加强平台建设。")
    assert document.rows == ()


def test_docx_task_table_is_read_as_rows(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("新源市2025年政务公开重点任务分解表")
    table = document.add_table(rows=3, cols=4)
    for col, head in enumerate(["序号", "工作任务", "牵头单位", "完成时限"]):
        table.cell(0, col).text = head
    for col, value in enumerate(["1", "集中公开政策文件", "市司法局", "6月底前"]):
        table.cell(1, col).text = value
    for col, value in enumerate(["2", "做好政策解读", "市政府办公室", "每季度"]):
        table.cell(2, col).text = value
    path = tmp_path / "tasks.docx"
    document.save(str(path))
    read = read_document(path)
    assert [r.cells for r in read.rows] == [
        {"number": "1", "task": "集中公开政策文件", "lead": "市司法局", "time_limit": "6月底前"},
        {"number": "2", "task": "做好政策解读", "lead": "市政府办公室", "time_limit": "每季度"},
    ]
    assert read.rows[0].where == "表格1 第2行"


def make_task_xlsx(path: Path) -> None:
    """A 任务分解表: title on row 1, header on row 2, 重点任务 merged over rows 3-4."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "任务分解"
    sheet["A1"] = "新源市2025年政务公开重点任务分解表"
    sheet.merge_cells("A1:F1")
    sheet.append(["序号", "重点任务", "工作要求", "牵头单位", "责任单位", "完成时限"])
    sheet.append(
        [1, "推进政策公开", "集中公开现行有效政策文件", "市司法局", "市政府各部门", "2025年6月底前"]
    )
    sheet.append([2, None, "按季度报送政策解读情况", "市政府办公室", "各县区政府", "每季度"])
    sheet.merge_cells("B3:B4")
    sheet.append(
        [
            3,
            "加强网站监测",
            "常态化开展政府网站内容检查",
            "市政府办公室",
            "市政府各部门",
            "持续推进",
        ]
    )
    sheet.append(
        ["序号", "重点任务", "工作要求", "牵头单位", "责任单位", "完成时限"]
    )  # repeated header
    sheet.append(
        [
            4,
            "做好年度报告",
            "编制发布政府信息公开工作年度报告",
            "市政府办公室",
            "各有关单位",
            date(2025, 1, 31),
        ]
    )
    sheet.append([None] * 6)
    sheet.append(["备注：时限以市政府办公室通知为准"])
    book.save(str(path))


def test_xlsx_task_table_header_on_row_2_and_merged_task_cells_repeat(tmp_path: Path) -> None:
    path = tmp_path / "tasks.xlsx"
    make_task_xlsx(path)
    document = read_document(path)
    assert document.kind == "xlsx"
    assert [r.get("number") for r in document.rows] == ["1", "2", "3", "4"]
    assert [r.get("task") for r in document.rows] == [
        "推进政策公开",
        "推进政策公开",
        "加强网站监测",
        "做好年度报告",
    ]
    assert [r.get("time_limit") for r in document.rows] == [
        "2025年6月底前",
        "每季度",
        "持续推进",
        "2025年1月31日",
    ]
    assert document.rows[1].where == "任务分解 第4行"
    assert document.table_titles == ("新源市2025年政务公开重点任务分解表",)


def test_xlsx_without_a_task_header_is_refused(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["姓名", "电话"])
    book.active.append(["张三", "123"])
    path = tmp_path / "contacts.xlsx"
    book.save(str(path))
    with pytest.raises(DocumentError, match="没有找到任务分解表"):
        read_document(path)


def test_xls_task_table_fixture_is_read_with_merged_cells_and_dates() -> None:
    # Written once with xlwt (see fixtures/make_task_table_xls.py): xlrd only reads .xls.
    document = read_document(FIXTURES / "task-table-2025.xls")
    assert document.kind == "xls"
    assert [r.get("task") for r in document.rows] == [
        "推进政策公开",
        "推进政策公开",
        "加强网站监测",
        "做好年度报告",
    ]
    assert document.rows[3].get("time_limit") == "2025年1月31日"
    assert document.rows[0].get("lead") == "市司法局"


def test_header_is_found_by_most_roles_and_needs_a_task_column() -> None:
    grid = [
        ["说明", "", ""],
        ["任务", "牵头单位", "时限"],
        ["做好政策解读", "市政府办公室", "6月底前"],
    ]
    rows, titles = find_task_table(grid, "表1")  # type: ignore[misc]
    assert titles == ["说明"]
    assert rows[0].cells == {
        "task": "做好政策解读",
        "lead": "市政府办公室",
        "time_limit": "6月底前",
    }
    assert find_task_table([["牵头单位", "时限"], ["市政府办公室", "6月底前"]], "表2") is None


def _add_chinese_numbering(document) -> str:
    """Add a list definition "一、" (level 0) / "（一）" (level 1); return its numId."""
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    root = document.part.numbering_part.element
    root.insert(
        0,
        parse_xml(
            f'<w:abstractNum {w} w:abstractNumId="90">'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
            '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>'
            "</w:abstractNum>"
        ),
    )
    root.append(parse_xml(f'<w:num {w} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    return "90"


def _numbered(document, text: str, num_id: str, level: int) -> None:
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    paragraph = document.add_paragraph(text)
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {w}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )


def test_docx_automatic_list_numbers_are_written_into_the_text(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("新源市2025年政务公开工作要点")
    num_id = _add_chinese_numbering(document)
    _numbered(document, "加强政策解读", num_id, 0)
    _numbered(document, "做好政策解读。6月底前完成。", num_id, 1)
    _numbered(document, "做好图解。年底前完成。", num_id, 1)
    _numbered(document, "加强平台建设", num_id, 0)
    _numbered(document, "加强网站建设。", num_id, 1)  # restarts under the new section
    document.add_paragraph("按样式编号。", style="List Number")
    path = tmp_path / "numbered.docx"
    document.save(str(path))
    assert read_document(path).text.split("\n") == [
        "新源市2025年政务公开工作要点",
        "一、加强政策解读",
        "（一）做好政策解读。6月底前完成。",
        "（二）做好图解。年底前完成。",
        "二、加强平台建设",
        "（一）加强网站建设。",
        "1.按样式编号。",
    ]
