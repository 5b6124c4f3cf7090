"""Ledger → scorecard: caps bite in the documented order and are explained; pending, decisions,
reversals; the base-100 scheme."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from scoring.engine import (
    EarlyCompletion,
    EscalationReached,
    Finding,
    LateCompletion,
    LedgerLine,
    Missed,
    Period,
    ScoringError,
    decision_for,
    entries_for,
    reversal_of,
    scorecard,
)
from scoring.rules import load_rulebook, rulebook_path

D = Decimal
BOOK = load_rulebook(Path(__file__).parent / "fixtures" / "small-rules.yaml")
KINDS = {"cy": "county_gov", "kfq": "zone", "sj": "city_dept", "qt": "other"}
NAMES = {"cy": "双塔区人民政府", "kfq": "经济技术开发区管委会", "sj": "市教育局", "qt": "某单位"}
YEAR = Period.assessment(BOOK, "Y")


def score(facts, *, names=None, period=YEAR, book=BOOK, lines=None):
    entries = entries_for(facts, rulebook=book, unit_kinds=KINDS, period=period)
    ledger = lines if lines is not None else [LedgerLine.from_spec(e, id=i)
                                             for i, e in enumerate(entries, start=1)]
    return scorecard(ledger, rulebook=book, unit_kinds=KINDS, unit_names=names or {"cy": NAMES["cy"]},
                     period=period)


def only(scores):
    [s] = scores
    return s


def lates(n, unit="cy", start=1):
    return [LateCompletion(i, unit, "2020-6", "once", date(2020, 9, 15), date(2020, 9, 18), 3)
            for i in range(start, start + n)]


def reds(n, start=100):
    return [EscalationReached(i, i, "cy", "2020-6", "+5", date(2020, 9, 22)) for i in range(start, start + n)]


def monthly_misses(months):
    return [Missed(200 + m, "cy", "2020-16", f"2020-{m:02d}", date(2020, m, 10), as_of=date(2020, 12, 31))
            for m in months]


def earlies(n):
    return [EarlyCompletion(300 + i, "cy", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 1), 9)
            for i in range(n)]


def levels(s):
    return [(c.level, c.code, c.before, c.after) for c in s.caps]


# --------------------------------------------------------------------------- caps


def test_no_caps_when_nothing_exceeds_them():
    s = only(score(lates(2)))
    assert s.caps == [] and s.final == D("-0.4") and not s.provisional
    assert [(r.rule_code, r.count, r.raw, r.counted) for r in s.rules] == [("L", 2, D("0.4"), D("0.4"))]


def test_rule_cap_bites_and_is_explained():
    s = only(score(lates(4)))
    assert levels(s) == [("rule", "L", D("0.8"), D("0.6"))]
    assert s.raw_deductions == D("0.8") and s.deductions == D("0.6") and s.final == D("-0.6")
    assert any("本项最多减0.6分：0.8 → 0.6" in ln for ln in s.explain())


def test_category_cap_bites_after_the_rule_cap():
    # L: 4 × 0.2 = 0.8 → 0.6 (rule cap); E: 3 × 0.1; MM: 2 × 0.5 → category T 1.9 → 1 (cap)
    s = only(score([*lates(4), *reds(3), *monthly_misses([4, 5])]))
    assert levels(s) == [("rule", "L", D("0.8"), D("0.6")), ("category", "T", D("1.9"), D("1"))]
    t = s.categories[0]
    assert (t.deductions_raw, t.deductions, t.subtotal) == (D("1.9"), D("1"), D("-1"))
    assert s.final == D("-1")


def test_category_bonus_cap_bites_inside_the_frame_explanation():
    # 3 early completions: 0.06 (rule cap 0.1 not reached) → category T bonus cap 0.05; with a
    # 1.0 deduction elsewhere the bonus shows in the score
    facts = [*earlies(3), Finding(1, "cy", "P2", date(2020, 4, 1), count=10)]
    s = only(score(facts))
    assert levels(s) == [("category_bonus", "T", D("0.06"), D("0.05"))]
    assert s.bonuses == D("0.05") and s.deductions == D("1") and s.final == D("-0.95")


def test_total_bonus_cap_bites_after_category_bonus_caps():
    facts = [Finding(1, "cy", "P4", date(2020, 4, 1), count=2), *earlies(3),
             Finding(2, "cy", "BIG", date(2020, 4, 2))]
    s = only(score(facts))
    assert levels(s) == [("category_bonus", "T", D("0.06"), D("0.05")),
                         ("bonus_total", "县区", D("4.05"), D("2.5"))]
    assert s.final == D("-0.5")


def test_overall_frame_bites_last_at_minus_five():
    facts = [Finding(i, "cy", "BIG", date(2020, 4, i)) for i in range(1, 3)]
    s = only(score(facts))
    assert levels(s) == [("frame", "max_deduction", D("-6"), D("-5"))]
    assert s.before_frame == D("-6") and s.final == D("-5")
    assert any("减分框架：最高减5分：-6 → -5" in ln for ln in s.explain())


def test_all_caps_bite_in_the_documented_order():
    facts = [*lates(4), *reds(3), *monthly_misses([4, 5]), *earlies(3),
             Finding(1, "cy", "P4", date(2020, 4, 1), count=2),
             *[Finding(10 + i, "cy", "BIG", date(2020, 5, 1 + i)) for i in range(3)]]
    s = only(score(facts))
    assert [c.level for c in s.caps] == ["rule", "category", "category_bonus", "bonus_total", "frame"]
    # D = 1 (T, capped) + 9 (BIG) = 10; B = 2.5 (total cap); −7.5 → −5
    assert (s.deductions, s.bonuses, s.before_frame, s.final) == (D("10"), D("2.5"), D("-7.5"), D("-5"))
    text = "\n".join(s.explain())
    assert text.index("本项最多减0.6分") < text.index("一级指标最多减1分") < text.index(
        "一级指标最多加0.05分") < text.index("加分合计最多2.5分") < text.index("最高减5分")


def test_bonuses_stay_inside_the_deduction_frame():
    s = only(score([Finding(1, "cy", "P4", date(2020, 4, 1))]))
    assert s.final == D("0") and s.before_frame == D("2")
    assert levels(s) == [("frame", "bonus_within_frame", D("2"), D("0"))]


def test_bonus_above_zero_when_the_scheme_allows_it(tmp_path):
    text = (Path(__file__).parent / "fixtures" / "small-rules.yaml").read_text(encoding="utf-8")
    p = tmp_path / "r.yaml"
    p.write_text(text.replace("max_deduction: 5}", "max_deduction: 5, bonus_above_zero: true}"),
                 encoding="utf-8")
    s = only(score([Finding(1, "cy", "P4", date(2020, 4, 1))], book=load_rulebook(p)))
    assert s.final == D("2") and s.caps == []


# --------------------------------------------------------------------------- pending, decisions, reversals


def pending_line(id_=1):
    return LedgerLine("M", "cy", "obligation:7", "once", None, (D("-2"), D("-0.1")), None, id_,
                      "未按时间节点完成", occurred_on=date(2020, 6, 30), item_code="2020-1")


def fixed_line(id_, amount="-0.2", day=date(2020, 9, 18)):
    return LedgerLine("L", "cy", f"obligation:{id_}", "once", D(amount), None, None, id_, "逾期完成",
                      occurred_on=day)


def card(lines, period=YEAR):
    return only(scorecard(lines, rulebook=BOOK, unit_kinds=KINDS, unit_names={"cy": NAMES["cy"]},
                          period=period))


def test_discretionary_entry_is_pending_and_makes_the_score_provisional():
    s = card([pending_line(), fixed_line(2)])
    assert s.provisional and [ln.id for ln in s.pending] == [1]
    assert s.final == D("-0.2")  # the pending line is neither 0 nor 2 in the final …
    # … but bounds what the final can become: worst 0.2 + 2 = 2.2 → 1 (category T cap)
    assert s.final_range == (D("-1"), D("-0.3"))
    assert s.rules[0].rule_code == "L" and s.rules[1].pending == 1
    assert "暂定" in s.explain()[-1] and "-1至-0.3" in s.explain()[-1]


def test_a_decision_counts_and_the_score_is_final():
    decided = LedgerLine("M", "cy", "obligation:7", "once", D("-0.5"), (D("-2"), D("-0.1")), None, 1,
                         "未按时间节点完成", occurred_on=date(2020, 6, 30))
    s = card([decided, fixed_line(2)])
    assert not s.provisional and s.final_range is None
    assert s.final == D("-0.7")


def test_a_decision_row_gives_its_pending_line_the_amount():
    pending = pending_line()
    decision = LedgerLine.from_spec(decision_for(pending, rulebook=BOOK, magnitude=D("0.5"),
                                                 reason="视完成情况减0.5分", on=date(2020, 10, 9)), id=5)
    assert (decision.amount, decision.decides, decision.subject_key) == (D("-0.5"), 1, "decision:1")
    s = card([pending, decision, fixed_line(2)])
    assert not s.provisional and s.final == D("-0.7")
    m = next(ln for ln in s.lines if ln.rule_code == "M")
    assert m.id == 1 and m.amount == D("-0.5") and "视完成情况减0.5分" in m.reason


def test_reversing_a_decision_makes_the_line_pending_again():
    pending = pending_line()
    decision = LedgerLine.from_spec(decision_for(pending, rulebook=BOOK, magnitude=D("0.5"),
                                                 reason="减0.5分", on=date(2020, 10, 9)), id=5)
    undo = LedgerLine.from_spec(reversal_of(decision, reason="裁定有误", on=date(2020, 10, 10)), id=6)
    s = card([pending, decision, undo])
    assert s.provisional and [ln.id for ln in s.pending] == [1] and s.final == D("0")


def test_decisions_must_be_single_in_range_and_on_pending_lines():
    pending = pending_line()
    with pytest.raises(ScoringError, match="outside"):
        decision_for(pending, rulebook=BOOK, magnitude=D("3"), reason="x", on=date(2020, 10, 9))
    two = [LedgerLine("M", "cy", f"decision:1#{i}", "once", D("-0.5"), None, None, 5 + i, "x", decides=1)
           for i in range(2)]
    with pytest.raises(ScoringError, match="two live decisions"):
        card([pending, *two])
    on_fixed = LedgerLine("L", "cy", "decision:2", "once", D("-0.1"), None, None, 9, "x", decides=2)
    with pytest.raises(ScoringError, match="not a pending"):
        card([fixed_line(2), on_fixed])
    too_much = LedgerLine("M", "cy", "decision:1", "once", D("-2.5"), None, None, 9, "x", decides=1)
    with pytest.raises(ScoringError, match="outside its range"):
        card([pending, too_much])


def test_a_decision_outside_its_range_is_refused():
    bad = LedgerLine("M", "cy", "obligation:7", "once", D("-3"), (D("-2"), D("-0.1")), None, 1, "x")
    with pytest.raises(ScoringError, match="outside its range"):
        card([bad])


def test_a_reversal_cancels_its_line():
    original = fixed_line(1)
    rev = LedgerLine.from_spec(reversal_of(original, reason="延期已批准", on=date(2020, 10, 8)), id=2)
    s = card([original, fixed_line(3), rev])
    assert s.final == D("-0.2") and [ln.id for ln in s.lines] == [3]
    assert [ln.id for ln in s.reversed] == [1]


def test_a_reversed_pending_entry_is_no_longer_pending():
    original = pending_line()
    rev = LedgerLine.from_spec(reversal_of(original, reason="不予扣分", on=date(2020, 10, 8)), id=2)
    s = card([original, rev])
    assert not s.provisional and s.final == D("0")


def test_reversal_with_the_wrong_amount_is_refused():
    rev = LedgerLine("L", "cy", "reversal:1", "once", D("0.3"), None, 1, 2, "x")
    with pytest.raises(ScoringError, match=r"should be 0\.2"):
        card([fixed_line(1), rev])


def test_amount_with_the_wrong_sign_is_refused():
    with pytest.raises(ScoringError, match="wrong sign"):
        card([fixed_line(1, amount="0.2")])


def test_lines_outside_the_period_are_left_out():
    s = card([fixed_line(1, day=date(2020, 5, 3)), fixed_line(2, day=date(2020, 8, 3))],
             period=Period.assessment(BOOK, "H1"))
    assert [ln.id for ln in s.lines] == [1] and s.final == D("-0.2")


def test_entry_specs_can_be_scored_directly_and_units_are_ordered_by_rule_set():
    facts = [*lates(1, unit="sj"), *lates(1, unit="kfq", start=5)]
    entries = entries_for(facts, rulebook=BOOK, unit_kinds=KINDS, period=YEAR)
    scores = scorecard(entries, rulebook=BOOK, unit_kinds=KINDS, unit_names=NAMES, period=YEAR)
    # 县区 set first (cy, kfq in unit_names order), then 部门 (sj); qt is not assessed
    assert [(s.unit_code, s.final) for s in scores] == [("cy", D("0")), ("kfq", D("-0.2")),
                                                       ("sj", D("-0.2"))]
    assert scores[0].rules == [] and len(scores[0].categories) == 2


def test_lines_for_an_unassessed_unit_or_unknown_rule_are_errors():
    line = LedgerLine("DF1", "qt", "finding:1", "2020-04", D("-0.5"), None, None, 1, "x")
    with pytest.raises(ScoringError, match="not assessed"):
        scorecard([line], rulebook=BOOK, unit_kinds=KINDS, unit_names={}, period=YEAR)
    gone = LedgerLine("ZZ", "cy", "finding:1", "2020-04", D("-0.5"), None, None, 1, "x")
    with pytest.raises(ScoringError, match="'ZZ' is not in the 2020 rules"):
        card([gone])


# --------------------------------------------------------------------------- base 100


BASE = """\
year: 2020
title: 百分制测试
source: {title: 测试}
scheme: {style: base, base: 100, floor: 0}
assessments: [{code: Y, name: 年底, end: "12-31"}]
rule_sets:
  - name: 全部单位
    kinds: [county_gov, zone, city_dept, affiliated, other]
    categories:
      - code: A
        name: 时效
        cap: 30
        rules:
          - {code: A1, title: 逾期完成, direction: deduct, trigger: late_completion, amount: 2}
          - {code: A2, title: 严重后果, direction: deduct, trigger: finding, amount: 50, per: instance}
          - {code: A3, title: 表彰, direction: bonus, trigger: finding, amount: 5}
      - code: B
        name: 其他
        rules:
          - {code: B1, title: 严重后果, direction: deduct, trigger: finding, amount: 80, per: instance}
