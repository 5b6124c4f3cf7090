"""Reading a 台账 spreadsheet as coordinators actually keep them (no database)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from openpyxl import Workbook

from reports.taizhang import (
    DateProblem,
    TaizhangError,
    classify_evidence,
    cn_number,
    item_text,
    map_header,
    parse_done,
    period_key,
    read_taizhang,
)


def workbook(path, header, rows, *, title=True):
    wb = Workbook()
    ws = wb.active
    if title:
        ws["A1"] = "朝阳市2020年政务公开工作任务完成情况台账"
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        ws["A2"] = "填报日期：2020年10月9日"
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return ws


def test_header_below_a_merged_title_is_found_and_columns_mapped(tmp_path):
    path = tmp_path / "t.xlsx"
    workbook(path, ["序号", "单位名称", "条目", "完成时间（年月日）", "佐证网址", "文号", "备注"],
             [[1, "市司法局", 6, "2020-09-14", "http://a", None, None]])
    tz = read_taizhang(path)
    assert tz.header_row == 3
    assert tz.columns == {"unit": "单位名称", "item": "条目", "done": "完成时间（年月日）",
                          "url": "佐证网址", "doc": "文号", "note": "备注"}
    (r,) = tz.rows
    assert (r.row, r.unit, r.item, r.done, r.url) == (4, "市司法局", "6", "2020-09-14", "http://a")


def test_xuhao_is_the_item_only_when_no_better_column_exists():
    assert map_header(["序号", "单位", "条目", "完成日期"])["item"] == 2
    assert map_header(["序号", "责任单位", "办结时间", "说明"]) == {
        "item": 0, "unit": 1, "done": 2, "note": 3}


def test_a_deadline_column_is_not_taken_for_the_completion_date():
    mapping = map_header(["单位", "条目", "完成时限", "截止时间"])
    assert "done" not in mapping


def test_a_merged_unit_cell_applies_to_every_row_it_spans(tmp_path):
    path = tmp_path / "t.xlsx"
    ws = workbook(path, ["单位", "条目", "完成日期", "说明"],
                  [["北票市", 6, "2020-09-14", "已上传"], [None, 21, "2020-09-25", "已上传"]],
                  title=False)
    ws.merge_cells("A2:A3")
    ws.parent.save(path)
    rows = read_taizhang(path).rows
    assert [(r.unit, r.item) for r in rows] == [("北票市", "6"), ("北票市", "21")]


def test_blank_rows_and_lone_note_lines_are_not_data(tmp_path):
    path = tmp_path / "t.xlsx"
    workbook(path, ["单位", "条目", "完成时间", "网址"],
             [["市司法局", "6", "2020-09-14", "http://a"], [None, None, None, None],
              ["填表说明：完成时间填实际上传日期", None, None, None]])
    assert [r.row for r in read_taizhang(path).rows] == [4]


def test_a_gb18030_csv_reads_like_a_spreadsheet(tmp_path):
    path = tmp_path / "台账.csv"
    path.write_bytes("单位,条目,完成日期,文号\n市司法局,6,2020年9月14日,朝司发〔2020〕3号\n"
                     .encode("gb18030"))
    (r,) = read_taizhang(path).rows
    assert (r.unit, r.done, r.doc) == ("市司法局", "2020年9月14日", "朝司发〔2020〕3号")


def test_an_unreadable_file_is_a_user_error_with_exit_code_2(tmp_path):
    bad = tmp_path / "t.xlsx"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(TaizhangError, match="无法读取台账") as exc:
        read_taizhang(bad)
    assert exc.value.exit_code == 2
    with pytest.raises(TaizhangError, match="只支持"):
        read_taizhang(tmp_path / "t.pdf")


def test_a_sheet_without_the_needed_columns_says_which_are_missing(tmp_path):
    path = tmp_path / "t.xlsx"
    workbook(path, ["单位", "条目", "备注"], [["市司法局", "6", "x"]])
    with pytest.raises(TaizhangError, match="缺少“完成时间”列"):
        read_taizhang(path)


@pytest.mark.parametrize(("value", "expected"), [
    ("2020年9月14日", (date(2020, 9, 14), None)),
    ("2020-09-14", (date(2020, 9, 14), None)),
    ("2020/9/14", (date(2020, 9, 14), None)),
    ("2020.9.14", (date(2020, 9, 14), None)),
    ("２０２０－０９－１４", (date(2020, 9, 14), None)),  # full-width, as typed with a Chinese IME
    ("20200914", (date(2020, 9, 14), None)),
    ("9月14日", (date(2020, 9, 14), None)),
    ("2020-09-14 10:30", (date(2020, 9, 14), time(10, 30))),
    ("2020年9月14日10时30分", (date(2020, 9, 14), time(10, 30))),
    (datetime(2020, 9, 14), (date(2020, 9, 14), None)),  # noqa: DTZ001 (Excel cells are naive)
    (datetime(2020, 9, 14, 16, 5), (date(2020, 9, 14), time(16, 5))),  # noqa: DTZ001
    (44088, (date(2020, 9, 14), None)),  # an Excel serial left as a number
    (44088.0, (date(2020, 9, 14), None)),
])
def test_completion_dates_in_the_forms_people_write_them(value, expected):
    assert parse_done(value, default_year=2020) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("2020年13月5日", "不是有效日期"),
    ("2020-02-30", "不是有效日期"),
    ("下周一", "无法识别"),
    (12, "不是日期"),
    ("", "缺少完成时间"),
])
def test_unreadable_completion_dates_say_why(value, message):
    with pytest.raises(DateProblem, match=message):
        parse_done(value, default_year=2020)


def test_item_references_are_tidied_and_chinese_numerals_read():
    assert item_text(6.0) == "6" and item_text("第6项") == "6" and item_text("6、") == "6"
    assert item_text("（十九）") == "(十九)"  # width-folded; the plan lookup ignores brackets
    assert [cn_number(s) for s in ("六", "十", "十九", "二十一", "（六）", "abc", "百")] == [
        6, 10, 19, 21, 6, None, None]


def test_periods_in_words_become_period_keys():
    assert period_key("2020年9月", year=2020) == "2020-09"
    assert period_key("9月", year=2020) == "2020-09"
    assert period_key("第三季度", year=2020) == "2020-Q3"
    assert period_key("下半年", year=2020) == "2020-H2"
    assert period_key("once", year=2020) == "once"


def test_a_generic_evidence_column_puts_links_and_document_numbers_in_their_place():
    assert classify_evidence("", "", "http://x.gov.cn/a") == ("http://x.gov.cn/a", "", "")
    assert classify_evidence("", "", "朝政发〔2020〕12号") == ("", "朝政发〔2020〕12号", "")
    assert classify_evidence("", "", "已在专栏公开") == ("", "", "已在专栏公开")


def test_a_two_line_header_takes_the_evidence_columns_from_the_lower_line(tmp_path):
    path = tmp_path / "t.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "单位", "条目", "完成时间", "佐证材料", None, None])
    ws.append([None, None, None, None, "网址", "文号", "说明"])
    for col in "ABCD":
        ws.merge_cells(f"{col}1:{col}2")
    ws.merge_cells("E1:G1")
    ws.append([1, "市司法局", 6, "2020-09-14", "http://a", "朝司发〔2020〕3号", "已上传"])
    wb.save(path)
    tz = read_taizhang(path)
    assert tz.columns == {"item": "条目", "unit": "单位", "done": "完成时间", "url": "网址",
                          "doc": "文号", "note": "说明"}
    (r,) = tz.rows
    assert (r.row, r.url, r.doc, r.note) == (3, "http://a", "朝司发〔2020〕3号", "已上传")
