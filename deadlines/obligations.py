"""Which obligations follow from a plan item — pure, no database.

An item obliges each of its units (lead units and responsible units, resolved to codes):

* an absolute limit ("9月15日前") → one obligation per unit, period ``once``
  (``once-<k>`` keys are not needed: the rule index is part of the key);
* a recurring limit ("每月10日前") → one obligation per unit and period (``2020-09``,
  ``2020-Q3``…), from the first period due on or after the plan's issue date;
* a relative limit ("新出台的政策文件须于5个工作日内上传") → one obligation per recorded
  event of that unit, period ``event:<event id>``, due counted from the event instant.

The idempotency key of an obligation is (item, unit, rule index, period key); the database
enforces it.  Each unit's calendar (its region's overlay) is used for its deadlines.  When a
due date would fall in a year without holiday data, the obligation is still produced, with
status ``pending_calendar`` and a reason the coordinator can read, and the rest goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import pendulum

from deadlines.calendar import CalendarYearMissing, WorkCalendar
from deadlines.due import Due, due_for, periods_for
from deadlines.rules import ByDate, Recurring, Unparsed, rule_from_dict

SHANGHAI = pendulum.timezone("Asia/Shanghai")


@dataclass(frozen=True)
class EventFact:
    """A recorded event that starts relative time limits ("文件印发")."""

    id: int
    unit_code: str
    occurred_at: datetime


@dataclass(frozen=True)
class ObligationSpec:
    unit_code: str
    rule_index: int
    period_key: str
    due: Due | None
    event_id: int | None = None
    pending_reason: str | None = None
    period_start: date | None = None
    period_end: date | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.unit_code, self.rule_index, self.period_key)


def pending_reason(exc: CalendarYearMissing) -> str:
    return (
        f"due date pending the {exc.year} calendar（待{exc.year}年节假日安排公布后确定截止日期）"
    )


def _plan_reference(plan_year: int, issued: date | None) -> datetime:
    day = issued if issued and issued.year == plan_year else date(plan_year, 1, 1)
    return pendulum.datetime(day.year, day.month, day.day, tz=SHANGHAI)


def obligations_for_item(
    *,
    plan_year: int,
    issued: date | None,
    time_limits: Sequence[dict],
    unit_codes: Iterable[str],
    calendar_for: Callable[[str], WorkCalendar],
    events: Iterable[EventFact] = (),
    close: time | None = None,
) -> list[ObligationSpec]:
    """Every obligation of one item, in a stable order.

    ``time_limits`` are the plan file's entries (dicts with ``rule`` or ``unparsed``);
    unparsed entries produce nothing (the plan check shows them to the reviewer).
    """
    codes = list(dict.fromkeys(unit_codes))
    events = list(events)
    out: list[ObligationSpec] = []
    reference = _plan_reference(plan_year, issued)
    for index, entry in enumerate(time_limits):
        raw = entry.get("rule") if isinstance(entry, dict) else None
        if raw is None:
            continue
        rule = rule_from_dict(raw)
        if isinstance(rule, Unparsed):
            continue
        for code in codes:
            cal = calendar_for(code)
            if isinstance(rule, ByDate):
                try:
                    due = due_for(rule, reference=reference, calendar=cal, plan_year=plan_year,
                                  close=close)
                    out.append(ObligationSpec(code, index, "once", due))
                except CalendarYearMissing as exc:
                    out.append(ObligationSpec(code, index, "once", None,
                                              pending_reason=pending_reason(exc)))
            elif isinstance(rule, Recurring):
                out.extend(o for o in _recurring(rule, index, code, cal, plan_year, close)
                           if issued is None or _period_after_issue(o, issued))
            else:
                for ev in events:
                    if ev.unit_code != code:
                        continue
                    key = f"event:{ev.id}"
                    try:
                        due = due_for(rule, reference=ev.occurred_at, calendar=cal,
                                      plan_year=plan_year, close=close)
                        out.append(ObligationSpec(code, index, key, due, event_id=ev.id))
                    except CalendarYearMissing as exc:
                        out.append(ObligationSpec(code, index, key, None, event_id=ev.id,
                                                  pending_reason=pending_reason(exc)))
    return out


def _period_after_issue(spec: ObligationSpec, issued: date) -> bool:
    """A plan issued in August does not oblige anyone to report for January: periods due
    before the plan was issued are not generated."""
    if spec.due is not None:
        return spec.due.date >= issued
    return spec.period_end is None or spec.period_end >= issued


def _recurring(rule: Recurring, index: int, code: str, cal: WorkCalendar, year: int,
               close: time | None) -> list[ObligationSpec]:
    """One obligation per period; periods due in a year without data wait visibly."""
    out = []
    for p in periods_for(rule, year=year, calendar=cal, close=close, on_missing="pending"):
        out.append(ObligationSpec(code, index, p.key, p.due, period_start=p.start,
                                  period_end=p.end, pending_reason=p.pending_reason))
    return out
