"""The daily check of one plan item: standings per unit, ladder steps fired, who must be told.

``check_item`` reads every obligation of the item in bulk, decides in pure code (the ladder,
the traffic light) and writes the fired steps and their notices in one transaction with
``INSERT … ON CONFLICT DO NOTHING`` — the database's unique keys make a re-run a no-op.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from db.models import Contact, Escalation, Item, Notice, Obligation, Plan, Unit
from db.session import dialect_insert
from deadlines.ladder import (
    LIGHT_OF,
    SEVERITY,
    Light,
    Standing,
    standing_of,
    steps_due,
    working_days_left,
)
from duban.vocab import ContactRole, ObligationStatus
from tasks.context import EngineContext

COLOUR_RANK = {None: 0, "blue": 1, "yellow": 2, "red": 3}
LIGHT_ICON = {Light.GREEN: "🟢", Light.YELLOW: "🟡", Light.RED: "🔴", Light.GREY: "⚪"}
COLOUR_ZH = {"blue": "蓝色", "yellow": "黄色", "red": "红色"}


@dataclass(slots=True)
class UnitRow:
    """One unit's standing on the item (its worst obligation), for the artifact and UI."""

    unit_id: int
    unit_name: str
    standing: Standing
    due_date: date | None
    days: str  # 剩3个工作日 / 逾期2个工作日 / 今日到期 / —
    status: str
    last_reminder: str
    level: str | None  # highest escalation colour reached
    obligations: int

    @property
    def light(self) -> Light:
        return LIGHT_OF[self.standing]

    @property
    def needs_attention(self) -> bool:
        return self.standing in (Standing.DUE_SOON, Standing.OVERDUE, Standing.ESCALATED,
                                 Standing.DONE_LATE)

    def as_row(self) -> dict[str, str]:
        return {
            "单位": self.unit_name,
            "截止日期": self.due_date.isoformat() if self.due_date else "待定",
            "剩余/逾期": self.days,
            "状态": self.status,
            "最近提醒": self.last_reminder,
            "督办级别": COLOUR_ZH.get(self.level, "—") if self.level else "—",
            "信号灯": f"{LIGHT_ICON[self.light]} {self.standing.value}",
        }


@dataclass
class ItemReport:
    item_id: int
    code: str
    number: str
    title: str
    plan_id: int
    as_of: date
    units: list[UnitRow] = field(default_factory=list)
    fired: int = 0
    notices: int = 0
    obligations: int = 0

    @property
    def flow_name(self) -> str:
        return item_flow_name(self.number, self.title)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for u in self.units:
            out[u.standing.value] += 1
        return dict(out)

    def summary(self) -> dict:
        return {"item": self.code, "obligations": self.obligations, "fired": self.fired,
                "notices": self.notices, "standings": self.counts()}


def item_flow_name(number: str, title: str) -> str:
    """条目6 集中发布六稳六保政策文件 — the item as coordinators name it (no quotes or slashes)."""
    clean = "".join(ch for ch in title if ch not in "“”\"'‘’/\\%&<>")
    return f"条目{number.strip('（）()、.')} {clean}"[:100]


@dataclass(frozen=True)
class ItemRef:
    id: int
    plan_id: int
    code: str
    number: str
    title: str

    @property
    def flow_name(self) -> str:
        return item_flow_name(self.number, self.title)


def active_items(ctx: EngineContext, *, plan_id: int | None = None) -> list[ItemRef]:
    """Every active item of every plan, in printed order."""
    with ctx.session() as s:
        stmt = (sa.select(Item.id, Item.plan_id, Item.code, Item.number, Item.title).join(Plan)
                .where(Item.active.is_(True)).order_by(Plan.year, Plan.id, Item.position))
        if plan_id is not None:
            stmt = stmt.where(Item.plan_id == plan_id)
        return [ItemRef(*r) for r in s.execute(stmt).all()]


