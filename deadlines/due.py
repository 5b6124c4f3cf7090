"""Deadline arithmetic: a time-limit rule + a reference → the last on-time instant.

Statutory counting rules (《中华人民共和国民法典》第一编第十章 期间计算):

- 第二百零一条: 按照年、月、日、小时计算期间的，开始的当日不计入，自下一日开始计算。
  (Hours: 按照小时计算期间的，自法律规定或者当事人约定的时间开始计算。)
- 第二百零二条: 按照年、月计算期间的，到期月的对应日为期间的最后一日；没有对应日的，月末日为
  期间的最后一日。
- 第二百零三条: 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日。
  期间的最后一日的截止时间为二十四时；有业务时间的，停止业务活动的时间为截止时间。

How each rule kind applies them (D = the reference's local date in Asia/Shanghai):

- working_days n ("5个工作日内"): the n-th working day strictly after D (第201条: the event day
  never counts, whether or not it is a working day). Working days follow the official calendar
  with 调休 make-up weekends. A working day is never a rest day, so 第203条 has nothing to move.
- calendar_days n ("5日内"): last day D + n (第201条), rolled to the next working day when it is
  a rest day (第203条: the day after the 法定休假日 ends; we read "休假日" as every non-working
  day, weekends included, which is how the 调休 calendar defines rest).
- months n ("1个月内", 季度 = 3, 半年 = 6, 年 = 12): the same day number n months later, or that
  month's last day when it has no such day (第202条), then rolled like calendar days (第203条).
- hours n ("2小时内"): reference + n hours as an absolute instant. No rolling and no end-of-day:
  an hour limit is meant to run through nights and holidays.
- by_date ("9月15日前"): the date the document names, in the plan year unless the text names a
  year. **Not rolled**: the issuing body chose that date knowing the calendar, so a deadline on a
  Sunday stays on Sunday. We still ask the calendar about that day so that a year without
  holiday data fails loudly (CalendarYearMissing) instead of producing unchecked dates.
- recurring (`periods_for`): each period's fixed due day (period end, or "每月10日" = the 10th)
  is treated like by_date (not rolled); `after_period` counts like working_days/calendar_days
  from the period's last day.

End of the last day (第203条 "二十四时") is represented as 23:59:59.999999 local time, the last
instant that is still on time; with a business close time (`close=time(17, 30)`) it is that
time instead. Every result is an aware pendulum DateTime in Asia/Shanghai.
"""

from __future__ import annotations

import calendar as _pycal
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol

import pendulum

from deadlines.calendar import CalendarYearMissing
from deadlines.rules import (
    ByDate,
    CalendarDays,
    Hours,
    Months,
    Recurring,
    Rule,
    Unparsed,
    WorkingDays,
)

__all__ = [
    "END_OF_DAY",
    "TZ",
    "Due",
    "Period",
    "WorkingCalendar",
    "due_for",
    "end_of_day",
    "local",
    "periods_for",
    "working_days_late",
    "working_days_left",
]

