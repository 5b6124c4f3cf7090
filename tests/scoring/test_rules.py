"""Rule books: the 2024 盘锦 细则 and the 2020 example encode the facts; bad files give file:line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from deadlines.calendar import default_config_dir
from duban.config import item_code, load_plan
from duban.yamlio import ConfigError
from scoring.engine import Period
from scoring.rules import RuleBook, load_rulebook, rulebook_path

CONFIG = default_config_dir()
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def book2024() -> RuleBook:
    return load_rulebook(rulebook_path(2024, CONFIG))


@pytest.fixture(scope="module")
def book2020() -> RuleBook:
    return load_rulebook(rulebook_path(2020, CONFIG))


def rule(book: RuleBook, code: str):
    ref = book.find(code)
    assert ref is not None, code
    return ref.rule


D = Decimal


# --------------------------------------------------------------------------- 2024


def test_2024_has_both_rule_sets_with_every_scoring_line(book2024):
    county, dept = book2024.rule_sets
    assert set(county.kinds) == {"county_gov", "zone"}
    assert set(dept.kinds) == {"city_dept", "affiliated"}
    # 评分方式 lines in 附件2: 县区 3+2+7+5+3+11, 部门 4+2+8+2+4+3+8
    assert [len(c.rules) for c in county.categories] == [3, 2, 7, 5, 3, 11]
    assert [len(c.rules) for c in dept.categories] == [4, 2, 8, 2, 4, 3, 8]
    assert book2024.rule_set_for("other") is None
    assert all(r.source for rs in book2024.rule_sets for _, r in rs.rules())


def test_2024_frame_is_at_most_minus_5_with_bonuses_inside(book2024):
    assert book2024.scheme.style == "deduction"
    assert book2024.scheme.max_deduction == D(5)
    assert book2024.scheme.bonus_above_zero is False


def test_2024_three_assessments_mid_year_q3_and_year_end(book2024):
    ends = {a.code: (Period.assessment(book2024, a.code).start, Period.assessment(book2024, a.code).end)
            for a in book2024.assessments}
    from datetime import date

    assert ends == {"H1": (date(2024, 1, 1), date(2024, 6, 30)),
                    "Q3": (date(2024, 1, 1), date(2024, 9, 30)),
                    "Y": (date(2024, 1, 1), date(2024, 12, 31))}


@pytest.mark.parametrize(
    ("code", "direction", "amount", "per", "period", "cap"),
    [
        ("C1.1", "deduct", "1", "period", "year", None),  # 未编制本地区目录，减1分
        ("C1.2", "deduct", "0.1", "occurrence", None, None),  # 每发现l家减0.1分
        ("C1.3", "deduct", "0.05", "occurrence", None, None),  # 每发现l0.05分
        ("C2.1", "deduct", "0.2", "occurrence", None, None),
        ("C3.2", "deduct", "0.05", "occurrence", None, None),  # 超过文件发布时间5日
        ("C3.B1", "bonus", "0.02", "occurrence", None, "0.1"),  # 县区总加分不超过0.I分
        ("C4.2", "deduct", "0.2", "period", "quarter", None),  # 每季度减0.2分
        ("C5.1", "deduct", "0.5", "occurrence", None, None),  # 函询未及时回复
        ("C5.2", "deduct", "0.1", "occurrence", None, None),  # 每0.l分
        ("C6.6", "deduct", "3", "period", "year", None),
        ("C6.B3", "bonus", "2", "occurrence", None, None),
        ("D1.2", "deduct", "0.5", "period", "year", None),
        ("D3.5", "deduct", "0.2", "occurrence", None, None),  # 返工修改2次及以上
        ("D3.B1", "bonus", "0.02", "occurrence", None, "0.1"),  # 总加分不超过0.1分
        ("D4.1", "deduct", "0.5", "period", "month", None),  # 每月报送
        ("D4.2", "deduct", "0.1", "occurrence", None, None),  # 每件扣0.I分
        ("D5.2", "deduct", "0.2", "period", "quarter", None),
        ("D5.3", "deduct", "0.1", "occurrence", None, None),  # 每次减0.l分
        ("D7.B3", "bonus", "1", "occurrence", None, None),  # 经验交流，每次加1
    ],
)
def test_2024_rule_amounts_and_periods(book2024, code, direction, amount, per, period, cap):
    r = rule(book2024, code)
    assert r.direction == direction
    assert r.amount == D(amount) and str(r.amount) == amount  # exact decimal text, no float noise
    assert (r.per, r.period) == (per, period)
    assert r.cap == (None if cap is None else D(cap))


@pytest.mark.parametrize(
    ("code", "low", "high", "cap"),
    [("C6.1", "0.1", "2", "2"), ("D7.1", "0.1", "2", "2"), ("C3.B2", "0.1", "0.2", None),
     ("C4.B2", "0.1", "0.2", None), ("C6.B4", "1", "2", None), ("D7.B4", "1", "2", None)],
)
def test_2024_discretionary_rules_are_ranges(book2024, code, low, high, cap):
    r = rule(book2024, code)
    assert r.amount is None
    assert r.range == (D(low), D(high))
    assert r.cap == (None if cap is None else D(cap))


def test_2024_bonus_cap_text_reads_as_in_the_source(book2024):
    assert rule(book2024, "C3.B1").describe() == "每件加0.02分（本项最多加0.1分）"
    assert rule(book2024, "C4.2").describe() == "每季度减0.2分"
    assert rule(book2024, "C6.1").describe() == "视情况减0.1-2分（本项最多减2分）"


def test_2024_has_no_obligation_triggers_because_there_is_no_2024_plan(book2024):
    assert {r.trigger for rs in book2024.rule_sets for _, r in rs.rules()} == {"finding"}


# --------------------------------------------------------------------------- 2020


def test_2020_example_covers_every_unit_kind_and_uses_every_trigger(book2020):
    kinds = {k for rs in book2020.rule_sets for k in rs.kinds}
    assert kinds == {"county_gov", "zone", "city_dept", "affiliated", "other"}
    triggers = {r.trigger for rs in book2020.rule_sets for _, r in rs.rules()}
    assert triggers == {"late_completion", "missed", "escalation", "early_completion", "finding"}
    assert book2020.scheme.max_deduction == D(5)
    assert [a.code for a in book2020.assessments] == ["H1", "Q3", "Y"]


def test_2020_rules_match_items_of_the_example_plan(book2020):
    plan = load_plan(CONFIG / "plans" / "2020-chaoyang.yaml")
    codes = [item_code(plan.year, it, i + 1) for i, it in enumerate(plan.items)]
    assert book2020.unknown_items(codes) == []
    assert book2020.unknown_items(codes[:3]) != []  # the check itself can fail


def test_2020_monthly_reports_deduct_half_a_point_when_missing_at_month_end(book2020):
    r = rule(book2020, "C2.1")
    assert (r.trigger, r.missed_after, r.amount) == ("missed", "month_end", D("0.5"))
    assert r.match is not None and set(r.match.items) == {"2020-11", "2020-16"}
    late = rule(book2020, "C1.1")
    assert late.match is not None and not late.match.accepts("2020-16")
    assert late.match.accepts("2020-6")


def test_2020_red_escalation_and_early_bonus(book2020):
    assert (rule(book2020, "D1.3").step, rule(book2020, "D1.3").amount) == ("+5", D("0.1"))
    early = rule(book2020, "C1.B1")
    assert (early.min_working_days_early, early.amount, early.cap) == (5, D("0.02"), D("0.1"))
    assert book2020.rule_sets[0].categories[0].cap == D(2)


# --------------------------------------------------------------------------- validation

GOOD = """\
year: 2020
title: 测试
source: {title: 测试细则}
scheme: {style: deduction, max_deduction: 5}
assessments:
  - {code: Y, name: 年底, end: "12-31"}
