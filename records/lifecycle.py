"""The life of an obligation: events that create it, completion, extension (延期), pauses.

Each function takes the moment it acts at (``at``/``now``) as a parameter and flushes; the
caller commits.  Re-running any of them with the same facts changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy.orm import Session

from db import repository as repo
from db.models import Event, Item, Obligation, Unit
from deadlines.calendar import WorkCalendar
from deadlines.due import Due, end_of_day, local, working_days_late
from duban.config import Settings
from duban.errors import UserError
from duban.vocab import ObligationStatus
from records.sync import CalendarCache, LoadReport, sync_item_obligations


@dataclass(frozen=True)
class Completion:
    obligation: Obligation
    late_working_days: int  # 0 = on time

    @property
    def late(self) -> bool:
        return self.late_working_days > 0


def _due_of(ob: Obligation) -> Due:
    if ob.due_at is None or ob.due_date is None:
        raise UserError(f"obligation {ob.id} has no due date yet ({ob.pending_reason})")
    return Due(date=ob.due_date, at=local(ob.due_at), rule=None)


def record_event(
    session: Session,
    *,
    item: Item,
    unit: Unit,
    kind: str,
    title: str,
    occurred_at: datetime,
    recorded_by: str,
    calendars: CalendarCache,
    settings: Settings,
    doc_number: str | None = None,
    note: str | None = None,
) -> tuple[Event, list[Obligation]]:
    """Record an event (e.g. a new policy document issued) and create the obligations it starts.

    Only the item's relative time limits ("须于5个工作日内上传") produce obligations from
    events; recording the same event twice returns the same rows.
    """
    if unit.code not in [*item.lead_units, *item.responsible_units]:
        raise UserError(f"{unit.name} is not a unit of item {item.number} ({item.title})")
    relative = [tl for tl in item.time_limits
                if isinstance(tl.get("rule"), dict)
                and tl["rule"].get("kind") in ("working_days", "calendar_days", "months", "hours")]
    if not relative:
        raise UserError(
            f"item {item.number} has no time limit counted from an event "
            "(such as 5个工作日内); nothing would follow from this event"
        )
    event = repo.add_event(session, item=item, unit=unit, kind=kind, title=title,
                           occurred_at=occurred_at, recorded_by=recorded_by,
                           doc_number=doc_number, note=note)
    # Only this unit's obligations of the item can follow from its event.
    sync_item_obligations(session, item, units={unit.code: unit}, calendars=calendars,
                          plan_year=item.plan.year, issued=item.plan.issued, settings=settings,
                          report=LoadReport(), only=unit)
    created = [o for o in repo.list_obligations(session, item=item, unit=unit)
               if o.event_id == event.id]
    return event, created


def complete(
    session: Session,
    *,
    obligation: Obligation,
    done_at: datetime,
    recorded_by: str,
    calendar: WorkCalendar,
    evidence_url: str | None = None,
    evidence_doc: str | None = None,
    evidence_note: str | None = None,
) -> Completion:
    """Mark done; a completion after the due instant is recorded as late, in working days."""
    if obligation.status is ObligationStatus.PENDING_CALENDAR:
        late = 0  # no deadline could be computed yet: cannot be late
    else:
        late = working_days_late(done_at, _due_of(obligation), calendar)
    repo.record_completion(
        session, obligation=obligation, done_at=done_at, recorded_by=recorded_by,
        evidence_url=evidence_url, evidence_doc=evidence_doc, evidence_note=evidence_note,
        late_working_days=late,
    )
    return Completion(obligation, late)


def extend(
    session: Session,
    *,
    obligation: Obligation,
    new_due_date: date,
    reason: str,
    approved_by: str,
    approved_at: datetime,
    calendar: WorkCalendar,
    close: time | None = None,
) -> Obligation:
    """Record an approved extension (延期) to the end of ``new_due_date``."""
    if obligation.status is not ObligationStatus.OPEN:
        raise UserError(f"obligation {obligation.id} is {obligation.status.value}; "
                        "only open obligations can be extended")
    if obligation.due_date and new_due_date <= obligation.due_date:
        raise UserError(f"the new due date {new_due_date} is not after the current one "
                        f"{obligation.due_date}")
    calendar.is_working_day(new_due_date)  # loud when the year has no data
    new_at = end_of_day(new_due_date) if close is None else local(
        datetime.combine(new_due_date, close, tzinfo=end_of_day(new_due_date).tzinfo))
    repo.add_extension(session, obligation=obligation, new_due_at=new_at,
                       new_due_date=new_due_date, reason=reason, approved_by=approved_by,
                       approved_at=approved_at)
    return obligation


def pause(session: Session, *, obligation: Obligation, at: datetime, reason: str) -> None:
    """Stop the clock (暂停计时), e.g. while waiting on a third party's opinion."""
    repo.start_pause(session, obligation=obligation, started_at=at, reason=reason)


def resume(
    session: Session,
    *,
    obligation: Obligation,
    at: datetime,
    actor: str,
    calendar: WorkCalendar,
) -> int:
    """Restart the clock and push the due date by the paused working days; returns them.

    Paused working days are the working days from the pause's start day through the day
    before it ends (a pause started and ended on the same day costs nothing).
    """
    current = repo.get_open_pause(session, obligation=obligation)
    if current is None:
        raise UserError(f"obligation {obligation.id} is not paused")
    start_day = local(current.started_at).date()
    end_day = local(at).date()
    paused = max(0, calendar.working_days_between(start_day, end_day)
                 - (1 if calendar.is_working_day(end_day) else 0)
                 + (1 if calendar.is_working_day(start_day) else 0))
    repo.end_pause(session, pause=current, ended_at=at, paused_working_days=paused)
    if paused and obligation.due_date is not None:
        new_day = calendar.add_working_days(obligation.due_date, paused)
        new_at = local(obligation.due_at).replace(year=new_day.year, month=new_day.month,
                                                  day=new_day.day)
        repo.add_extension(
            session, obligation=obligation, new_due_at=new_at, new_due_date=new_day,
            reason=f"暂停计时 {paused} 个工作日：{current.reason}", approved_by=actor,
            approved_at=at,
        )
    return paused