class _DayMemo:
    """Memoised pure answers for one item on one day: obligations share few due dates, ladders
    and calendars, so the ladder and the traffic light are computed once per distinct input
    rather than once per obligation (tens of thousands on a province-sized item)."""

    def __init__(self, as_of: date, warn: int):
        self.as_of, self.warn = as_of, warn
        self._steps: dict[tuple, list] = {}
        self._standing: dict[tuple, Standing] = {}
        self._left: dict[tuple, str] = {}

    def steps(self, ladder, due: date, cal, fired: frozenset[str]) -> list:
        key = (id(ladder), due, id(cal), fired)
        out = self._steps.get(key)
        if out is None:
            out = self._steps[key] = steps_due(ladder, due=due, today=self.as_of, calendar=cal,
                                               fired=fired)
        return out

    def standing(self, status: str, due: date | None, cal, late: int | None, paused: bool,
                 escalated: bool) -> Standing:
        key = (status, due, id(cal), late, paused, escalated)
        out = self._standing.get(key)
        if out is None:
            out = self._standing[key] = standing_of(
                status=status, due=due, today=self.as_of, calendar=cal,
                warning_working_days=self.warn, late_working_days=late, paused=paused,
                escalated=escalated)
        return out

    def days_left(self, due: date, cal) -> str:
        key = (due, id(cal))
        out = self._left.get(key)
        if out is None:
            out = self._left[key] = str(working_days_left(self.as_of, due, cal))
        return out


_NO_STEPS: frozenset[str] = frozenset()
_OPEN = ObligationStatus.OPEN.value
_DONE = ObligationStatus.DONE.value
_WITHDRAWN = ObligationStatus.WITHDRAWN.value
_NO_DAYS = (Standing.DONE, Standing.DONE_LATE, Standing.WITHDRAWN)
_YELLOW = COLOUR_RANK["yellow"]