TZ = pendulum.timezone("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59, 999999)


class WorkingCalendar(Protocol):
    """The part of `deadlines.calendar.WorkCalendar` this module needs."""

    def is_working_day(self, d: date) -> bool: ...
    def add_working_days(self, d: date, n: int) -> date: ...
    def working_days_between(self, a: date, b: date) -> int: ...


@dataclass(frozen=True)
class Due:
    """A computed deadline: local `date`, the last on-time instant `at`, and the `rule` used."""

    date: date
    at: pendulum.DateTime
    rule: Rule


@dataclass(frozen=True)
class Period:
    """One period of a recurring rule: key ("2020-09", "2020-Q3", "2020-H2", "2020")."""

    key: str
    start: date
    end: date
    due: Due | None
    pending_reason: str | None = None


def local(moment: datetime) -> pendulum.DateTime:
    """An aware datetime as pendulum in Asia/Shanghai; naive input is refused (which zone?)."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected an aware datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. pendulum.datetime(..., tz='Asia/Shanghai'))"
        )
    return pendulum.instance(moment).in_timezone(TZ)


def end_of_day(d: date, close: time | None = None) -> pendulum.DateTime:
    """The last on-time instant of local day `d`: 24:00 (as 23:59:59.999999) or `close`."""
    t = END_OF_DAY if close is None else close
    if t.tzinfo is not None:
        raise ValueError("close time must be a local wall-clock time without tzinfo")
    return pendulum.datetime(
        d.year, d.month, d.day, t.hour, t.minute, t.second, t.microsecond, tz=TZ
    )


def _add_months(d: date, n: int) -> date:
    """第202条: same day number n months later, or that month's last day."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, _pycal.monthrange(year, month)[1]))


def _month_end(year: int, month: int) -> date:
    return date(year, month, _pycal.monthrange(year, month)[1])


def _fixed_date(year: int, month: int, day: int | None) -> date:
    if day is None:
        return _month_end(year, month)
    last = _pycal.monthrange(year, month)[1]
    if day > last:
        raise ValueError(f"{year}年{month}月 has no day {day} (only {last} days)")
    return date(year, month, day)


def _due(d: date, rule: Rule, close: time | None) -> Due:
    return Due(date=d, at=end_of_day(d, close), rule=rule)


def due_for(
    rule: Rule | Unparsed,
    *,
    reference: datetime,
    calendar: WorkingCalendar,
    plan_year: int | None = None,
    close: time | None = None,
) -> Due:
    """The deadline of a relative or by-date rule (see the module docstring for the law).

    `reference` is the triggering instant (any aware datetime; naive → ValueError). For
    by_date rules it only supplies the year when neither the rule nor `plan_year` does.
    A by_date deadline is **not rolled** to a working day: the document fixed that date (a
    Sunday stays a Sunday); the calendar is still asked about it so a missing year raises.
    `close` is the business close time for end-of-day deadlines; hour limits ignore it.
    Raises CalendarYearMissing (from the calendar) when the answer's year has no data.
    """
    ref = local(reference)
    start = date(ref.year, ref.month, ref.day)
    if isinstance(rule, WorkingDays):
        return _due(calendar.add_working_days(start, rule.n), rule, close)
    if isinstance(rule, CalendarDays):
        last = start + timedelta(days=rule.n)
        return _due(calendar.add_working_days(last, 0), rule, close)
    if isinstance(rule, Months):
        last = _add_months(start, rule.n)
        return _due(calendar.add_working_days(last, 0), rule, close)
    if isinstance(rule, Hours):
        at = ref.add(hours=rule.n)  # clock unit: absolute time, no calendar involved
        return Due(date=date(at.year, at.month, at.day), at=at, rule=rule)
    if isinstance(rule, ByDate):
        year = rule.year or plan_year or ref.year
        d = _fixed_date(year, rule.month, rule.day)
        calendar.is_working_day(d)  # not rolled; called so a year without data raises
        return _due(d, rule, close)
    if isinstance(rule, Recurring):
        raise TypeError("a recurring rule has one deadline per period: use periods_for()")
    if isinstance(rule, Unparsed):
        raise ValueError(f"no deadline for an unparsed time limit “{rule.text}”: {rule.reason}")
    raise TypeError(f"not a rule: {rule!r}")


def _periods(every: str, year: int) -> list[tuple[str, date, date]]:
    if every == "month":
        return [(f"{year}-{m:02d}", date(year, m, 1), _month_end(year, m)) for m in range(1, 13)]
    if every == "quarter":
        return [
            (f"{year}-Q{q}", date(year, 3 * q - 2, 1), _month_end(year, 3 * q)) for q in range(1, 5)
        ]
    if every == "half_year":
        return [
            (f"{year}-H1", date(year, 1, 1), date(year, 6, 30)),
            (f"{year}-H2", date(year, 7, 1), date(year, 12, 31)),
        ]
    if every == "year":
        return [(f"{year}", date(year, 1, 1), date(year, 12, 31))]
    raise ValueError(f"unknown period {every!r}")


def periods_for(
    rule: Recurring,
    *,
    year: int,
    calendar: WorkingCalendar,
    close: time | None = None,
    on_missing: Literal["raise", "pending"] = "raise",
) -> list[Period]:
    """The periods of a recurring rule inside `year`, each with its own deadline.

    - no day/month: due the period's last day ("每月" → each month's last day);
    - `every: month, day: 10`: due the 10th of each month (a day past the month's end → its last
      day, e.g. 每月31日 in February → 2月28/29日);
    - `every: year, month: 1, day: 10`: due 1月10日 of `year`;
    - `after_period`: counted from the period's last day like a relative rule, so December's or
      Q4's deadline may fall in January of the next year (and needs that year's calendar).
    Fixed due days are not rolled (like by_date); the calendar is still consulted for each so
    that a missing year raises CalendarYearMissing — or, with ``on_missing="pending"``, that
    period comes back with ``due=None`` and a ``pending_reason`` while the others are computed.
    """
    if not isinstance(rule, Recurring):
        raise TypeError(f"periods_for() needs a recurring rule, got {type(rule).__name__}")
    out: list[Period] = []
    for key, start, end in _periods(rule.every, year):
        try:
            due = _period_due(rule, year, start, end, calendar, close)
        except CalendarYearMissing as exc:
            if on_missing == "raise":
                raise
            reason = f"due date pending the {exc.year} calendar（待{exc.year}年节假日安排公布后确定截止日期）"
            out.append(Period(key=key, start=start, end=end, due=None, pending_reason=reason))
            continue
        out.append(Period(key=key, start=start, end=end, due=due))
    return out


def _period_due(
    rule: Recurring, year: int, start: date, end: date, calendar: WorkingCalendar,
    close: time | None,
) -> Due:
    if rule.after_period is not None:
        reference = end_of_day(end)
        due = due_for(rule.after_period, reference=reference, calendar=calendar, close=close)
        return Due(date=due.date, at=due.at, rule=rule)
    if rule.every == "month" and rule.day is not None:
        d = date(start.year, start.month, min(rule.day, end.day))
    elif rule.every == "year" and rule.month is not None:
        d = _fixed_date(year, rule.month, rule.day)
    else:
        d = end
    calendar.is_working_day(d)  # loud on a missing year
    return _due(d, rule, close)


def working_days_late(done_at: datetime, due: Due, calendar: WorkingCalendar) -> int:
    """0 when `done_at` is on time; else working days in (due date, completion's local date].

    A late completion is at least 1 working day late — even after the close time on the due day
    itself, or on a rest day right after it — so that 0 always means "on time".
    """
    done = local(done_at)
    if done <= due.at:
        return 0
    done_day = date(done.year, done.month, done.day)
    return max(1, calendar.working_days_between(due.date, done_day))


def working_days_left(today: date, due: Due, calendar: WorkingCalendar) -> int:
    """Working days from `today` to the due date: days in (today, due date].

    0 on the due date itself (or when only rest days remain); negative once overdue: -k where k
    counts the working days in (due date, today], and at least -1 on any day after the due date.
    """
    if isinstance(today, datetime):
        raise TypeError("working_days_left() takes a local date; convert with local(now).date()")
    if today <= due.date:
        return calendar.working_days_between(today, due.date)
    return min(-1, calendar.working_days_between(today, due.date))
