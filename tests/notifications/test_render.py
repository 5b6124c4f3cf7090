"""Rendering: filters, subject choice, escaping, overrides, text/HTML agreement."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from jinja2 import UndefinedError

from notifications.render import (
    CoordinatorDigestContext,
    CoordinatorRow,
    DeductionRow,
    DigestContext,
    DigestRow,
    EscalationContext,
    MonthlyNoticeContext,
    MonthOverview,
    Renderer,
    cn_date,
    cn_datetime,
    render,
    render_digest,
    workdays_phrase,
)
from tests.notifications.conftest import NOW, sample_digest


def _row(days: int, item: str = "事项", **kw) -> DigestRow:
    return DigestRow(
        item=item, requirement="要求", due_date=date(2026, 11, 25), working_days_left=days, **kw
    )


def _digest(*rows: DigestRow, name: str = "张三", unit: str = "市财政局") -> DigestContext:
    return DigestContext(recipient_name=name, unit_name=unit, rows=rows, generated_at=NOW)


# ---------------------------------------------------------------- filters


def test_chinese_date_has_weekday_in_parentheses():
    assert cn_date(date(2026, 11, 23)) == "2026年11月23日（周一）"
    assert cn_date(date(2026, 11, 29)) == "2026年11月29日（周日）"


def test_chinese_datetime_is_shown_in_shanghai_time():
    # 17:30 UTC on Sunday is 01:30 on Monday in Beijing
    assert cn_datetime(datetime(2026, 11, 22, 17, 30, tzinfo=UTC)) == "2026年11月23日（周一）01:30"
    assert cn_date(datetime(2026, 11, 22, 17, 30, tzinfo=UTC)) == "2026年11月23日（周一）"


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        cn_datetime(datetime(2026, 11, 23, 9, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        DigestContext(
            recipient_name="a",
            unit_name="b",
            rows=(_row(1),),
            generated_at=datetime(2026, 1, 1),  # noqa: DTZ001
        )


@pytest.mark.parametrize(
    ("days", "phrase"),
    [(3, "还剩3个工作日"), (1, "还剩1个工作日"), (0, "今日到期"), (-2, "已逾期2个工作日")],
)
def test_working_days_phrasing(days, phrase):
    assert workdays_phrase(days) == phrase


# ---------------------------------------------------------------- digest subject and kind


def test_upcoming_digest_subject_names_the_nearest_deadline():
    m = render_digest(_digest(_row(5, "甲"), _row(3, "乙")))
    assert m.kind == "upcoming"
    assert (
        m.subject
        == "【督办提醒】市财政局：2项工作即将到期，最近一项将于3个工作日后到期（11月25日）"
    )


def test_due_today_wins_over_upcoming():
    m = render_digest(_digest(_row(2, "甲"), _row(0, "乙")))
    assert m.kind == "due_today"
    assert m.subject == "【今日到期】市财政局：1项工作今日到期，另有1项即将到期"


def test_any_overdue_row_makes_it_a_chase_mail_with_the_worst_delay():
    m = render_digest(_digest(_row(2), _row(0), _row(-1), _row(-4)))
    assert m.kind == "overdue"
    assert m.subject == "【催办】市财政局：2项工作已逾期，最长已逾期4个工作日"
    # rows are listed most urgent first
    assert (
        m.text.index("已逾期4个工作日")
        < m.text.index("已逾期1个工作日")
        < m.text.index("还剩2个工作日")
    )


def test_subject_is_one_line_even_when_names_contain_line_breaks():
    m = render_digest(_digest(_row(-1), unit="市财政局\r\nBcc: attacker@evil.cn\n综合科"))
    assert "\r" not in m.subject and "\n" not in m.subject
    assert m.subject.startswith("【催办】市财政局 Bcc: attacker@evil.cn 综合科：")


def test_empty_digest_is_refused():
    with pytest.raises(ValueError, match="at least one row"):
        _digest()


# ---------------------------------------------------------------- escaping


def test_malicious_names_are_escaped_in_html_and_literal_in_text():
    evil = _digest(
        _row(-1, item="<script>alert('x')</script>", status="{{ 7*7 }}"),
        name="{{ 7*7 }}",
        unit="<b>单位</b>",
    )
    m = render_digest(evil)
    assert "<script>" not in m.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in m.html
    assert "&lt;b&gt;单位&lt;/b&gt;" in m.html
    assert "<script>alert('x')</script>" in m.text  # plain text shows it as typed
    assert "&lt;" not in m.text
    assert "49" not in m.text + m.html  # data is never evaluated as a template
    assert "{{ 7*7 }}" in m.text and "{{ 7*7 }}" in m.html


def test_html_templates_are_autoescaped_but_text_templates_are_not(tmp_path):
    (tmp_path / "upcoming").mkdir()
    (tmp_path / "upcoming" / "body.html.j2").write_text("<p>{{ ctx.unit_name }}</p>", "utf-8")
    (tmp_path / "upcoming" / "body.txt.j2").write_text("{{ ctx.unit_name }}", "utf-8")
    m = Renderer(tmp_path).render_digest(_digest(_row(1), unit="预算<草案> & 说明"))
    assert m.html == "<p>预算&lt;草案&gt; &amp; 说明</p>"
    assert m.text == "预算<草案> & 说明"


# ---------------------------------------------------------------- templates


def test_override_directory_wins_and_other_templates_fall_back(tmp_path):
    (tmp_path / "upcoming").mkdir()
    (tmp_path / "upcoming" / "subject.txt.j2").write_text(
        "【本地模板】{{ ctx.unit_name }}{{ ctx.rows|length }}项", "utf-8"
    )
    m = Renderer(tmp_path).render_digest(_digest(_row(2)))
    assert m.subject == "【本地模板】市财政局1项"
    assert "还剩2个工作日" in m.text  # packaged body still used


def test_missing_context_variable_raises_instead_of_rendering_blank(tmp_path):
    (tmp_path / "upcoming").mkdir()
    (tmp_path / "upcoming" / "body.txt.j2").write_text("{{ ctx.unit_nmae }}", "utf-8")
    with pytest.raises(UndefinedError, match="unit_nmae"):
        Renderer(tmp_path).render_digest(_digest(_row(2)))


def test_wrong_context_type_for_kind_is_refused():
    with pytest.raises(TypeError, match="EscalationContext"):
        render("escalation", sample_digest())
    with pytest.raises(ValueError, match="unknown message kind"):
        render("nope", sample_digest())


class _TableRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _text_rows(text: str) -> list[list[str]]:
    pattern = re.compile(
        r"^(\d+)\. 事项：(.*)\n   工作要求：(.*)\n   截止日期：(.*)\n   剩余/逾期工作日：(.*)\n   状态：(.*)$",
        re.M,
    )
    return [list(m.groups()) for m in pattern.finditer(text)]


@pytest.mark.parametrize("days", [(5, 3), (0, 4), (-3, 0, 2)])
def test_text_and_html_digest_list_the_same_rows(days):
    ctx = _digest(*(_row(d, f"事项{i}<{i}>") for i, d in enumerate(days)))
    m = render_digest(ctx)
    parser = _TableRows()
    parser.feed(m.html)
    assert parser.rows == _text_rows(m.text)
    assert len(parser.rows) == len(days)
    assert parser.rows[0] == [
        "1",
        ctx.rows[0].item,
        "要求",
        "2026年11月25日（周三）",
        workdays_phrase(ctx.rows[0].working_days_left),
        ctx.rows[0].status_label,
    ]


def test_sample_digest_golden_text():
    m = render_digest(sample_digest())
    assert m.text.startswith("张三：\n\n截至2026年11月25日（周三），市财政局综合科有1项工作已逾期")
    assert (
        "1. 事项：报送三季度预算执行情况\n"
        "   工作要求：形成书面报告报市政府办公室\n"
        "   截止日期：2026年11月23日（周一）\n"
        "   剩余/逾期工作日：已逾期2个工作日\n"
        "   状态：已逾期\n"
    ) in m.text
    assert "   状态：办理中\n" in m.text
    assert "统计时间：2026年11月25日（周三）09:30" in m.text


@pytest.mark.parametrize(
    ("level", "label", "colour"),
    [("blue", "蓝色", "#1f6fd1"), ("yellow", "黄色", "#f2c200"), ("red", "红色", "#d93025")],
)
def test_escalation_shows_level_colour_in_html_and_names_it_in_text(level, label, colour):
    ctx = EscalationContext(
        leader_name="李局长",
        unit_name="市财政局",
        contact_name="张三",
        level=level,
        sheet_no="督〔2026〕15号",
        rows=(_row(-3),),
        issued_at=NOW,
        reply_by=date(2026, 11, 30),
    )
    m = render("escalation", ctx)
    assert m.subject == f"【{label}督办】督办单督〔2026〕15号：市财政局1项工作逾期未办结"
    assert f"督办等级：{label}" in m.text
    assert f"background:{colour}" in m.html
    assert f"{label}督办" in m.html
    assert "2026年11月30日（周一）前书面反馈" in m.text


def test_unknown_escalation_level_is_refused():
    with pytest.raises(ValueError, match="blue/yellow/red"):
        EscalationContext(
            leader_name="a",
            unit_name="b",
            contact_name="c",
            level="green",
            sheet_no="1",
            rows=(_row(-1),),
            issued_at=NOW,
        )


def test_coordinator_digest_counts_and_lists_units():
    ctx = CoordinatorDigestContext(
        coordinator_name="王主任",
        report_date=date(2026, 11, 25),
        generated_at=NOW,
        rows=(
            CoordinatorRow(
                unit_name="市教育局", item="乙", due_date=date(2026, 11, 25), working_days_left=0
            ),
            CoordinatorRow(
                unit_name="市财政局",
                item="甲",
                due_date=date(2026, 11, 20),
                working_days_left=-3,
                escalation_level="red",
            ),
            CoordinatorRow(
                unit_name="市民政局", item="丙", due_date=date(2026, 11, 27), working_days_left=2
            ),
        ),
    )
    m = render("coordinator_digest", ctx)
    assert m.subject == "【督办日报】11月25日：逾期1项，今日到期1项，即将到期1项"
    assert "已提请督办1项" in m.text
    assert (
        m.text.index("市财政局｜甲") < m.text.index("市教育局｜乙") < m.text.index("市民政局｜丙")
    )
    assert "红色督办" in m.text and "红色督办" in m.html


def test_coordinator_digest_without_rows_says_so():
    ctx = CoordinatorDigestContext(
        coordinator_name="王主任", report_date=date(2026, 11, 25), generated_at=NOW, rows=()
    )
    m = render("coordinator_digest", ctx)
    assert "今日无到期或逾期事项" in m.text and "今日无到期或逾期事项" in m.html


def test_monthly_notice_has_deduction_table_and_unit_totals():
    ctx = MonthlyNoticeContext(
        year=2026,
        month=10,
        recipient_name="各责任单位",
        published_on=date(2026, 11, 3),
        rows=(
            DeductionRow(
                unit_name="市财政局", item="甲", reason="逾期3个工作日", points=Decimal("1.5")
            ),
            DeductionRow(
                unit_name="市教育局", item="乙", reason="逾期1个工作日", points=Decimal("0.5")
            ),
            DeductionRow(unit_name="市财政局", item="丙", reason="未报送", points=Decimal("2")),
        ),
    )
    m = render("monthly_notice", ctx)
    assert m.subject == "【通报】关于2026年10月工作要点落实情况的通报"
    assert ctx.unit_totals == (("市财政局", Decimal("3.5")), ("市教育局", Decimal("0.5")))
    assert "共有2个单位被扣分，合计扣4分" in m.text
    assert "- 市财政局：3.5分" in m.text
    parser = _TableRows()
    parser.feed(m.html)
    assert ["1", "市财政局", "甲", "逾期3个工作日", "1.5", ""] in parser.rows
    assert ["市财政局", "3.5"] in parser.rows


def _notice_rows() -> tuple[DeductionRow, ...]:
    return (
        DeductionRow(unit_name="市财政局", item="甲", reason="逾期3个工作日", points=Decimal("1.5")),
        DeductionRow(unit_name="市教育局", item="乙", reason="逾期1个工作日", points=Decimal("0.5")),
        DeductionRow(unit_name="市财政局", item="丙", reason="未报送", points=Decimal("2")),
    )


def test_a_leaders_notice_lists_the_units_own_lines_before_the_whole_month():
    ctx = MonthlyNoticeContext(year=2026, month=10, recipient_name="市财政局",
                               published_on=date(2026, 11, 3), rows=_notice_rows(),
                               own_unit="市财政局")
    m = render("monthly_notice", ctx)
    own, rest = m.text.split("共有2个单位被扣分，合计扣4分。扣分明细如下：")
    assert "市财政局本月被扣分2项，合计扣3.5分" in own and "市教育局" not in own
    assert "2. 市教育局｜乙" in rest and "- 市教育局：0.5分" in rest
    assert "本单位（市财政局）被扣分2项，合计扣3.5分" in m.markdown


def test_a_leaders_notice_without_the_full_list_gives_the_months_figures_and_where_it_is():
    overview = MonthOverview(units=1200, lines=3400, total_points=Decimal("1730.5"),
                             url="https://oa.example.gov.cn/tongbao/2026-10?a=1&b=2")
    own = tuple(r for r in _notice_rows() if r.unit_name == "市教育局")
    ctx = MonthlyNoticeContext(year=2026, month=10, recipient_name="市教育局",
                               published_on=date(2026, 11, 3), rows=own,
                               own_unit="市教育局", overview=overview)
    m = render("monthly_notice", ctx)
    assert "市教育局本月被扣分1项，合计扣0.5分" in m.text
    assert "共有1200个单位被扣分，合计扣1730.5分" in m.text
    assert "全部扣分明细共3400项，全文见 https://oa.example.gov.cn/tongbao/2026-10?a=1&b=2" in m.text
    assert 'href="https://oa.example.gov.cn/tongbao/2026-10?a=1&amp;b=2"' in m.html
    assert "扣分明细如下" not in m.text and "各单位扣分合计" not in m.text
    no_url = render("monthly_notice", MonthlyNoticeContext(
        year=2026, month=10, recipient_name="市教育局", published_on=date(2026, 11, 3), rows=own,
        own_unit="市教育局", overview=MonthOverview(units=1, lines=1, total_points=Decimal(1)),
        office_name="朝阳市政务公开办"))
    assert "全文由朝阳市政务公开办另行印发" in no_url.text


def test_a_notice_without_the_full_list_must_belong_to_one_unit_and_hold_only_its_lines():
    overview = MonthOverview(units=2, lines=3, total_points=Decimal(4))
    with pytest.raises(ValueError, match="own_unit"):
        MonthlyNoticeContext(year=2026, month=10, recipient_name="各责任单位",
                             published_on=date(2026, 11, 3), rows=(), overview=overview)
    with pytest.raises(ValueError, match="only hold that unit"):
        MonthlyNoticeContext(year=2026, month=10, recipient_name="市财政局",
                             published_on=date(2026, 11, 3), rows=_notice_rows(),
                             own_unit="市财政局", overview=overview)


def test_bonuses_are_added_points_apart_from_the_deductions():
    bonus = (DeductionRow(unit_name="市教育局", item="丁", reason="提前3个工作日完成",
                          points=Decimal("0.5")),)
    full = render("monthly_notice", MonthlyNoticeContext(
        year=2026, month=10, recipient_name="各责任单位", published_on=date(2026, 11, 3),
        rows=_notice_rows(), bonus_rows=bonus))
    assert "共有2个单位被扣分，合计扣4分；1个单位获加分，合计加0.5分" in full.text
    deductions, bonuses = full.text.split("各单位加分合计：")
    assert "提前3个工作日完成" not in deductions and "- 市教育局：0.5分" in bonuses
    own = render("monthly_notice", MonthlyNoticeContext(
        year=2026, month=10, recipient_name="市教育局", published_on=date(2026, 11, 3),
        rows=(), bonus_rows=bonus, own_unit="市教育局",
        overview=MonthOverview(units=2, lines=3, total_points=Decimal(4), bonus_units=1,
                               bonus_points=Decimal("0.5"))))
    assert "市教育局本月无扣分事项。" in own.text
    assert "市教育局本月加分1项，合计加0.5分" in own.text and "加分事由：提前3个工作日完成" in own.text
    assert "-0.5" not in own.text and "-0.5" not in full.text


def test_a_leaders_notice_for_a_unit_without_lines_says_it_has_none():
    ctx = MonthlyNoticeContext(year=2026, month=10, recipient_name="市民政局",
                               published_on=date(2026, 11, 3), rows=_notice_rows(),
                               own_unit="市民政局")
    m = render("monthly_notice", ctx)
    assert "市民政局本月无扣分事项。" in m.text and "市民政局本月无扣分事项。" in m.html


@pytest.mark.parametrize("kind", ["upcoming", "due_today", "overdue"])
def test_every_digest_kind_renders_all_four_bodies(kind):
    days = {"upcoming": 2, "due_today": 0, "overdue": -1}[kind]
    m = render(kind, _digest(_row(days)))
    assert m.subject and m.text.strip() and m.markdown and m.html.startswith("<!DOCTYPE html>")