"""


def test_base_100_scheme_subtracts_deductions_adds_bonuses_and_stops_at_the_floor(tmp_path):
    p = tmp_path / "base.yaml"
    p.write_text(BASE, encoding="utf-8")
    book = load_rulebook(p)
    s = only(score([*lates(3), Finding(1, "cy", "A3", date(2020, 4, 1))], book=book))
    assert (s.style, s.final, s.caps) == ("base", D("99"), [])
    s = only(score([Finding(1, "cy", "A2", date(2020, 4, 1)), Finding(2, "cy", "B1", date(2020, 4, 2))],
                   book=book))
    # A: 50 → 30 (category cap), B: 80; 100 − 110 = −10 → floor 0
    assert levels(s) == [("category", "A", D("50"), D("30")), ("frame", "floor", D("-10"), D("0"))]
    assert s.final == D("0")


def test_real_2024_rules_score_a_department_year():
    book = load_rulebook(rulebook_path(2024))
    kinds = {"fgw": "city_dept"}
    facts = [Finding(1, "fgw", "D4.1", date(2024, 3, 31)), Finding(2, "fgw", "D4.1", date(2024, 3, 31)),
             Finding(3, "fgw", "D5.2", date(2024, 8, 1)), Finding(4, "fgw", "D3.B1", date(2024, 5, 1), count=8),
             Finding(5, "fgw", "D6.1", date(2024, 10, 1))]
    period = Period.assessment(book, "Y")
    entries = entries_for(facts, rulebook=book, unit_kinds=kinds, period=period)
    [s] = scorecard(entries, rulebook=book, unit_kinds=kinds, unit_names={"fgw": "市发展改革委"},
                    period=period)
    # D4.1 once for March 0.5, D5.2 0.2, D6.1 0.5 → 1.2; D3.B1 8 × 0.02 = 0.16 → 0.1 (cap)
    assert (s.deductions, s.bonuses, s.final) == (D("1.2"), D("0.1"), D("-1.1"))
    assert levels(s) == [("rule", "D3.B1", D("0.16"), D("0.1"))]
