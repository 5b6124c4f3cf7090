"""Rule dataclasses: the exact YAML shapes of CONTRACTS.md, validation, canonical phrases."""

from __future__ import annotations

import dataclasses

import pytest

from deadlines.phrases import parse_time_limit
from deadlines.rules import (
    ByDate,
    CalendarDays,
    Hours,
    Months,
    Recurring,
    Unparsed,
    WorkingDays,
    describe,
    rule_from_dict,
    rule_to_dict,
)

# (rule, its dict exactly as in CONTRACTS.md, canonical phrase)
SHAPES = [
    (WorkingDays(5), {"kind": "working_days", "n": 5}, "5个工作日内"),
    (
        WorkingDays(5, event="新出台的相关政策文件"),
        {"kind": "working_days", "n": 5, "event": "新出台的相关政策文件"},
        "5个工作日内",
    ),
    (CalendarDays(5), {"kind": "calendar_days", "n": 5}, "5日内"),
    (Months(1), {"kind": "months", "n": 1}, "1个月内"),
    (Months(3), {"kind": "months", "n": 3}, "3个月内"),
    (Hours(2), {"kind": "hours", "n": 2}, "2小时内"),
    (ByDate(9, 15), {"kind": "by_date", "month": 9, "day": 15}, "9月15日前"),
    (ByDate(8), {"kind": "by_date", "month": 8}, "8月底前"),
    (ByDate(12), {"kind": "by_date", "month": 12}, "年底前"),
    (
        ByDate(10, 30, year=2018),
        {"kind": "by_date", "year": 2018, "month": 10, "day": 30},
        "2018年10月30日前",
    ),
    (ByDate(12, year=2020), {"kind": "by_date", "year": 2020, "month": 12}, "2020年年底前"),
    (Recurring("month"), {"kind": "recurring", "every": "month"}, "每月"),
    (Recurring("month", day=10), {"kind": "recurring", "every": "month", "day": 10}, "每月10日前"),
    (Recurring("quarter"), {"kind": "recurring", "every": "quarter"}, "每季度"),
    (Recurring("half_year"), {"kind": "recurring", "every": "half_year"}, "每半年"),
    (Recurring("year"), {"kind": "recurring", "every": "year"}, "每年"),
    (
        Recurring("year", month=1, day=10),
        {"kind": "recurring", "every": "year", "month": 1, "day": 10},
        "每年1月10日前",
    ),
    (
        Recurring("year", month=3),
        {"kind": "recurring", "every": "year", "month": 3},
        "每年3月底前",
    ),
    (
        Recurring("quarter", after_period=WorkingDays(10)),
        {
            "kind": "recurring",
            "every": "quarter",
            "after_period": {"kind": "working_days", "n": 10},
        },
        "每季度结束后10个工作日内",
    ),
    (
        Recurring("month", after_period=CalendarDays(5)),
        {"kind": "recurring", "every": "month", "after_period": {"kind": "calendar_days", "n": 5}},
        "每月结束后5日内",
    ),
]


@pytest.mark.parametrize(("rule", "as_dict", "phrase"), SHAPES, ids=[s[2] for s in SHAPES])
def test_rule_serialises_to_the_contract_shape_and_back(rule, as_dict, phrase):
    assert rule_to_dict(rule) == as_dict
    assert next(iter(rule_to_dict(rule))) == "kind"
    assert rule_from_dict(as_dict) == rule


@pytest.mark.parametrize(("rule", "as_dict", "phrase"), SHAPES, ids=[s[2] for s in SHAPES])
def test_describe_gives_a_phrase_the_parser_reads_back_to_the_same_rule(rule, as_dict, phrase):
    assert describe(rule) == phrase
    parsed = parse_time_limit(phrase)
    expected = dataclasses.replace(rule, event=None) if hasattr(rule, "event") else rule
    assert parsed == expected


def test_unparsed_serialises_as_reason_beside_its_text():
    u = Unparsed("及时", "vague")
    assert rule_to_dict(u) == {"unparsed": "vague"}
    assert rule_from_dict({"unparsed": "vague"}, text="及时") == u
    assert "及时" in describe(u) and "vague" in describe(u)


def test_rules_are_frozen():
    rule = WorkingDays(5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.n = 6  # type: ignore[misc]


BAD_DICTS = [
    ({"n": 5}, r"missing 'kind'"),
    ({"kind": "weeks", "n": 1}, r"unknown kind 'weeks'"),
    ({"kind": "working_days"}, r"missing field\(s\) n"),
    ({"kind": "working_days", "n": 0}, r"working_days\.n: must be a positive"),
    ({"kind": "working_days", "n": "5"}, r"working_days\.n"),
    ({"kind": "working_days", "n": True}, r"working_days\.n"),
    ({"kind": "hours", "n": 2, "days": 1}, r"unknown field\(s\) days"),
    ({"kind": "calendar_days", "n": 5, "event": ""}, r"calendar_days\.event"),
    ({"kind": "by_date", "day": 5}, r"missing field\(s\) month"),
    ({"kind": "by_date", "month": 13}, r"by_date\.month: must be 1\.\.12"),
    ({"kind": "by_date", "month": 2, "day": 30}, r"by_date\.day: 30 does not exist in month 2"),
    ({"kind": "by_date", "year": 2023, "month": 2, "day": 29}, r"2023-02 has no day 29"),
    ({"kind": "by_date", "year": 20, "month": 2}, r"by_date\.year"),
    ({"kind": "recurring", "every": "week"}, r"recurring\.every: must be one of"),
    ({"kind": "recurring", "every": "quarter", "day": 10}, r"recurring\.day: only allowed"),
    ({"kind": "recurring", "every": "month", "month": 3}, r"recurring\.month: only allowed"),
    ({"kind": "recurring", "every": "year", "day": 3}, r"also needs a month"),
    (
        {"kind": "recurring", "every": "quarter", "after_period": {"kind": "hours", "n": 2}},
        r"after_period: must be",
    ),
    (
        {
            "kind": "recurring",
            "every": "quarter",
            "after_period": {"kind": "working_days", "n": 2, "event": "x"},
        },
        r"after_period\.event",
    ),
    (
        {
            "kind": "recurring",
            "every": "month",
            "day": 5,
            "after_period": {"kind": "working_days", "n": 2},
        },
        r"cannot be combined",
    ),
    ({"unparsed": ""}, r"rule\.unparsed"),
    ({"unparsed": "x", "kind": "hours"}, r"cannot have other fields"),
    (["working_days", 5], r"must be a mapping"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_DICTS, ids=[m for _, m in BAD_DICTS])
def test_bad_rule_dict_raises_value_error_naming_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        rule_from_dict(bad)


def test_february_29_is_allowed_without_a_year():
    assert ByDate(2, 29).day == 29
    assert Recurring("year", month=2, day=29).day == 29