rule_sets:
  - name: 县区
    kinds: [county_gov]
    categories:
      - code: A
        name: 时效
        rules:
          - code: A1
            title: 逾期完成
            direction: deduct
            trigger: late_completion
            amount: 0.2
  - name: 部门
    kinds: [city_dept]
    categories:
      - code: B
        name: 投诉
        rules:
          - code: B1
            title: 函询未回复
            direction: deduct
            trigger: finding
            amount: 0.5
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "2020.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), start=1) if needle in ln]
    return hits[nth - 1]


def load_error(tmp_path: Path, text: str) -> str:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_rulebook(p)
    return str(exc.value)


def test_good_file_loads(tmp_path):
    book = load_rulebook(write(tmp_path, GOOD))
    assert book.find("B1").rule.amount == D("0.5")


def test_unknown_trigger_is_reported_with_file_line_and_field(tmp_path):
    text = GOOD.replace("trigger: finding", "trigger: phone_check")
    msg = load_error(tmp_path, text)
    p = tmp_path / "2020.yaml"
    assert f"{p}:{line_of(text, 'phone_check')}: rule_sets[1].categories[0].rules[0].trigger:" in msg
    assert "unknown trigger 'phone_check'" in msg


def test_amount_and_range_together_are_refused(tmp_path):
    text = GOOD.replace("amount: 0.5", "amount: 0.5\n            range: [0.1, 2]")
    msg = load_error(tmp_path, text)
    assert f":{line_of(text, 'code: B1')}: rule_sets[1].categories[0].rules[0]:" in msg
    assert "either `amount` or `range`" in msg


