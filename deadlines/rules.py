"""Typed time-limit rules (时限规则) and their YAML/dict form.

A work plan states its time limits in Chinese ("9月15日前", "5个工作日内", "每月10日前"). The
phrase parser (:mod:`deadlines.phrases`) turns each phrase into one of the frozen dataclasses
below; the deadline arithmetic (:mod:`deadlines.due`) turns a rule plus a reference into a due
instant. Rules are plain data so that plan files can store them (`rule_to_dict`) and be read
back without re-parsing the Chinese (`rule_from_dict`).

Kinds (see CONTRACTS.md for the YAML shapes):

- relative, counted from an event: `WorkingDays`, `CalendarDays`, `Months`, `Hours`;
- absolute, a date the document fixes: `ByDate`;
- a series of periods in the plan year: `Recurring`;
- `Unparsed`: text we could not read with certainty. It is never a guess; a human decides.
"""

from __future__ import annotations

import calendar as _pycal
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "EVERY_VALUES",
    "ByDate",
    "CalendarDays",
    "Hours",
    "Months",
    "Recurring",
    "RelativeRule",
    "Rule",
    "Unparsed",
    "WorkingDays",
    "describe",
    "rule_from_dict",
    "rule_to_dict",
]

Every: TypeAlias = Literal["month", "quarter", "half_year", "year"]
EVERY_VALUES: tuple[str, ...] = ("month", "quarter", "half_year", "year")


def _check_count(kind: str, n: object) -> None:
    # bool is an int subclass; "n: true" in YAML must not become 1.
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{kind}.n: must be a positive whole number, got {n!r}")


def _check_event(kind: str, event: object) -> None:
    if event is not None and (not isinstance(event, str) or not event.strip()):
        raise ValueError(f"{kind}.event: must be a non-empty string or absent, got {event!r}")


def _check_month(kind: str, month: object) -> None:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"{kind}.month: must be 1..12, got {month!r}")


def _check_day(kind: str, day: object, month: int | None) -> None:
    if isinstance(day, bool) or not isinstance(day, int) or day < 1:
        raise ValueError(f"{kind}.day: must be a positive whole number, got {day!r}")
    # Without a year we allow 2月29日 (it exists in leap years); due.py rejects it in other years.
    longest = 31 if month is None else _pycal.monthrange(2000, month)[1]
    if day > longest:
        where = "any month" if month is None else f"month {month}"
        raise ValueError(f"{kind}.day: {day} does not exist in {where}")


@dataclass(frozen=True)
class WorkingDays:
    """ "N个工作日内": ends with the N-th working day strictly after the event day."""

    n: int
    event: str | None = None

    def __post_init__(self) -> None:
        _check_count("working_days", self.n)
        _check_event("working_days", self.event)


@dataclass(frozen=True)
class CalendarDays:
    """ "N日内"/"N天内": last day is event day + N; a rest-day last day rolls forward."""

    n: int
    event: str | None = None

    def __post_init__(self) -> None:
        _check_count("calendar_days", self.n)
        _check_event("calendar_days", self.event)


@dataclass(frozen=True)
class Months:
    """ "N个月内" (also 季度 = 3, 半年 = 6, 年 = 12): same day number N months later."""

    n: int
    event: str | None = None

    def __post_init__(self) -> None:
        _check_count("months", self.n)
        _check_event("months", self.event)


@dataclass(frozen=True)
class Hours:
    """ "N小时内": an exact instant N hours after the event; never rolled."""

    n: int
    event: str | None = None

    def __post_init__(self) -> None:
        _check_count("hours", self.n)
        _check_event("hours", self.event)


@dataclass(frozen=True)
class ByDate:
    """ "9月15日前"/"8月底前": a date fixed by the document. No day means the month's last day.

    `year` is only set when the text names it ("2018年10月30日前"); otherwise the plan year
    applies.
    """

    month: int
    day: int | None = None
    year: int | None = None

    def __post_init__(self) -> None:
        _check_month("by_date", self.month)
        if self.day is not None:
            _check_day("by_date", self.day, self.month)
        if self.year is not None and (
            isinstance(self.year, bool)
            or not isinstance(self.year, int)
            or not 1900 <= self.year <= 2200
        ):
            raise ValueError(f"by_date.year: must be a year like 2024, got {self.year!r}")
        if (
            self.year is not None
            and self.day is not None
            and self.day > _pycal.monthrange(self.year, self.month)[1]
        ):
            raise ValueError(f"by_date.day: {self.year}-{self.month:02d} has no day {self.day}")


