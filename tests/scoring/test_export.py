"""自查评分表 export: sheets, values, no formulas, formula-like text stays text."""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from scoring.engine import (
    Finding,
    LateCompletion,
    LedgerLine,
    Missed,
    Period,
    entries_for,
    scorecard,
)
from scoring.export import export_scorecard_xlsx, sheet_title
from scoring.rules import load_rulebook

BOOK = load_rulebook(Path(__file__).parent / "fixtures" / "small-rules.yaml")
EVIL = '=HYPERLINK("http://example.com/x","点我")'
KINDS = {"cy": "county_gov", "evil": "zone", "sj": "city_dept"}
NAMES = {"cy": "双塔区人民政府", "evil": EVIL, "sj": "-市教育局"}
YEAR = Period.assessment(BOOK, "Y")


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    facts = [
        LateCompletion(1, "cy", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 18), 3),
        LateCompletion(2, "cy", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 21), 4),
        Missed(7, "cy", "2020-1", "once", date(2020, 6, 30), as_of=date(2020, 9, 30)),
        Finding(10, "evil", "P1", date(2020, 7, 5), note="@所有人 无人接听"),
        Finding(11, "sj", "DF1", date(2020, 8, 5)),
    ]
    entries = entries_for(facts, rulebook=BOOK, unit_kinds=KINDS, period=YEAR)
    lines = [LedgerLine.from_spec(e, id=i) for i, e in enumerate(entries, start=1)]
    scores = scorecard(lines, rulebook=BOOK, unit_kinds=KINDS, unit_names=NAMES, period=YEAR)
    path = export_scorecard_xlsx(scores, tmp_path_factory.mktemp("x") / "自查评分表.xlsx",
                                 rulebook=BOOK, title="2020年度政务公开考核自查评分表")
    return path, openpyxl.load_workbook(path)


def rows(ws, top=5):
    return [[c.value for c in r] for r in ws.iter_rows(min_row=top)]


def test_sheets_are_one_per_rule_set_then_detail_and_rules(workbook):
    _, wb = workbook
    assert wb.sheetnames == ["县区", "部门", "明细", "评分规则"]


def test_group_sheet_has_category_subtotals_totals_and_final(workbook):
    _, wb = workbook
    ws = wb["县区"]
    header = [c.value for c in ws[4]]
    assert header == ["序号", "单位", "单位代码", "T 时效", "P 平台", "减分合计", "加分合计",
                      "封顶说明", "最终得分", "状态", "得分区间"]
    cy, evil = rows(ws)
    assert cy[:3] == [1, "双塔区人民政府", "cy"]
    assert cy[3:7] == [pytest.approx(-0.4), 0, pytest.approx(-0.4), 0]
    assert cy[8] == pytest.approx(-0.4)
    assert cy[9] == "暂定（1项待定）" and cy[10] == "-1 ~ -0.5"  # category T caps the worst case
    assert evil[1] == EVIL and evil[8] == pytest.approx(-0.2) and evil[9] == "确定"
    assert "2020年年度考核" in ws["A2"].value


def test_caps_applied_are_written_out(tmp_path):
    facts = [LateCompletion(i, "cy", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 18), 3)
             for i in range(4)]
    entries = entries_for(facts, rulebook=BOOK, unit_kinds=KINDS, period=YEAR)
    scores = scorecard(entries, rulebook=BOOK, unit_kinds=KINDS, unit_names={"cy": "双塔区"}, period=YEAR)
    wb = openpyxl.load_workbook(export_scorecard_xlsx(scores, tmp_path / "a.xlsx", rulebook=BOOK, title="t"))
    [row] = rows(wb["县区"])
    assert row[7] == "L 逾期完成：本项最多减0.6分：0.8 → 0.6" and row[8] == pytest.approx(-0.6)


def test_detail_sheet_lists_every_line_with_rule_item_dates_reason_amount(workbook):
    _, wb = workbook
    detail = rows(wb["明细"])
    assert len(detail) == 5
    first = detail[0]
    assert first[:6] == ["双塔区人民政府", "cy", "L", "逾期完成", "T 时效", "2020-6"]
    assert first[6].date() == date(2020, 9, 18) and first[7] == "once"
    assert "2020年9月15日" in first[8] and first[9] == pytest.approx(-0.2) and first[10] == "计入"
    pending = next(r for r in detail if r[2] == "M")
    assert pending[9] is None and pending[10] == "待定：视情况减0.1-2分"


def test_formula_like_text_stays_text(workbook):
    path, wb = workbook
    cell = wb["县区"]["B6"]
    assert cell.value == EVIL and cell.data_type == "s" and cell.quotePrefix
    dept = wb["部门"]["B5"]
    assert dept.value == "-市教育局" and dept.data_type == "s"
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula"
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml and "<f " not in xml


def test_columns_have_widths(workbook):
    _, wb = workbook
    ws = wb["明细"]
    assert ws.column_dimensions["A"].width >= 14  # 双塔区人民政府 is 7 wide characters
    assert ws.column_dimensions["I"].width == 60  # long reasons are capped and wrapped


def test_rules_sheet_lists_every_rule(workbook):
    _, wb = workbook
    listed = [r[2] for r in rows(wb["评分规则"])]
    assert listed == [r.code for rs in BOOK.rule_sets for _, r in rs.rules()]


def test_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    assert sheet_title("县区/开发区[管委会]", taken) == "县区_开发区_管委会_"
    long = "市政府各部门、直属机构、其他单位以及各园区景区管委会和所有其他的考核对象"
    a, b = sheet_title(long, taken), sheet_title(long, taken)
    assert len(a) <= 31 and len(b) <= 31 and a != b


def test_export_of_a_decimal_keeps_its_value(tmp_path):
    line = LedgerLine("P2", "cy", "finding:1", "2020-04", Decimal("-0.05"), None, None, 1, "x",
                      occurred_on=date(2020, 4, 1))
    scores = scorecard([line], rulebook=BOOK, unit_kinds=KINDS, unit_names={"cy": "双塔区"}, period=YEAR)
    wb = openpyxl.load_workbook(export_scorecard_xlsx(scores, tmp_path / "b.xlsx", rulebook=BOOK, title="t"))
    assert rows(wb["明细"])[0][9] == -0.05


def test_export_without_scores_still_gives_the_empty_forms(tmp_path):
    wb = openpyxl.load_workbook(export_scorecard_xlsx([], tmp_path / "c.xlsx", rulebook=BOOK, title="t"))
    assert wb.sheetnames == ["县区", "部门", "明细", "评分规则"]
    assert rows(wb["县区"]) == [] and [c.value for c in wb["县区"][4]][:2] == ["序号", "单位"]


def test_every_reason_cell_wraps_as_plain_text(workbook):
    _, wb = workbook
    ws = wb["明细"]
    cells = [row[8] for row in ws.iter_rows(min_row=5) if row[8].value]
    assert len(cells) >= 4
    for c in cells:
        assert c.alignment.wrap_text, f"{c.coordinate} does not wrap"
        assert c.data_type == "s" and not c.quotePrefix  # "@所有人" inside is no formula
    assert any("@所有人 无人接听" in c.value for c in cells)
