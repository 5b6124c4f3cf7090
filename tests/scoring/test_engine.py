"""Facts → ledger entry specs: every trigger, per-period counting, keys stable across re-runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
    decided_amount,
    entries_for,
    reversal_of,
)
from scoring.rules import load_rulebook

D = Decimal
BOOK = load_rulebook(Path(__file__).parent / "fixtures" / "small-rules.yaml")
KINDS = {"cy": "county_gov", "kfq": "zone", "sj": "city_dept", "qt": "other"}
YEAR = Period.assessment(BOOK, "Y")


def run(*facts, period: Period = YEAR):
    return entries_for(facts, rulebook=BOOK, unit_kinds=KINDS, period=period)


def late(oid=1, unit="cy", item="2020-6", days=3, done=date(2020, 9, 18), pkey="once"):
    return LateCompletion(oid, unit, item, pkey, date(2020, 9, 15), done, days, item_title="集中发布政策文件")


# --------------------------------------------------------------------------- triggers


def test_late_completion_deducts_per_obligation_with_a_reason_naming_rule_item_and_dates():
    [e] = run(late())
    assert (e.rule_code, e.unit_code, e.amount) == ("L", "cy", D("-0.2"))
    assert e.key == ("L", "obligation:1", "once")
    assert e.links.obligation_id == 1 and e.pending_range is None
    assert e.occurred_on == date(2020, 9, 18)
    for part in ("依据L「逾期完成」", "事项2020-6「集中发布政策文件」", "2020年9月15日", "2020年9月18日",
                 "逾期3个工作日", "每件减0.2分"):
        assert part in e.reason


def test_late_completion_threshold_selects_the_serious_rule_too():
    codes = [e.rule_code for e in run(late(days=12))]
    assert codes == ["L", "LL"]
    assert [e.rule_code for e in run(late(days=9))] == ["L"]


def test_late_completion_of_an_excluded_item_gives_nothing():
    assert run(late(item="2020-16")) == []


def test_done_at_is_read_in_shanghai_time_for_the_period():
    # 2020-06-30 17:00 UTC is 2020-07-01 01:00 in Shanghai: not in the 年中 assessment
    done = datetime(2020, 6, 30, 17, 0, tzinfo=UTC)
    fact = LateCompletion(1, "cy", "2020-6", "once", date(2020, 6, 20), done, 6)
    assert run(fact, period=Period.assessment(BOOK, "H1")) == []
    [e] = run(fact, period=Period.assessment(BOOK, "Q3"))
    assert e.occurred_on == date(2020, 7, 1)


def test_naive_done_at_is_refused():
    fact = LateCompletion(1, "cy", "2020-6", "once", date(2020, 6, 20), datetime(2020, 7, 1, 9), 6)  # noqa: DTZ001
    with pytest.raises(ScoringError, match="naive datetime"):
        run(fact)


def test_missed_discretionary_rule_gives_a_pending_range_not_an_amount():
    fact = Missed(7, "cy", "2020-1", "once", date(2020, 6, 30), as_of=date(2020, 9, 30))
    [e] = run(fact)
    assert e.rule_code == "M" and e.amount is None and e.pending
    assert e.pending_range == (D("-2"), D("-0.1"))
    assert e.occurred_on == date(2020, 6, 30) and "视情况减0.1-2分" in e.reason


def test_missed_monthly_report_counts_only_once_the_month_is_over():
    due = date(2020, 5, 10)
    mid = Missed(8, "cy", "2020-16", "2020-05", due, as_of=date(2020, 5, 20))
    assert run(mid) == []
    [e] = run(Missed(8, "cy", "2020-16", "2020-05", due, as_of=date(2020, 5, 31)))
    assert (e.rule_code, e.amount, e.key) == ("MM", D("-0.5"), ("MM", "obligation:8", "2020-05"))
    assert e.occurred_on == date(2020, 5, 31) and "截至2020年5月31日（当月底）仍未完成" in e.reason
    # observed again at the year-end assessment: same key, so the ledger adds nothing
    [again] = run(Missed(8, "cy", "2020-16", "2020-05", due, as_of=date(2020, 12, 31)))
    assert again.key == e.key


def test_missed_of_an_unmatched_item_gives_nothing():
    assert run(Missed(9, "cy", "2020-3", "once", date(2020, 6, 30), as_of=date(2020, 9, 30))) == []


def test_escalation_matches_only_its_step():
    fact = EscalationReached(45, 1, "cy", "2020-6", "+5", date(2020, 9, 22), due_date=date(2020, 9, 15))
    [e] = run(fact)
    assert (e.rule_code, e.amount, e.key) == ("E", D("-0.1"), ("E", "escalation:45", "2020-09"))
    assert e.links.escalation_id == 45 and e.links.obligation_id == 1
    assert "升级督办（+5）" in e.reason and "2020年9月22日" in e.reason
    [e3] = run(EscalationReached(46, 1, "cy", "2020-6", "+3", date(2020, 9, 18)))
    assert e3.rule_code == "E3"
    assert run(EscalationReached(47, 1, "cy", "2020-6", "+1", date(2020, 9, 16))) == []


def test_ladder_steps_before_or_at_the_due_date_never_match():
    for step in ("-3", "0", "+0"):
        assert run(EscalationReached(49, 1, "cy", "2020-6", step, date(2020, 9, 10))) == []


def test_malformed_escalation_step_is_an_error():
    with pytest.raises(ScoringError, match="not like"):
        run(EscalationReached(48, 1, "cy", "2020-6", "red", date(2020, 9, 22)))


def test_early_completion_needs_enough_working_days():
    early = EarlyCompletion(3, "cy", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 1), 5)
    [e] = run(early)
    assert (e.rule_code, e.amount) == ("B", D("0.02"))
    assert "提前5个工作日" in e.reason
    assert run(EarlyCompletion(3, "cy", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 10), 3)) == []


def test_finding_count_multiplies_occurrence_rules():
    [e] = run(Finding(7, "cy", "P2", date(2020, 4, 2), count=3, note="3家部门未编制目录"))
    assert (e.amount, e.key) == (D("-0.3"), ("P2", "finding:7", "2020-04"))
    assert "共3处" in e.reason and "3家部门未编制目录" in e.reason and "每家减0.1分" in e.reason


def test_finding_count_does_not_multiply_instance_rules():
    [e] = run(Finding(7, "cy", "BIG", date(2020, 4, 2), count=2))
    assert e.amount == D("-3")


def test_zone_units_share_the_county_rule_set_and_department_units_use_theirs():
    assert [e.rule_code for e in run(late(unit="kfq"))] == ["L"]
    assert [e.rule_code for e in run(late(unit="sj"))] == ["DL"]


def test_units_of_a_kind_the_rule_book_does_not_assess_get_no_entries():
    assert run(late(unit="qt")) == []
    with pytest.raises(ScoringError, match="not assessed"):
        run(Finding(1, "qt", "DF1", date(2020, 4, 2)))


def test_finding_errors_name_the_problem():
    with pytest.raises(ScoringError, match="belongs to '部门'"):
        run(Finding(1, "cy", "DF1", date(2020, 4, 2)))
    with pytest.raises(ScoringError, match="computed from late_completion facts"):
        run(Finding(1, "cy", "L", date(2020, 4, 2)))
    with pytest.raises(ScoringError, match="unknown rule 'ZZ'"):
        run(Finding(1, "cy", "ZZ", date(2020, 4, 2)))
    with pytest.raises(ScoringError, match="fixed amount"):
        run(Finding(1, "cy", "P2", date(2020, 4, 2), amount=D("0.1")))
    with pytest.raises(ScoringError, match="kind unknown"):
        run(Finding(1, "nobody", "P2", date(2020, 4, 2)))


def test_finding_with_a_decided_amount_counts_it_within_the_range():
    [e] = run(Finding(5, "cy", "P3", date(2020, 5, 1), amount=D("0.15")))
    assert e.amount == D("0.15") and e.pending_range == (D("0.1"), D("0.2"))
    with pytest.raises(ScoringError, match=r"outside 0\.1-0\.2"):
        run(Finding(5, "cy", "P3", date(2020, 5, 1), amount=D("0.5")))


def test_facts_outside_the_period_give_nothing():
    h1 = Period.assessment(BOOK, "H1")
    assert run(late(), period=h1) == []
    assert run(Finding(1, "cy", "P2", date(2020, 7, 1)), period=h1) == []
    assert len(run(Finding(1, "cy", "P2", date(2020, 6, 30)), period=h1)) == 1


# --------------------------------------------------------------------------- per period


def test_per_quarter_rule_counts_once_per_quarter_and_unit():
    facts = [
        Finding(10, "cy", "P1", date(2020, 7, 5), note="上午拨测无人接听"),
        Finding(11, "cy", "P1", date(2020, 9, 20), note="再次无人接听"),
        Finding(12, "cy", "P1", date(2020, 10, 9)),
        Finding(13, "kfq", "P1", date(2020, 8, 1)),
    ]
    entries = run(*facts)
    assert [(e.unit_code, e.subject_key, e.period_key, e.amount) for e in entries] == [
        ("cy", "quarter:2020-Q3@cy", "2020-Q3", D("-0.2")),
        ("cy", "quarter:2020-Q4@cy", "2020-Q4", D("-0.2")),
        ("kfq", "quarter:2020-Q3@kfq", "2020-Q3", D("-0.2")),
    ]
    q3 = entries[0]
    assert q3.links.finding_ids == (10, 11) and q3.links.finding_id is None
    assert q3.occurred_on == date(2020, 7, 5)
    assert "2020年第三季度计一次" in q3.reason and "#10" in q3.reason and "#11" in q3.reason


def test_per_quarter_key_does_not_change_when_a_later_finding_is_added():
    first = run(Finding(10, "cy", "P1", date(2020, 7, 5)))
    later = run(Finding(10, "cy", "P1", date(2020, 7, 5)), Finding(11, "cy", "P1", date(2020, 9, 20)))
    assert [e.key for e in first] == [e.key for e in later]


def test_per_month_and_per_year_rules():
    entries = run(Finding(1, "cy", "P5", date(2020, 5, 3)), Finding(2, "cy", "P5", date(2020, 5, 28)),
                  Finding(3, "cy", "P5", date(2020, 6, 1)),
                  Finding(4, "cy", "P3", date(2020, 3, 1)), Finding(5, "cy", "P3", date(2020, 11, 1)))
    assert [(e.rule_code, e.period_key) for e in entries] == [
        ("P3", "2020"), ("P5", "2020-05"), ("P5", "2020-06")]
    assert entries[0].pending_range == (D("0.1"), D("0.2"))


# --------------------------------------------------------------------------- idempotency


def all_kinds_of_facts():
    return [
        late(1), late(2, days=15),
        Missed(7, "cy", "2020-1", "once", date(2020, 6, 30), as_of=date(2020, 9, 30)),
        Missed(8, "cy", "2020-16", "2020-05", date(2020, 5, 10), as_of=date(2020, 6, 1)),
        EscalationReached(45, 1, "cy", "2020-6", "+5", date(2020, 9, 22)),
        EarlyCompletion(3, "kfq", "2020-6", "once", date(2020, 9, 15), date(2020, 9, 1), 9),
        Finding(10, "cy", "P1", date(2020, 7, 5)), Finding(11, "cy", "P1", date(2020, 8, 5)),
        Finding(12, "sj", "DF1", date(2020, 8, 5)),
    ]


def test_same_facts_twice_give_the_same_entry_keys():
    once = run(*all_kinds_of_facts())
    assert len(once) == 9
    assert [e.key for e in run(*all_kinds_of_facts())] == [e.key for e in once]
    doubled = run(*all_kinds_of_facts(), *all_kinds_of_facts())
    assert doubled == once
    assert len({e.key for e in once}) == len(once)


def test_two_different_facts_claiming_one_key_is_an_error():
    with pytest.raises(ScoringError, match="same entry"):
        run(Finding(7, "cy", "P2", date(2020, 4, 2), count=1), Finding(7, "cy", "P2", date(2020, 4, 2), count=2))


# --------------------------------------------------------------------------- helpers


def test_decided_amount_signs_and_checks_the_range():
    assert decided_amount(BOOK, "M", D("0.5")) == D("-0.5")
    assert decided_amount(BOOK, "P3", D("0.2")) == D("0.2")
    with pytest.raises(ScoringError, match="outside"):
        decided_amount(BOOK, "M", D("2.5"))
    with pytest.raises(ScoringError, match="nothing to decide"):
        decided_amount(BOOK, "L", D("0.2"))


def test_reversal_of_a_line_has_the_opposite_amount_and_its_own_key():
    line = LedgerLine("L", "cy", "obligation:1", "once", D("-0.2"), None, None, 17, "逾期完成")
    rev = reversal_of(line, reason="延期已批准", on=date(2020, 10, 8))
    assert (rev.amount, rev.reverses, rev.subject_key) == (D("0.2"), 17, "reversal:17")
    assert rev.key != ("L", "obligation:1", "once") and "延期已批准" in rev.reason
    with pytest.raises(ScoringError):
        reversal_of(LedgerLine.from_spec(rev, id=18), reason="x", on=date(2020, 10, 9))


def test_any_date_range_can_be_scored():
    may = Period.between(date(2020, 5, 1), date(2020, 5, 31))
    assert (may.key, may.name) == ("2020-05-01..2020-05-31", "2020年5月1日至2020年5月31日")
    facts = [Finding(1, "cy", "P2", date(2020, 5, 3)), Finding(2, "cy", "P2", date(2020, 6, 1))]
    assert [e.subject_key for e in run(*facts, period=may)] == ["finding:1"]
    with pytest.raises(ScoringError, match="after end"):
        Period.between(date(2020, 6, 1), date(2020, 5, 1))
    with pytest.raises(ScoringError, match="no assessment 'Q9'"):
        Period.assessment(BOOK, "Q9")