def test_negative_amount_is_refused_at_its_line(tmp_path):
    text = GOOD.replace("amount: 0.2", "amount: -0.2")
    msg = load_error(tmp_path, text)
    assert f":{line_of(text, 'amount: -0.2')}: rule_sets[0].categories[0].rules[0].amount:" in msg
    assert "must be positive" in msg


def test_ocr_text_amount_is_refused(tmp_path):
    text = GOOD.replace("amount: 0.5", 'amount: "0.I"')
    msg = load_error(tmp_path, text)
    assert "'0.I' is not a number of points" in msg
    assert f":{line_of(text, '0.I')}:" in msg


def test_kind_in_two_rule_sets_is_refused_at_the_second(tmp_path):
    text = GOOD.replace("kinds: [city_dept]", "kinds: [city_dept, county_gov]")
    msg = load_error(tmp_path, text)
    assert f":{line_of(text, 'kinds: [city_dept, county_gov]')}: rule_sets[1].kinds[1]:" in msg
    assert "'county_gov' is already assessed by rule set '县区'" in msg


def test_duplicate_rule_code_is_refused_at_the_second(tmp_path):
    text = GOOD.replace("code: B1", "code: A1")
    msg = load_error(tmp_path, text)
    assert f":{line_of(text, 'code: A1', 2)}: rule_sets[1].categories[0].rules[0].code:" in msg
    assert "rule code 'A1' is used twice" in msg


def test_escalation_step_must_look_like_plus_n(tmp_path):
    esc = "trigger: escalation\n            step: {step}"
    text = GOOD.replace("trigger: late_completion", esc.format(step='"5"'))
    msg = load_error(tmp_path, text)
    assert f":{line_of(text, 'step:')}: rule_sets[0].categories[0].rules[0].step:" in msg
    assert "is not like \"+3\"" in msg
    unquoted = GOOD.replace("trigger: late_completion", esc.format(step="+5"))
    assert 'write the step as quoted text like "+5"' in load_error(tmp_path, unquoted)
    ok = GOOD.replace("trigger: late_completion", esc.format(step='"+5"'))
    assert load_rulebook(write(tmp_path, ok)).find("A1").rule.step == "+5"


def test_per_period_needs_a_period(tmp_path):
    text = GOOD.replace("amount: 0.5", "amount: 0.5\n            per: period")
    assert "`period` (month/quarter/half_year/year) goes with `per: period`" in load_error(tmp_path, text)


def test_match_on_a_finding_is_refused(tmp_path):
    text = GOOD.replace("amount: 0.5", "amount: 0.5\n            match: {items: ['2020-1']}")
    assert "`match` restricts obligation triggers only" in load_error(tmp_path, text)


def test_unknown_field_and_yaml_syntax_errors_have_lines(tmp_path):
    text = GOOD.replace("amount: 0.5", "amount: 0.5\n            amout: 1")
    msg = load_error(tmp_path, text)
    assert f":{line_of(text, 'amout')}: rule_sets[1].categories[0].rules[0].amout:" in msg
    broken = GOOD.replace("kinds: [city_dept]", "kinds: [city_dept")
    assert "YAML syntax error" in load_error(tmp_path, broken)


def test_all_problems_are_reported_at_once(tmp_path):
    text = GOOD.replace("code: B1", "code: A1").replace("kinds: [city_dept]", "kinds: [county_gov]")
    msg = load_error(tmp_path, text)
    assert "used twice" in msg and "already assessed" in msg


def test_small_test_rule_book_loads():
    book = load_rulebook(FIXTURES / "small-rules.yaml")
    assert book.find("MM").rule.countable_after == "month_end"
    assert book.find("M").rule.countable_after == "due"