@dataclass(frozen=True)
class Recurring:
    """ "每月"/"每月10日前"/"每季度"/"每半年"/"每年1月10日前": one due date per period.

    - `every="month"`: `day` optional (default: the month's last day; a day past the month's
      end means that month's last day, e.g. 每月31日前 in February).
    - `every="year"`: `month` and `day` optional (default 12月31日; month only = its last day).
    - `every="quarter"`/`"half_year"`: due on the period's last day.
    - `after_period`: "每季度结束后10个工作日内" — counted from the period's last day instead;
      it excludes `day`/`month`.
    """

    every: Every
    day: int | None = None
    month: int | None = None
    after_period: WorkingDays | CalendarDays | None = None

    def __post_init__(self) -> None:
        if self.every not in EVERY_VALUES:
            raise ValueError(
                f"recurring.every: must be one of {', '.join(EVERY_VALUES)}, got {self.every!r}"
            )
        if self.month is not None:
            if self.every != "year":
                raise ValueError(
                    f"recurring.month: only allowed with every: year, not {self.every}"
                )
            _check_month("recurring", self.month)
        if self.day is not None:
            if self.every not in ("month", "year"):
                raise ValueError(
                    f"recurring.day: only allowed with every: month or year, not {self.every}"
                )
            if self.every == "year" and self.month is None:
                raise ValueError("recurring.day: every: year with a day also needs a month")
            _check_day("recurring", self.day, self.month)
        if self.after_period is not None:
            if not isinstance(self.after_period, WorkingDays | CalendarDays):
                raise ValueError(
                    "recurring.after_period: must be working_days or calendar_days, "
                    f"got {type(self.after_period).__name__}"
                )
            if self.after_period.event is not None:
                raise ValueError(
                    "recurring.after_period.event: not allowed (the event is the period end)"
                )
            if self.day is not None or self.month is not None:
                raise ValueError("recurring.after_period: cannot be combined with day/month")


@dataclass(frozen=True)
class Unparsed:
    """Text that has no readable time limit, with the reason. Never a guess."""

    text: str
    reason: str


RelativeRule: TypeAlias = WorkingDays | CalendarDays | Months | Hours
Rule: TypeAlias = WorkingDays | CalendarDays | Months | Hours | ByDate | Recurring

_RELATIVE: dict[str, type[WorkingDays | CalendarDays | Months | Hours]] = {
    "working_days": WorkingDays,
    "calendar_days": CalendarDays,
    "months": Months,
    "hours": Hours,
}
_KIND_OF: dict[type, str] = {cls: kind for kind, cls in _RELATIVE.items()}
_KINDS = (*_RELATIVE, "by_date", "recurring")


def rule_to_dict(rule: Rule | Unparsed) -> dict[str, Any]:
    """The YAML form of CONTRACTS.md: `kind` first, absent optional fields omitted.

    `Unparsed` becomes `{unparsed: <reason>}`; its text lives beside it in the plan file.
    """
    if isinstance(rule, Unparsed):
        return {"unparsed": rule.reason}
    if isinstance(rule, WorkingDays | CalendarDays | Months | Hours):
        out: dict[str, Any] = {"kind": _KIND_OF[type(rule)], "n": rule.n}
        if rule.event is not None:
            out["event"] = rule.event
        return out
    if isinstance(rule, ByDate):
        out = {"kind": "by_date"}
        if rule.year is not None:
            out["year"] = rule.year
        out["month"] = rule.month
        if rule.day is not None:
            out["day"] = rule.day
        return out
    if isinstance(rule, Recurring):
        out = {"kind": "recurring", "every": rule.every}
        if rule.month is not None:
            out["month"] = rule.month
        if rule.day is not None:
            out["day"] = rule.day
        if rule.after_period is not None:
            out["after_period"] = rule_to_dict(rule.after_period)
        return out
    raise TypeError(f"not a rule: {rule!r}")


