"""Deadline arithmetic (民法典 第201–203条) on the real 调休 calendar.

The calendar is loaded by the real engine from year files written to a temporary config
directory; they copy the State Council notices for 2020 (with the Spring Festival extension),
2024, 2025 and 2026 — the same days chinese-calendar 1.11 lists. 2027 is deliberately absent.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pendulum
import pytest

from deadlines.calendar import CalendarYearMissing, load_calendar
from deadlines.due import (
    TZ,
    due_for,
    end_of_day,
    periods_for,
    working_days_late,
    working_days_left,
)
from deadlines.phrases import parse_time_limit
from deadlines.rules import (
    ByDate,
    CalendarDays,
    Hours,
    Months,
    Recurring,
    Unparsed,
    WorkingDays,
)

YEARS = {
    2020: """\
        year: 2020
        source: {title: 国务院办公厅关于2020年部分节假日安排的通知}
        sources:
          - {title: 国务院办公厅关于延长2020年春节假期的通知}
        holidays:
          - {name: 元旦, rest: {from: 2020-01-01, to: 2020-01-01}}
          - {name: 春节, rest: {from: 2020-01-24, to: 2020-02-02}, work: [2020-01-19]}
          - {name: 清明节, rest: {from: 2020-04-04, to: 2020-04-06}}
          - {name: 劳动节, rest: {from: 2020-05-01, to: 2020-05-05}, work: [2020-04-26, 2020-05-09]}
          - {name: 端午节, rest: {from: 2020-06-25, to: 2020-06-27}, work: [2020-06-28]}
          - {name: 国庆节、中秋节, rest: {from: 2020-10-01, to: 2020-10-08}, work: [2020-09-27, 2020-10-10]}
        """,
    2024: """\
        year: 2024
        source: {title: 国务院办公厅关于2024年部分节假日安排的通知}
        holidays:
          - {name: 元旦, rest: {from: 2024-01-01, to: 2024-01-01}}
          - {name: 春节, rest: {from: 2024-02-10, to: 2024-02-17}, work: [2024-02-04, 2024-02-18]}
          - {name: 清明节, rest: {from: 2024-04-04, to: 2024-04-06}, work: [2024-04-07]}
          - {name: 劳动节, rest: {from: 2024-05-01, to: 2024-05-05}, work: [2024-04-28, 2024-05-11]}
          - {name: 端午节, rest: {from: 2024-06-10, to: 2024-06-10}}
          - {name: 中秋节, rest: {from: 2024-09-15, to: 2024-09-17}, work: [2024-09-14]}
          - {name: 国庆节, rest: {from: 2024-10-01, to: 2024-10-07}, work: [2024-09-29, 2024-10-12]}
        """,
    2025: """\
        year: 2025
        source: {title: 国务院办公厅关于2025年部分节假日安排的通知}
        holidays:
          - {name: 元旦, rest: {from: 2025-01-01, to: 2025-01-01}}
          - {name: 春节, rest: {from: 2025-01-28, to: 2025-02-04}, work: [2025-01-26, 2025-02-08]}
          - {name: 清明节, rest: {from: 2025-04-04, to: 2025-04-06}}
          - {name: 劳动节, rest: {from: 2025-05-01, to: 2025-05-05}, work: [2025-04-27]}
          - {name: 端午节, rest: {from: 2025-05-31, to: 2025-06-02}}
          - {name: 国庆节、中秋节, rest: {from: 2025-10-01, to: 2025-10-08}, work: [2025-09-28, 2025-10-11]}
        """,
    2026: """\
        year: 2026
        source: {title: 国务院办公厅关于2026年部分节假日安排的通知}
        holidays:
          - {name: 元旦, rest: {from: 2026-01-01, to: 2026-01-03}, work: [2026-01-04]}
          - {name: 春节, rest: {from: 2026-02-15, to: 2026-02-23}, work: [2026-02-14, 2026-02-28]}
          - {name: 清明节, rest: {from: 2026-04-04, to: 2026-04-06}}
          - {name: 劳动节, rest: {from: 2026-05-01, to: 2026-05-05}, work: [2026-05-09]}
          - {name: 端午节, rest: {from: 2026-06-19, to: 2026-06-21}}
          - {name: 中秋节, rest: {from: 2026-09-25, to: 2026-09-27}}
          - {name: 国庆节, rest: {from: 2026-10-01, to: 2026-10-07}, work: [2026-09-20, 2026-10-10]}
        """,
}


def write_calendar_config(root, years=YEARS):
    folder = root / "calendars" / "cn"
    folder.mkdir(parents=True, exist_ok=True)
    for year, text in years.items():
        (folder / f"{year}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def cal(tmp_path_factory):
    return load_calendar(config_dir=write_calendar_config(tmp_path_factory.mktemp("config")))


def sh(y, m, d, hh=10, mm=0):
    return pendulum.datetime(y, m, d, hh, mm, tz="Asia/Shanghai")


# ---------------------------------------------------------------------------- working days

WORKING_DAY_EXAMPLES = [
    # (event day, n, due) — the worked examples of the brief / calendar-libraries notes
    (date(2024, 2, 8), 5, date(2024, 2, 21)),  # Thu before 春节; make-up Sun 2-18 counts
    (date(2024, 2, 10), 5, date(2024, 2, 22)),  # event on a holiday Saturday: not counted
    (date(2026, 9, 30), 5, date(2026, 10, 13)),  # across 国庆, make-up Sat 10-10 counts
    (date(2026, 2, 13), 5, date(2026, 2, 27)),  # make-up Sat 2-14 is working day 1
    (date(2020, 1, 23), 5, date(2020, 2, 7)),  # 2020 Spring Festival extended to 2-2
    (date(2025, 1, 24), 5, date(2025, 2, 7)),
    (date(2026, 9, 18), 5, date(2026, 9, 24)),  # make-up Sun 9-20 counts
    (date(2025, 9, 30), 5, date(2025, 10, 14)),  # 10-9, 10-10, Sat 10-11 (make-up), 10-13, 10-14
]


@pytest.mark.parametrize(("event", "n", "due"), WORKING_DAY_EXAMPLES, ids=str)
def test_working_days_counted_strictly_after_event_day(cal, event, n, due):
    result = due_for(WorkingDays(n), reference=sh(event.year, event.month, event.day), calendar=cal)
    assert result.date == due
    assert result.at == pendulum.datetime(due.year, due.month, due.day, 23, 59, 59, 999999, tz=TZ)


def test_event_late_at_night_still_counts_from_its_local_day(cal):
    # 2024-02-07 17:00 UTC is 2024-02-08 01:00 in Shanghai: the event day is 2-08, not 2-07.
    utc = datetime(2024, 2, 7, 17, 0, tzinfo=UTC)
    assert due_for(WorkingDays(5), reference=utc, calendar=cal).date == date(2024, 2, 21)


def test_naive_reference_is_rejected(cal):
    with pytest.raises(ValueError, match="naive"):
        due_for(WorkingDays(5), reference=datetime(2024, 2, 8, 10), calendar=cal)  # noqa: DTZ001


def test_close_time_is_the_last_on_time_instant(cal):
    result = due_for(WorkingDays(5), reference=sh(2024, 2, 8), calendar=cal, close=time(17, 30))
    assert result.date == date(2024, 2, 21)
    assert result.at == pendulum.datetime(2024, 2, 21, 17, 30, tz=TZ)
    assert result.at.isoformat() == "2024-02-21T17:30:00+08:00"


def test_due_at_is_aware_and_in_shanghai(cal):
    result = due_for(WorkingDays(1), reference=sh(2024, 3, 4), calendar=cal)
    assert result.at.utcoffset() == timedelta(hours=8)
    assert result.at.timezone_name == "Asia/Shanghai"


# ---------------------------------------------------------------------------- calendar days


def test_calendar_days_last_day_on_holiday_rolls_to_next_working_day(cal):
    # 2025-09-26 + 5 = 10-01 (国庆) → the first working day after the holiday: Thu 10-09.
    result = due_for(parse_time_limit("5日内"), reference=sh(2025, 9, 26), calendar=cal)
    assert result.date == date(2025, 10, 9)


def test_calendar_days_last_day_on_weekend_rolls_to_monday_and_weekday_stays(cal):
    # Mon 2025-03-03 + 5 = Sat 03-08 → Mon 03-10; + 4 = Fri 03-07 stays.
    assert due_for(CalendarDays(5), reference=sh(2025, 3, 3), calendar=cal).date == date(
        2025, 3, 10
    )
    assert due_for(CalendarDays(4), reference=sh(2025, 3, 3), calendar=cal).date == date(2025, 3, 7)


def test_calendar_days_ending_on_makeup_saturday_is_due_that_saturday(cal):
    # 2026-02-09 + 5 = Sat 02-14, a 调休 working day: no roll.
    assert due_for(CalendarDays(5), reference=sh(2026, 2, 9), calendar=cal).date == date(
        2026, 2, 14
    )


# ---------------------------------------------------------------------------- months


def test_one_month_from_january_31_is_february_29_in_a_leap_year(cal):
    result = due_for(parse_time_limit("1个月内"), reference=sh(2024, 1, 31), calendar=cal)
    assert result.date == date(2024, 2, 29)


def test_month_end_without_corresponding_day_then_rest_day_roll(cal):
    # 2025-01-31 + 1 month → 02-28 (no 02-31), a Friday working day.
    assert due_for(Months(1), reference=sh(2025, 1, 31), calendar=cal).date == date(2025, 2, 28)
    # 2024-08-31 + 1 month → 09-30, a Monday working day.
    assert due_for(Months(1), reference=sh(2024, 8, 31), calendar=cal).date == date(2024, 9, 30)
    # 2024-09-01 + 1 month → 10-01 (国庆) → rolls to 10-08.
    assert due_for(Months(1), reference=sh(2024, 9, 1), calendar=cal).date == date(2024, 10, 8)


def test_quarter_within_is_three_months_clamped_to_month_end(cal):
    # 2025-11-30 + 3 months → 2026-02-30 does not exist → 02-28, a 调休 working Saturday.
    result = due_for(parse_time_limit("一个季度内"), reference=sh(2025, 11, 30), calendar=cal)
    assert result.date == date(2026, 2, 28)


# ---------------------------------------------------------------------------- hours


def test_hours_cross_midnight_and_holiday_without_rolling(cal):
    result = due_for(Hours(2), reference=sh(2025, 9, 30, 23, 0), calendar=cal)
    assert result.at == pendulum.datetime(2025, 10, 1, 1, 0, tz=TZ)  # 国庆 day: not rolled
    assert result.date == date(2025, 10, 1)


def test_hours_ignore_close_time_and_keep_minutes(cal):
    result = due_for(Hours(24), reference=sh(2026, 2, 14, 16, 45), calendar=cal, close=time(17, 30))
    assert result.at == pendulum.datetime(2026, 2, 15, 16, 45, tz=TZ)


def test_hours_from_utc_reference_are_absolute(cal):
    ref = datetime(2025, 6, 1, 20, 0, tzinfo=UTC)  # 04:00 on 06-02 in Shanghai
    result = due_for(Hours(2), reference=ref, calendar=cal)
    assert result.at == pendulum.datetime(2025, 6, 2, 6, 0, tz=TZ)


# ---------------------------------------------------------------------------- by date


def test_by_date_uses_plan_year_and_is_not_rolled(cal):
    # 2025-05-10 is a Saturday: the document fixed it, so it stays.
    result = due_for(ByDate(5, 10), reference=sh(2025, 1, 2), calendar=cal, plan_year=2025)
    assert result.date == date(2025, 5, 10)
    assert not cal.is_working_day(result.date)


def test_by_date_month_end_and_explicit_year(cal):
    assert due_for(ByDate(8), reference=sh(2020, 8, 25), calendar=cal).date == date(2020, 8, 31)
    explicit = due_for(
        ByDate(10, 30, year=2024), reference=sh(2026, 1, 1), calendar=cal, plan_year=2026
    )
    assert explicit.date == date(2024, 10, 30)


def test_by_date_year_falls_back_to_reference_year(cal):
    assert due_for(ByDate(9, 15), reference=sh(2020, 8, 25), calendar=cal).date == date(2020, 9, 15)


def test_by_date_february_29_in_common_year_is_a_clear_error(cal):
    with pytest.raises(ValueError, match="has no day 29"):
        due_for(ByDate(2, 29), reference=sh(2025, 1, 1), calendar=cal)


def test_by_date_in_year_without_data_raises_calendar_year_missing(cal):
    with pytest.raises(CalendarYearMissing, match="2027"):
        due_for(ByDate(3, 1), reference=sh(2026, 1, 1), calendar=cal, plan_year=2027)


# ---------------------------------------------------------------------------- missing years


@pytest.mark.parametrize(
    "rule",
    [WorkingDays(5), CalendarDays(10), Months(1)],
    ids=["working_days", "calendar_days", "months"],
)
def test_answer_in_2027_raises_calendar_year_missing(cal, rule):
    with pytest.raises(CalendarYearMissing) as info:
        due_for(rule, reference=sh(2026, 12, 25), calendar=cal)
    assert info.value.year == 2027
    assert "2027" in str(info.value)


def test_recurring_and_unparsed_rules_have_no_single_deadline(cal):
    with pytest.raises(TypeError, match="periods_for"):
        due_for(Recurring("month"), reference=sh(2025, 1, 1), calendar=cal)
    with pytest.raises(ValueError, match="及时"):
        due_for(Unparsed("及时", "vague"), reference=sh(2025, 1, 1), calendar=cal)


# ---------------------------------------------------------------------------- periods


def test_monthly_periods_are_due_on_each_month_end(cal):
    periods = periods_for(Recurring("month"), year=2020, calendar=cal)
    assert [p.key for p in periods] == [f"2020-{m:02d}" for m in range(1, 13)]
    assert periods[1].start == date(2020, 2, 1) and periods[1].end == date(2020, 2, 29)
    assert periods[1].due.date == date(2020, 2, 29)  # a Saturday; fixed date, not rolled
    assert periods[8].key == "2020-09" and periods[8].due.date == date(2020, 9, 30)


def test_monthly_day_rule_is_due_that_day_and_clamped_to_month_end(cal):
    tenth = periods_for(Recurring("month", day=10), year=2025, calendar=cal)
    assert [p.due.date.day for p in tenth] == [10] * 12
    last = periods_for(Recurring("month", day=31), year=2025, calendar=cal)
    assert last[1].due.date == date(2025, 2, 28)


def test_quarter_half_year_and_year_keys(cal):
    quarters = periods_for(Recurring("quarter"), year=2020, calendar=cal)
    assert [(p.key, p.start, p.end) for p in quarters][2] == (
        "2020-Q3",
        date(2020, 7, 1),
        date(2020, 9, 30),
    )
    assert [p.due.date for p in quarters] == [
        date(2020, 3, 31),
        date(2020, 6, 30),
        date(2020, 9, 30),
        date(2020, 12, 31),
    ]
    halves = periods_for(Recurring("half_year"), year=2020, calendar=cal)
    assert [(p.key, p.due.date) for p in halves] == [
        ("2020-H1", date(2020, 6, 30)),
        ("2020-H2", date(2020, 12, 31)),
    ]
    (year,) = periods_for(Recurring("year", month=1, day=10), year=2020, calendar=cal)
    assert (year.key, year.due.date) == ("2020", date(2020, 1, 10))


def test_after_period_working_days_counted_from_period_end(cal):
    periods = periods_for(
        Recurring("quarter", after_period=WorkingDays(10)), year=2025, calendar=cal
    )
    # Q3 ends 09-30; 国庆 10-01..08 rest, Sat 10-11 worked: 9,10,11,13,14,15,16,17,20,21.
    assert periods[2].due.date == date(2025, 10, 21)
    assert periods[3].due.date == date(2026, 1, 15)  # Q4 deadline runs into next year


def test_after_period_needing_a_missing_year_raises(cal):
    with pytest.raises(CalendarYearMissing):
        periods_for(Recurring("month", after_period=WorkingDays(5)), year=2026, calendar=cal)


def test_periods_close_time_applies_to_each_due(cal):
    periods = periods_for(Recurring("quarter"), year=2024, calendar=cal, close=time(17, 30))
    assert periods[0].due.at == pendulum.datetime(2024, 3, 31, 17, 30, tz=TZ)


# ---------------------------------------------------------------------------- late / left


def test_on_time_completion_is_zero_days_late(cal):
    due = due_for(WorkingDays(5), reference=sh(2024, 2, 8), calendar=cal)  # 2024-02-21
    assert working_days_late(sh(2024, 2, 21, 23, 59), due, cal) == 0
    assert working_days_late(sh(2024, 2, 9), due, cal) == 0


def test_late_completion_counts_working_days_after_due_date(cal):
    due = due_for(WorkingDays(5), reference=sh(2024, 2, 8), calendar=cal)  # Wed 2024-02-21
    assert working_days_late(sh(2024, 2, 22, 9), due, cal) == 1
    assert working_days_late(sh(2024, 2, 26, 9), due, cal) == 3  # 22, 23, 26 (weekend skipped)


def test_completion_after_close_on_due_day_is_late(cal):
    due = due_for(WorkingDays(5), reference=sh(2024, 2, 8), calendar=cal, close=time(17, 30))
    assert working_days_late(sh(2024, 2, 21, 17, 30), due, cal) == 0
    assert working_days_late(sh(2024, 2, 21, 18, 0), due, cal) == 1


def test_completion_on_rest_day_right_after_due_is_still_late(cal):
    due = due_for(ByDate(3, 1), reference=sh(2024, 1, 1), calendar=cal)  # Fri 2024-03-01
    assert working_days_late(sh(2024, 3, 2, 9), due, cal) == 1  # Saturday


def test_working_days_left_counts_down_and_goes_negative(cal):
    due = due_for(WorkingDays(5), reference=sh(2024, 2, 8), calendar=cal)  # Wed 2024-02-21
    assert working_days_left(date(2024, 2, 8), due, cal) == 5
    assert working_days_left(date(2024, 2, 19), due, cal) == 2
    assert working_days_left(date(2024, 2, 21), due, cal) == 0
    assert working_days_left(date(2024, 2, 22), due, cal) == -1
    assert working_days_left(date(2024, 2, 26), due, cal) == -3


def test_working_days_left_wants_a_date_not_a_datetime(cal):
    due = due_for(WorkingDays(5), reference=sh(2024, 2, 8), calendar=cal)
    with pytest.raises(TypeError):
        working_days_left(sh(2024, 2, 9), due, cal)


def test_end_of_day_rejects_zoned_close_time():
    with pytest.raises(ValueError):
        end_of_day(date(2024, 1, 2), time(17, 30, tzinfo=UTC))


# ---------------------------------------------------------------------------- repository data


@pytest.fixture(scope="module")
def repo_cal():
    return load_calendar(config_dir=Path(__file__).resolve().parents[2] / "config")


@pytest.mark.parametrize(("event", "n", "due"), WORKING_DAY_EXAMPLES, ids=str)
def test_worked_examples_hold_on_the_repository_calendar(repo_cal, event, n, due):
    ref = sh(event.year, event.month, event.day)
    assert due_for(WorkingDays(n), reference=ref, calendar=repo_cal).date == due


def test_calendar_and_month_examples_hold_on_the_repository_calendar(repo_cal):
    assert due_for(CalendarDays(5), reference=sh(2025, 9, 26), calendar=repo_cal).date == date(
        2025, 10, 9
    )
    assert due_for(Months(1), reference=sh(2024, 1, 31), calendar=repo_cal).date == date(
        2024, 2, 29
    )
