"""The 通报 document from a hand-made TongbaoData (no database): text, .docx, HTML."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from docx import Document
from docx.oxml.ns import qn

from reports.tongbao import (
    COLUMNS,
    TongbaoData,
    TongbaoFacts,
    TongbaoRow,
    body_sections,
    period_text,
    render_docx,
    render_html,
)


def row(ledger_id: int, unit: str, amount: str | None, *, rule: str = "C1.3",
        pending: tuple[str, str] | None = None, decision_id: int | None = None) -> TongbaoRow:
    return TongbaoRow(
        ledger_id=ledger_id, unit=unit, item="6 集中发布“六稳”“六保”政策文件",
        due_date=date(2020, 9, 15), completion="截至2020年10月9日未完成",
        escalation="红色督办（2020年9月22日，逾期第5个工作日）",
        amount=Decimal(amount) if amount is not None else None, rule_code=rule,
        rule_text="「逾期任务升级为红色督办（逾期第5个工作日）」：每次减0.1分",
        pending_range=tuple(Decimal(x) for x in pending) if pending else None,
        decision_id=decision_id)


FACTS = TongbaoFacts(due=30, on_time=20, late=4, open=6,
                     escalations=(("blue", 5), ("yellow", 3), ("red", 2)))


def data(rows=(), **kw) -> TongbaoData:
    base = dict(office="朝阳市政务公开办", title="关于2020年9月政务公开工作任务落实情况的通报",
                period_label="2020年9月", start=date(2020, 9, 1), end=date(2020, 9, 30),
                as_of=date(2020, 10, 9), issued_on=date(2020, 10, 9), facts=FACTS,
                rows=tuple(rows), doc_number="朝政公办〔2020〕9号", rectify_by=date(2020, 10, 23),
                plan_title="朝阳市2020年政务公开工作要点")
    base.update(kw)
    return TongbaoData(**base)


ROWS = (row(1, "北票市政府", "-0.5"), row(2, "北票市政府", "-0.1"), row(3, "市司法局", "-0.6"),
        row(4, "双塔区政府", "-0.6"), row(5, "凌源市政府", "-0.2"),
        row(6, "凌源市政府", None, rule="C1.2", pending=("-2", "-0.1")),
        row(7, "喀左县政府", "0.5", rule="B1"))


def text_of(d: TongbaoData) -> str:
    return "\n".join(p for s in body_sections(d) for p in ((s.heading or ""), *s.paragraphs))


def test_text_states_the_counters_and_totals_derived_from_the_rows():
    text = text_of(data(ROWS))
    assert "2020年9月到期的工作任务共30项次" in text
    assert "按时完成20项次，逾期完成4项次，尚未完成6项次" in text
    assert "共发出督办10次，其中蓝色督办5次、黄色督办3次、红色督办2次" in text
    # deductions: 0.5 + 0.1 + 0.6 + 0.6 + 0.2 = 2.0 over 4 units; the bonus is not a deduction
    assert "共有4个单位被扣分，合计扣2分，加0.5分" in text
    assert "另有1项视情况扣分待裁定" in text
    assert "请相关单位对照附件逐项核查，于2020年10月23日前整改到位" in text


def test_units_with_most_deductions_are_ranked_and_ties_at_the_cut_say_deng():
    d = data(ROWS, top_n=2)
    top, more = d.top_units
    assert [u for u, _ in top] == ["北票市政府", "双塔区政府"]  # 0.6 each, by name
    assert more  # 市司法局 also has 0.6
    assert "扣分较多的单位是：北票市政府（扣0.6分）、双塔区政府（扣0.6分）等。" in text_of(d)
    top, more = data(ROWS, top_n=3).top_units
    assert len(top) == 3 and not more


def test_a_period_without_rows_says_so_and_has_no_attachment(tmp_path):
    d = data(facts=TongbaoFacts(due=3, on_time=3))
    text = text_of(d)
    assert "各单位均按期完成工作任务，无扣分事项" in text and "整改到位" not in text
    doc = Document(str(render_docx(d, tmp_path / "t.docx")))
    assert not doc.tables and len(doc.sections) == 1


def test_facts_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="!= due"):
        TongbaoFacts(due=5, on_time=1, late=1, open=1)
    with pytest.raises(ValueError, match="colour"):
        TongbaoFacts(escalations=(("green", 1),))


def test_points_cell_shows_deductions_bonuses_pending_and_decisions():
    assert row(1, "u", "-0.100").points_text == "0.1"
    assert row(1, "u", "0.5").points_text == "加0.5"
    assert row(1, "u", None, pending=("-2", "-0.1")).points_text == "待裁定0.1-2"
    assert row(1, "u", "-0.5", decision_id=9).points_text == "0.5（已裁定）"
    assert row(1, "u", "-0.5", decision_id=9).basis.endswith("（台账第1条，第9条裁定）")


def test_period_keys_read_as_people_say_them():
    assert period_text("2020-09") == "2020年9月"
    assert period_text("2020-Q3") == "2020年第三季度"
    assert period_text("once") == ""
    assert period_text("event:12") == "事件触发"


def test_docx_has_red_head_number_title_salutation_table_and_signature(tmp_path):
    d = data(ROWS)
    doc = Document(str(render_docx(d, tmp_path / "通报.docx")))
    paras = [p.text for p in doc.paragraphs]
    assert paras[0] == "朝阳市政务公开办"
    assert "朝政公办〔2020〕9号" in paras
    number = next(p for p in doc.paragraphs if p.text == "朝政公办〔2020〕9号")
    assert number._p.find(f"{qn('w:pPr')}/{qn('w:pBdr')}/{qn('w:bottom')}").get(
        qn("w:color")) == "E60012"  # the red line
    assert d.title in paras and "各县(市)区政府，市政府各部门：" in paras
    assert paras[-1] == "合计扣2分，加0.5分；待裁定1项。"
    assert "2020年10月9日" in paras
    head_run = doc.paragraphs[0].runs[0]
    assert head_run.font.color.rgb is not None and str(head_run.font.color.rgb) == "E60012"
    (table,) = doc.tables
    assert tuple(c.text for c in table.rows[0].cells) == COLUMNS
    body = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert len(body) == len(ROWS)
    assert body[0][1] == "北票市政府" and body[0][6] == "0.5"
    assert body[0][7].startswith("C1.3「逾期任务升级为红色督办") and "台账第1条" in body[0][7]
    assert doc.sections[-1].orientation == 1  # the 附件 is landscape


def test_docx_sets_the_east_asian_font_on_every_run(tmp_path):
    doc = Document(str(render_docx(data(ROWS), tmp_path / "t.docx")))
    runs = [r for p in doc.paragraphs for r in p.runs]
    runs += [r for t in doc.tables for rw in t.rows for c in rw.cells for p in c.paragraphs
             for r in p.runs]
    assert runs
    for r in runs:
        fonts = r._element.rPr.rFonts
        assert fonts is not None and fonts.get(qn("w:eastAsia")), r.text
    assert runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    body = next(r for r in runs if r.text.startswith("为推动"))
    assert body._element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert body.font.size.pt == 16  # 三号
    defaults = doc.styles.element.find(
        f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:rFonts')}")
    assert defaults.get(qn("w:eastAsia")) == "宋体"
    assert defaults.get(qn("w:eastAsiaTheme")) is None  # a theme font would override 宋体


def test_html_escapes_every_value():
    evil = '<script>alert("x")</script>'
    d = data((row(1, evil, "-0.1"),), office="政务公开办<b>", recipients="各单位&<i>")
    html = render_html(d)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "各单位&amp;&lt;i&gt;：" in html


def test_html_carries_the_same_text_and_table_as_the_docx():
    d = data(ROWS)
    html = render_html(d)
    for section in body_sections(d):
        for p in section.paragraphs:
            assert p in html
    assert html.count("<tr>") == len(ROWS)
    assert "朝政公办〔2020〕9号" in html and "台账第3条" in html


def test_a_missing_document_number_leaves_a_blank_to_fill_in(tmp_path):
    doc = Document(str(render_docx(data(ROWS, doc_number=None), tmp_path / "t.docx")))
    assert "〔2020〕　　号" in [p.text for p in doc.paragraphs]