def _take(d: dict[str, Any], kind: str, allowed: set[str], required: set[str]) -> None:
    unknown = sorted(str(k) for k in set(d) - allowed - {"kind"})  # YAML keys may be numbers
    if unknown:
        raise ValueError(
            f"rule ({kind}): unknown field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    missing = sorted(required - set(d))
    if missing:
        raise ValueError(f"rule ({kind}): missing field(s) {', '.join(missing)}")


def rule_from_dict(d: Any, *, text: str = "") -> Rule | Unparsed:
    """Read a rule dict (as loaded from YAML). Raises ValueError naming the bad field.

    `text` is the source phrase, used only for `{unparsed: reason}` entries.
    """
    if not isinstance(d, dict):
        raise ValueError(f"rule: must be a mapping with a 'kind', got {type(d).__name__}")
    if "unparsed" in d:
        if set(d) - {"unparsed", "text"}:
            raise ValueError("rule: an 'unparsed' entry cannot have other fields than 'text'")
        reason = d["unparsed"]
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("rule.unparsed: must be a non-empty reason string")
        return Unparsed(text=str(d.get("text", text)), reason=reason)
    kind = d.get("kind")
    if kind is None:
        raise ValueError(f"rule: missing 'kind' (one of {', '.join(_KINDS)})")
    if not isinstance(kind, str):  # a list or mapping here cannot even be looked up
        raise ValueError(f"rule.kind: must be one of {', '.join(_KINDS)}, got {kind!r}")
    if kind in _RELATIVE:
        _take(d, kind, {"n", "event"}, {"n"})
        return _RELATIVE[kind](n=d["n"], event=d.get("event"))
    if kind == "by_date":
        _take(d, kind, {"year", "month", "day"}, {"month"})
        return ByDate(month=d["month"], day=d.get("day"), year=d.get("year"))
    if kind == "recurring":
        _take(d, kind, {"every", "month", "day", "after_period"}, {"every"})
        after = d.get("after_period")
        after_rule: WorkingDays | CalendarDays | None = None
        if after is not None:
            if not isinstance(after, dict) or after.get("kind") not in (
                "working_days",
                "calendar_days",
            ):
                raise ValueError(
                    "recurring.after_period: must be {kind: working_days|calendar_days, n: N}"
                )
            parsed = rule_from_dict(after)
            assert isinstance(parsed, WorkingDays | CalendarDays)
            after_rule = parsed
        return Recurring(
            every=d["every"], day=d.get("day"), month=d.get("month"), after_period=after_rule
        )
    raise ValueError(f"rule.kind: unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")


def describe(rule: Rule | Unparsed) -> str:
    """A canonical Chinese phrase for the rule; `parse_time_limit` reads it back to the same rule
    (without `event`, which is not part of the phrase)."""
    if isinstance(rule, WorkingDays):
        return f"{rule.n}个工作日内"
    if isinstance(rule, CalendarDays):
        return f"{rule.n}日内"
    if isinstance(rule, Months):
        return f"{rule.n}个月内"
    if isinstance(rule, Hours):
        return f"{rule.n}小时内"
    if isinstance(rule, ByDate):
        year = f"{rule.year}年" if rule.year is not None else ""
        if rule.day is not None:
            return f"{year}{rule.month}月{rule.day}日前"
        if rule.month == 12:
            return f"{year}年底前" if year else "年底前"
        return f"{year}{rule.month}月底前"
    if isinstance(rule, Recurring):
        word = {"month": "每月", "quarter": "每季度", "half_year": "每半年", "year": "每年"}[
            rule.every
        ]
        if rule.after_period is not None:
            return f"{word}结束后{describe(rule.after_period)}"
        if rule.every == "month" and rule.day is not None:
            return f"每月{rule.day}日前"
        if rule.every == "year" and rule.month is not None:
            if rule.day is not None:
                return f"每年{rule.month}月{rule.day}日前"
            return f"每年{rule.month}月底前"
        return word
    if isinstance(rule, Unparsed):
        return f"未能识别的时限“{rule.text}”（{rule.reason}）"
    raise TypeError(f"not a rule: {rule!r}")
