"""The traffic-light board (item × unit) — read-only, for ``duban status`` and reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.models import Escalation, Item, Obligation, Plan, Unit
from deadlines.calendar import WorkCalendar
from deadlines.ladder import LIGHT_OF, SEVERITY, Light, Standing, standing_of, working_days_left
from duban.vocab import ObligationStatus

COLOUR_RANK = {None: 0, "blue": 1, "yellow": 2, "red": 3}


@dataclass(frozen=True)
class BoardCell:
    item_code: str
    item_number: str
    item_title: str
    unit_code: str
    unit_name: str
    standing: Standing
    due_date: date | None
    days_left: int | None
    level: str | None
    obligations: int

    @property
    def light(self) -> Light:
        return LIGHT_OF[self.standing]

    def as_dict(self) -> dict:
        return {"item": self.item_code, "number": self.item_number, "title": self.item_title,
                "unit": self.unit_name, "unit_code": self.unit_code,
                "standing": self.standing.value, "light": self.light.value,
                "due_date": self.due_date.isoformat() if self.due_date else None,
                "working_days_left": self.days_left, "escalation": self.level,
                "obligations": self.obligations}


def board(session: Session, *, today: date, calendar_for: Callable[[str | None], WorkCalendar],
          warning_working_days: int, plan_id: int | None = None) -> list[BoardCell]:
    """Each unit's worst standing per active item on ``today`` (nothing is written)."""
    units = {u.id: u for u in session.scalars(sa.select(Unit))}
    items_stmt = sa.select(Item).join(Plan).where(Item.active.is_(True))
    if plan_id is not None:
        items_stmt = items_stmt.where(Item.plan_id == plan_id)
    items = {i.id: i for i in session.scalars(items_stmt)}
    levels: dict[tuple[int, date], str | None] = {}
    for ob_id, cycle, colour in session.execute(
            sa.select(Escalation.obligation_id, Escalation.cycle, Escalation.colour)):
        if COLOUR_RANK[colour] > COLOUR_RANK[levels.get((ob_id, cycle))]:
            levels[(ob_id, cycle)] = colour
    cells: dict[tuple[int, int], list] = defaultdict(list)
    rows = session.execute(
        sa.select(Obligation.id, Obligation.item_id, Obligation.unit_id, Obligation.due_date,
                  Obligation.status, Obligation.paused, Obligation.late_working_days)
        .where(Obligation.item_id.in_(items), Obligation.status != ObligationStatus.WITHDRAWN)
    ).all()
    for ob_id, item_id, unit_id, due, status, paused, late in rows:
        unit = units[unit_id]
        cal = calendar_for(unit.region)
        level = levels.get((ob_id, due)) if due else None
        standing = standing_of(status=status.value, due=due, today=today, calendar=cal,
                               warning_working_days=warning_working_days,
                               late_working_days=late, paused=paused,
                               escalated=COLOUR_RANK[level] >= 2)
        left = (working_days_left(today, due, cal).value
                if due and status == ObligationStatus.OPEN else None)
        cells[(item_id, unit_id)].append((standing, due, left, level))
    out = []
    for (item_id, unit_id), entries in cells.items():
        standing, due, left, _ = max(entries, key=lambda e: (SEVERITY[e[0]],
                                                              -(e[1] or date.max).toordinal()))
        level = max((e[3] for e in entries), key=lambda c: COLOUR_RANK[c])
        item, unit = items[item_id], units[unit_id]
        out.append(BoardCell(item.code, item.number, item.title, unit.code, unit.name, standing,
                             due, left, level, len(entries)))
    position = {i.code: (i.plan_id, i.position) for i in items.values()}
    out.sort(key=lambda c: (position[c.item_code], -SEVERITY[c.standing], c.unit_name))
    return out
