"""The escalation ladder (督办阶梯) and the traffic light — pure, ``today`` is a parameter.

A ladder is a list of steps counted in working days relative to an obligation's due date:
−3 and −1 remind the liaison, 0 says "due today", +1 is the 催办 (blue), +3 the 督办单 to the
unit's leader (yellow), +5 the red 督办单 reported to the coordinator, which the deduction rules
can count.  The data lives in ``config/ladders.yaml`` (a unit kind or an item may override).

Which steps fire on a day (:func:`steps_due`):

* only on working days of the unit's calendar, only for open obligations that are not paused;
* the offset of ``today`` is −(working days in (today, due]) before the due date, 0 on it, and
  +(working days in (due, today]) after it — so a due date on a rest day is "due today" on the
  last working day before it;
* every step whose offset has been reached and that has not fired in this cycle (the cycle is
  the due date: an approved extension starts a new one); once the due date has passed, the
  pre-deadline reminders that were missed are dropped rather than sent late, and before it only
  the latest reminder is sent (never "3 days left" and "1 day left" in one mail).

Firing at most once is the database's job: (obligation, step, cycle) is unique.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deadlines.calendar import WorkCalendar
from duban.yamlio import load_yaml, validate_doc

StepKind = Literal["upcoming", "due_today", "overdue", "escalation"]
Role = Literal["liaison", "leader", "coordinator"]
Colour = Literal["blue", "yellow", "red"]
_STEP = re.compile(r"^[+-]?\d{1,2}$")


class StepCfg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    step: str = Field(description='working days relative to the due date: "-3", "0", "+5"')
    kind: StepKind
    title: str
    to: tuple[Role, ...] = Field(min_length=1)
    cc: tuple[Role, ...] = ()
    colour: Colour | None = None
    feeds_ledger: bool = False

    @field_validator("step", mode="before")
    @classmethod
    def _step(cls, v: object) -> str:
        text = str(v).strip()
        if not _STEP.match(text):
            raise ValueError(f"step must look like -3, 0 or +5, got {v!r}")
        n = int(text)
        return f"{n:+d}" if n else "0"

    @property
    def offset(self) -> int:
        return int(self.step)

    @model_validator(mode="after")
    def _consistent(self) -> StepCfg:
        if self.offset < 0 and self.kind != "upcoming":
            raise ValueError(f"step {self.step} is before the due date: kind must be upcoming")
        if self.offset == 0 and self.kind != "due_today":
            raise ValueError("step 0 is the due date itself: kind must be due_today")
        if self.offset > 0 and self.kind not in ("overdue", "escalation"):
            raise ValueError(f"step {self.step} is after the due date: kind must be overdue "
                             "or escalation")
        return self


class LadderCfg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    steps: tuple[StepCfg, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sorted(self) -> LadderCfg:
        offsets = [s.offset for s in self.steps]
        if len(set(offsets)) != len(offsets):
            raise ValueError("two steps of the ladder have the same offset")
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda s: s.offset)))
        return self

    def step(self, code: str) -> StepCfg:
        return next(s for s in self.steps if s.step == code)


class OverrideCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ladder: str
    unit_kinds: list[str] = []
    items: list[str] = []
    rule_kinds: list[str] = []  # e.g. working_days: short relative limits

    @model_validator(mode="after")
    def _targets(self) -> OverrideCfg:
        if not (self.unit_kinds or self.items or self.rule_kinds):
            raise ValueError("an override needs unit_kinds, items or rule_kinds")
        return self


class LaddersFile(BaseModel):
    """``config/ladders.yaml``."""

    model_config = ConfigDict(extra="forbid")
    source: str | None = None
    default: str
    ladders: list[LadderCfg] = Field(min_length=1)
    overrides: list[OverrideCfg] = []

    @model_validator(mode="after")
    def _names(self) -> LaddersFile:
        names = {lad.name for lad in self.ladders}
        if len(names) != len(self.ladders):
            raise ValueError("two ladders have the same name")
        for name in [self.default, *(o.ladder for o in self.overrides)]:
            if name not in names:
                raise ValueError(f"unknown ladder {name!r} (known: {', '.join(sorted(names))})")
        return self

    def ladder_for(self, *, item_code: str, unit_kind: str, rule_kind: str = "") -> LadderCfg:
        """Item overrides win over rule-kind overrides, then unit-kind ones, then the default."""
        by_name = {lad.name: lad for lad in self.ladders}
        for attr, value in (("items", item_code), ("rule_kinds", rule_kind),
                            ("unit_kinds", unit_kind)):
            for o in self.overrides:
                if value and value in getattr(o, attr):
                    return by_name[o.ladder]
        return by_name[self.default]


def load_ladders(path: Path) -> LaddersFile:
    return validate_doc(LaddersFile, load_yaml(path))


# --------------------------------------------------------------------------- evaluation


def offset_of(today: date, due: date, calendar: WorkCalendar) -> int:
    """Working-day offset of ``today`` from the due date (negative before, 0 on it)."""
    if today <= due:
        return -calendar.working_days_between(today, due)
    return calendar.working_days_between(due, today)


def steps_due(
    ladder: LadderCfg,
    *,
    due: date,
    today: date,
    calendar: WorkCalendar,
    fired: Iterable[str] = (),
) -> list[StepCfg]:
    """The steps to fire today for an open, unpaused obligation (see module docs)."""
    if not calendar.is_working_day(today):
        return []
    offset = offset_of(today, due, calendar)
    done = set(fired)
    if offset > 0:  # past the deadline: only the overdue/escalation steps, never a reminder
        return [s for s in ladder.steps if 0 < s.offset <= offset and s.step not in done]
    latest = [s for s in ladder.steps if s.offset <= offset][-1:]  # one reminder, the newest
    return [s for s in latest if s.step not in done]


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"


class Standing(StrEnum):
    """How a unit stands on one obligation — the names shown as task states in the UI."""

    ON_TRACK = "按期推进"
    DUE_SOON = "即将到期"
    OVERDUE = "已逾期"
    ESCALATED = "已督办"
    DONE = "已完成"
    DONE_LATE = "逾期完成"
    PENDING = "待定"
    PAUSED = "暂停计时"
    WITHDRAWN = "已撤销"


LIGHT_OF: dict[Standing, Light] = {
    Standing.ON_TRACK: Light.GREEN,
    Standing.DONE: Light.GREEN,
    Standing.DUE_SOON: Light.YELLOW,
    Standing.DONE_LATE: Light.YELLOW,  # a red that catches up turns yellow, not green
    Standing.OVERDUE: Light.RED,
    Standing.ESCALATED: Light.RED,
    Standing.PENDING: Light.GREY,
    Standing.PAUSED: Light.GREY,
    Standing.WITHDRAWN: Light.GREY,
}

# Which standing is worse, for a unit's overall standing on an item.
SEVERITY: dict[Standing, int] = {
    Standing.WITHDRAWN: 0, Standing.DONE: 1, Standing.PENDING: 2, Standing.ON_TRACK: 3,
    Standing.PAUSED: 4, Standing.DONE_LATE: 5, Standing.DUE_SOON: 6, Standing.OVERDUE: 7,
    Standing.ESCALATED: 8,
}


def standing_of(
    *,
    status: str,
    due: date | None,
    today: date,
    calendar: WorkCalendar,
    warning_working_days: int,
    late_working_days: int | None = None,
    paused: bool = False,
    escalated: bool = False,
) -> Standing:
    """The standing of one obligation on ``today`` (its traffic light is ``LIGHT_OF``)."""
    if status == "withdrawn":
        return Standing.WITHDRAWN
    if status == "done":
        return Standing.DONE_LATE if late_working_days else Standing.DONE
    if status == "pending_calendar" or due is None:
        return Standing.PENDING
    if paused:
        return Standing.PAUSED
    if today > due:
        return Standing.ESCALATED if escalated else Standing.OVERDUE
    if offset_of(today, due, calendar) >= -warning_working_days:
        return Standing.DUE_SOON
    return Standing.ON_TRACK


@dataclass(frozen=True)
class WorkingDaysLeft:
    value: int  # negative = overdue by that many working days

    def __str__(self) -> str:
        if self.value > 0:
            return f"剩{self.value}个工作日"
        if self.value == 0:
            return "今日到期"
        return f"逾期{-self.value}个工作日"


def working_days_left(today: date, due: date, calendar: WorkCalendar) -> WorkingDaysLeft:
    return WorkingDaysLeft(-offset_of(today, due, calendar))