def one_of(conn, column, values) -> sa.ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)`` — one bound parameter
    instead of one per value (a province's item names 5,000 units: a statement with thousands
    of placeholders costs more to prepare than to run)."""
    values = list(values)
    if conn.dialect.name == "postgresql":
        # The array's text form, sent untyped: the server parses it once, as the array type
        # (a typed text parameter would be cast again for every row it filters).
        literal = "{" + ",".join(map(_array_item, values)) + "}"
        return column == sa.any_(sa.cast(sa.bindparam(None, literal, type_=sa.types.NullType()),
                                         ARRAY(column.type)))
    return column.in_(values)


def _array_item(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


_COLOUR_OF_RANK = {rank: colour for colour, rank in COLOUR_RANK.items()}
_RANK = sa.case({c: r for c, r in COLOUR_RANK.items() if c}, value=Escalation.colour, else_=0)


def check_item(ctx: EngineContext, *, item_id: int, as_of: date, now: datetime) -> ItemReport:
    """Evaluate one item on ``as_of``: fire due ladder steps, record notices, report standings.

    The escalation history is read in three narrow pieces rather than whole (it grows to
    hundreds of thousands of rows in a province's year): the highest colour each obligation
    reached in its current cycle (one row per obligation that has one), the steps already
    fired for the obligations that have a step to fire today, and the latest step of each
    unit's worst obligation (the report's 最近提醒).
    """
    memo = _DayMemo(as_of, ctx.settings.warning_working_days)
    with ctx.session() as session, session.begin():
        conn = session.connection()  # plain Core rows: no ORM result machinery per row
        item = conn.execute(
            sa.select(Item.id, Item.plan_id, Item.code, Item.number, Item.title, Item.lead_units,
                      Item.responsible_units, Item.time_limits).where(Item.id == item_id)
        ).one()
        report = ItemReport(item_id=item.id, code=item.code, number=item.number,
                            title=item.title, plan_id=item.plan_id, as_of=as_of)
        # unit id -> (name, kind, calendar); plain rows, not ORM objects (thousands per item)
        units: dict[int, tuple[str, str, object]] = {}
        codes = sorted({*item.lead_units, *item.responsible_units})
        for start in range(0, len(codes), 5000):
            for unit_id, name, kind in conn.execute(
                sa.select(Unit.id, Unit.name, sa.type_coerce(Unit.kind, sa.String))
                .where(one_of(conn, Unit.code, codes[start:start + 5000]))
            ).all():
                units[unit_id] = (name, kind, ctx.calendar_for_unit(unit_id))
        obs = conn.execute(
            sa.select(Obligation.id, Obligation.unit_id, Obligation.rule_index,
                      Obligation.due_date, sa.type_coerce(Obligation.status, sa.String),
                      Obligation.paused, Obligation.late_working_days)
            .where(Obligation.item_id == item_id, Obligation.status != ObligationStatus.WITHDRAWN)
        ).all()
        report.obligations = len(obs)
        # The highest colour reached in the current cycle (the cycle is the due date), read by
        # obligation id (an index probe each) rather than by joining the whole history.
        due_of = {ob.id: ob.due_date for ob in obs if ob.due_date is not None}
        level: dict[int, str | None] = {}
        ids = sorted(due_of)
        for start in range(0, len(ids), 5000):
            for ob_id, cycle, rank in conn.execute(
                sa.select(Escalation.obligation_id, Escalation.cycle, sa.func.max(_RANK))
                .where(one_of(conn, Escalation.obligation_id, ids[start:start + 5000]),
                       Escalation.colour.is_not(None))
                .group_by(Escalation.obligation_id, Escalation.cycle)
            ).all():
                if cycle == due_of[ob_id]:
                    level[ob_id] = _COLOUR_OF_RANK[rank]
        rule_kinds = [((tl.get("rule") or {}).get("kind") or "") for tl in item.time_limits]
        ladders: dict[tuple[str, int], object] = {}

        # The steps due today if none had fired yet; only these obligations' history is read.
        candidates: dict[int, list] = {}
        for ob_id, unit_id, rule_index, due, status, paused, _late in obs:
            unit = units.get(unit_id)
            if unit is None or status != _OPEN or paused or due is None:
                continue
            ladder = ladders.get((unit[1], rule_index))
            if ladder is None:
                ladder = ladders[(unit[1], rule_index)] = ctx.ladders.ladder_for(
                    item_code=item.code, unit_kind=unit[1],
                    rule_kind=rule_kinds[rule_index] if rule_index < len(rule_kinds) else "")
            steps = memo.steps(ladder, due, unit[2], _NO_STEPS)
            if steps:
                candidates[ob_id] = steps
        fired: dict[int, set[str]] = defaultdict(set)
        ids = sorted(candidates)
        for start in range(0, len(ids), 5000):
            for ob_id, step, cycle in conn.execute(
                sa.select(Escalation.obligation_id, Escalation.step, Escalation.cycle)
                .where(one_of(conn, Escalation.obligation_id, ids[start:start + 5000]))
            ).all():
                if cycle == due_of[ob_id]:
                    fired[ob_id].add(step)

        new_steps: list[dict] = []
        today: dict[int, str] = {}  # the last step fired today, per obligation
        per_unit: dict[int, list[tuple[Standing, date | None, str | None, int]]] = defaultdict(list)
        for ob_id, unit_id, _rule_index, due, status, paused, late in obs:
            unit = units.get(unit_id)
            if unit is None:
                continue
            cal = unit[2]
            cur_level = level.get(ob_id) if due else None
            steps = candidates.get(ob_id)
            if steps:
                done = fired.get(ob_id)
                for step in steps:
                    if done and step.step in done:
                        continue
                    new_steps.append({
                        "obligation_id": ob_id, "step": step.step, "cycle": due,
                        "kind": step.kind, "colour": step.colour,
                        "feeds_ledger": step.feeds_ledger, "fired_on": as_of, "fired_at": now,
                        "_to": step.to, "_cc": step.cc, "_unit": unit_id,
                    })
                    today[ob_id] = step.step
                    if COLOUR_RANK[step.colour] > COLOUR_RANK[cur_level]:
                        cur_level = step.colour
            if status == _DONE:  # as standing_of decides it, without the memo's key
                standing = Standing.DONE_LATE if late else Standing.DONE
            else:
                standing = memo.standing(status, due, cal, late, paused,
                                         COLOUR_RANK[cur_level] >= _YELLOW)
            per_unit[unit_id].append((standing, due, cur_level, ob_id))

        if new_steps:
            report.fired, report.notices = _write_steps(session, new_steps, as_of)

        worst_of = {unit_id: (max(entries, key=_worst_key) if len(entries) > 1 else entries[0])
                    for unit_id, entries in per_unit.items()}
        last = _last_steps(conn, [w[3] for w in worst_of.values() if w[3] not in today])
        last.update((ob_id, (as_of, step)) for ob_id, step in today.items())
        for unit_id, entries in per_unit.items():
            standing, due, colour, ob_id = worst_of[unit_id]
            name, _kind, cal = units[unit_id]
            days = memo.days_left(due, cal) if due is not None and standing not in _NO_DAYS \
                else "—"
            reminder = last.get(ob_id)
            report.units.append(UnitRow(
                unit_id=unit_id, unit_name=name, standing=standing, due_date=due,
                days=days, status=standing.value,
                last_reminder=f"{reminder[0].isoformat()}（{reminder[1]}）" if reminder else "—",
                level=(max((e[2] for e in entries), key=COLOUR_RANK.__getitem__)
                       if len(entries) > 1 else colour),
                obligations=len(entries)))
        report.units.sort(key=lambda u: (-SEVERITY[u.standing], u.due_date or date.max,
                                         u.unit_name))
    return report


def _last_steps(conn, ob_ids: list[int]) -> dict[int, tuple[date, str]]:
    """The latest step fired for each obligation, in any cycle, as (day, step) — the last one
    recorded when several fired on that day."""
    out: dict[int, tuple[date, str]] = {}
    ids = sorted(ob_ids)
    for start in range(0, len(ids), 5000):
        part = one_of(conn, Escalation.obligation_id, ids[start:start + 5000])
        latest = (sa.select(Escalation.obligation_id.label("ob"),
                            sa.func.max(Escalation.fired_on).label("day"))
                  .where(part).group_by(Escalation.obligation_id).subquery())
        for ob_id, day, step in conn.execute(
            sa.select(Escalation.obligation_id, Escalation.fired_on, Escalation.step)
            .join(latest, sa.and_(latest.c.ob == Escalation.obligation_id,
                                  latest.c.day == Escalation.fired_on))
            .where(one_of(conn, Escalation.obligation_id, ids[start:start + 5000]))
            .order_by(Escalation.id)
        ).all():
            out[ob_id] = (day, step)
    return out


def _worst_key(entry: tuple) -> tuple[int, int]:
    return SEVERITY[entry[0]], -(entry[1] or date.max).toordinal()


def _write_steps(session: Session, steps: list[dict], as_of: date) -> tuple[int, int]:
    rows = [{k: v for k, v in s.items() if not k.startswith("_")} for s in steps]
    conn = session.connection()
    conn.execute(dialect_insert(session, Escalation).on_conflict_do_nothing(
        index_elements=["obligation_id", "step", "cycle"]), rows)
    # The ids of what we just inserted (or what a concurrent run inserted): look them up.
    ob_ids = sorted({s["obligation_id"] for s in steps})
    ids = {}
    for chunk in range(0, len(ob_ids), 5000):
        part = ob_ids[chunk:chunk + 5000]
        for esc_id, ob_id, step, cycle in conn.execute(
            sa.select(Escalation.id, Escalation.obligation_id, Escalation.step, Escalation.cycle)
            .where(one_of(conn, Escalation.obligation_id, part), Escalation.fired_on == as_of)
        ).all():
            ids[(ob_id, step, cycle)] = esc_id
    unit_ids = {s["_unit"] for s in steps}
    contacts = _contacts_by_role(session, unit_ids, as_of)
    coordinators = contacts.get(("*", ContactRole.COORDINATOR), [])
    notices = []
    for s in steps:
        esc_id = ids.get((s["obligation_id"], s["step"], s["cycle"]))
        if esc_id is None:
            continue
        for role_list, kind in ((s["_to"], "to"), (s["_cc"], "cc")):
            for role in role_list:
                people = (coordinators if role == "coordinator"
                          else contacts.get((s["_unit"], ContactRole(role)), []))
                notices.extend({"escalation_id": esc_id, "contact_id": c, "role": kind}
                               for c in people)
    if notices:
        conn.execute(dialect_insert(session, Notice).on_conflict_do_nothing(
            index_elements=["escalation_id", "contact_id"]), notices)
    return len(ids), len(notices)


def _contacts_by_role(session: Session, unit_ids: set[int], on: date) -> dict:
    out: dict = defaultdict(list)
    conn = session.connection()
    rows = conn.execute(
        sa.select(Contact.id, Contact.unit_id, Contact.role, Contact.active_from,
                  Contact.active_to)
        .where(sa.or_(one_of(conn, Contact.unit_id, sorted(unit_ids)),
                      Contact.role == ContactRole.COORDINATOR))
        .order_by(Contact.id)
    ).all()
    for cid, unit_id, role, start, end in rows:
        if (start and on < start) or (end and on > end):
            continue
        if role == ContactRole.COORDINATOR:
            out[("*", role)].append(cid)
        if unit_id in unit_ids:
            out[(unit_id, role)].append(cid)
    return out
