"""Repository functions: idempotent writes keyed by natural keys, filters, no commits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db import repository as repo
from db.models import ContactRole, Event, Obligation, ObligationStatus, Unit, UnitKind
from db.repository import RepositoryError
from db.session import make_sessionmaker
from tests.db.builders import make_item, make_plan, make_unit, sh

DUE = date(2020, 9, 15)
DUE_AT = sh(2020, 9, 15, 23, 59)


@pytest.fixture
def world(session):
    """Two units, one plan with items 6 and 7."""
    office = make_unit(session, aliases=["市府办", "政府办"])
    county = make_unit(
        session,
        code="sy",
        name="双塔区政府",
        kind=UnitKind.COUNTY_GOV,
        region="chaoyang",
        parent=office,
    )
    plan = make_plan(session)
    item6 = make_item(session, plan, "6")
    item7 = make_item(session, plan, "7", title="第七项")
    return {"office": office, "county": county, "plan": plan, "item6": item6, "item7": item7}


def _oblige(session, world, **kw):
    values = {
        "item": world["item6"],
        "unit": world["county"],
        "rule_index": 0,
        "period_key": "once",
        "due_date": DUE,
        "due_at": DUE_AT,
    }
    values.update(kw)
    return repo.upsert_obligation(session, **values)


# --- units and contacts


def test_unit_is_found_by_code_name_or_alias(session, world) -> None:
    office = world["office"]
    assert repo.get_unit_by_code(session, code="swbgs") is office
    assert repo.get_unit_by_code(session, code="nope") is None
    assert repo.find_unit_by_name_or_alias(session, name="市政府办公室") is office
    assert repo.find_unit_by_name_or_alias(session, name=" 市府办 ") is office
    assert repo.find_unit_by_name_or_alias(session, name="swbgs") is office
    assert repo.find_unit_by_name_or_alias(session, name="市政府") is None  # no substring guessing
    assert repo.find_unit_by_name_or_alias(session, name="  ") is None


def test_upsert_unit_updates_in_place_and_keeps_one_row(session, world) -> None:
    again = repo.upsert_unit(
        session, code="sy", name="双塔区人民政府", kind="county_gov", region="chaoyang"
    )
    assert again.id == world["county"].id
    assert again.name == "双塔区人民政府"
    assert again.parent_id is None  # the upsert states the whole unit
    assert session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 2


def test_list_units_filters_by_kind_and_region(session, world) -> None:
    assert [u.code for u in repo.list_units(session)] == ["swbgs", "sy"]
    assert [u.code for u in repo.list_units(session, kind=UnitKind.COUNTY_GOV)] == ["sy"]
    assert [u.code for u in repo.list_units(session, region="chaoyang")] == ["sy"]
    assert repo.list_units(session, region="yanbian") == []


def test_list_contacts_respects_role_unit_and_validity_dates(session, world) -> None:
    county = world["county"]
    old = repo.upsert_contact(
        session,
        unit=county,
        name="王五",
        role=ContactRole.LIAISON,
        email="ww@example.cn",
        active_to=date(2020, 6, 30),
    )
    new = repo.upsert_contact(
        session,
        unit=county,
        name="赵六",
        role="liaison",
        email="zl@example.cn",
        active_from=date(2020, 7, 1),
    )
    boss = repo.upsert_contact(session, unit=county, name="钱七", role=ContactRole.LEADER)
    other = repo.upsert_contact(session, unit=world["office"], name="孙八", role="liaison")

    def names(**kw):
        return [c.name for c in repo.list_contacts(session, **kw)]

    assert names(unit=county, role="liaison", on=date(2020, 6, 30)) == [old.name]
    assert names(unit=county, role="liaison", on=date(2020, 7, 1)) == [new.name]
    assert names(unit=county, role=ContactRole.LEADER, on=date(2020, 7, 1)) == [boss.name]
    assert set(names(role="liaison")) == {old.name, new.name, other.name}
    assert set(names(unit=county)) == {old.name, new.name, boss.name}


def test_upsert_contact_updates_by_unit_role_and_name(session, world) -> None:
    first = repo.upsert_contact(
        session, unit=world["county"], name="王五", role="liaison", email="old@example.cn"
    )
    second = repo.upsert_contact(
        session,
        unit=world["county"],
        name="王五",
        role="liaison",
        email="new@example.cn",
        phone="0421-1234567",
    )
    assert second.id == first.id
    assert second.email == "new@example.cn"
    with pytest.raises(RepositoryError, match="before active_from"):
        repo.upsert_contact(
            session,
            unit=world["county"],
            name="x",
            role="liaison",
            active_from=date(2020, 7, 1),
            active_to=date(2020, 6, 1),
        )


# --- plans and items


def test_upsert_plan_is_keyed_by_year_and_issuer(session, world) -> None:
    plan = world["plan"]
    assert repo.get_plan(session, year=2020, issuer="朝阳市政务公开领导小组") is plan
    assert repo.get_plan(session, year=2021, issuer="朝阳市政务公开领导小组") is None
    assert make_plan(session).id == plan.id


def test_list_items_is_in_printed_order_and_can_hide_withdrawn(session, world) -> None:
    plan = world["plan"]
    make_item(session, plan, "（十九）", position=3)
    make_item(session, plan, "7", title="第七项", active=False)  # withdrawn
    assert [i.number for i in repo.list_items(session, plan=plan)] == ["（十九）", "6"]
    assert [i.number for i in repo.list_items(session, plan=plan, active_only=False)] == [
        "（十九）",
        "6",
        "7",
    ]
    assert repo.get_item_by_code(session, code="2020-7").active is False


# --- events


def test_add_event_twice_returns_the_existing_row(session, world) -> None:
    kwargs = {
        "item": world["item6"],
        "unit": world["county"],
        "kind": "policy_issued",
        "title": "关于做好六稳工作的通知",
        "doc_number": "双政发〔2020〕5号",
        "occurred_at": sh(2020, 9, 20, 10, 0),
        "recorded_by": "王五",
    }
    first = repo.add_event(session, **kwargs)
    second = repo.add_event(
        session,
        **{
            **kwargs,
            "recorded_by": "someone else",
            "occurred_at": sh(2020, 9, 20, 10, 0).astimezone(),
        },
    )
    assert second.id == first.id
    assert second.recorded_by == "王五"
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1
    third = repo.add_event(session, **{**kwargs, "doc_number": "双政发〔2020〕6号"})
    assert third.id != first.id
    assert [e.id for e in repo.list_events(session, item=world["item6"])] == [first.id, third.id]


def test_add_event_needs_a_reference_and_an_aware_time(session, world) -> None:
    base = {
        "item": world["item6"],
        "unit": world["county"],
        "kind": "policy_issued",
        "recorded_by": "x",
    }
    with pytest.raises(RepositoryError, match="document number or a title"):
        repo.add_event(session, **base, title=" ", occurred_at=sh(2020, 9, 20))
    with pytest.raises(ValueError, match="timezone-aware"):
        repo.add_event(session, **base, title="t", occurred_at=sh(2020, 9, 20).replace(tzinfo=None))


# --- obligations


def test_upsert_obligation_creates_then_updates_the_same_row(session, world) -> None:
    first = _oblige(session, world)
    assert (first.status, first.due_at, first.original_due_at) == (
        ObligationStatus.OPEN,
        DUE_AT,
        DUE_AT,
    )
    later = DUE_AT + timedelta(days=3)
    second = _oblige(session, world, due_date=date(2020, 9, 18), due_at=later)
    assert second.id == first.id
    assert (second.due_date, second.due_at) == (date(2020, 9, 18), later)
    assert session.scalar(sa.select(sa.func.count()).select_from(Obligation)) == 1


def test_upsert_obligation_never_touches_a_done_obligation(session, world) -> None:
    obligation = _oblige(session, world)
    repo.record_completion(
        session,
        obligation=obligation,
        done_at=sh(2020, 9, 10, 15, 0),
        recorded_by="王五",
        evidence_doc="双政办〔2020〕8号",
    )
    audit_before = len(repo.list_audit(session, entity=Obligation, entity_id=obligation.id))
    again = _oblige(
        session,
        world,
        due_date=date(2020, 10, 1),
        due_at=sh(2020, 10, 1, 23, 59),
        status=ObligationStatus.WITHDRAWN,
    )
    assert again.id == obligation.id
    assert again.status is ObligationStatus.DONE
    assert again.due_at == DUE_AT
    assert again.done_at == sh(2020, 9, 10, 15, 0)
    assert len(repo.list_audit(session, entity=Obligation, entity_id=obligation.id)) == audit_before


def test_pending_calendar_obligation_gets_its_due_date_later(session, world) -> None:
    pending = _oblige(
        session,
        world,
        due_date=None,
        due_at=None,
        status=ObligationStatus.PENDING_CALENDAR,
        pending_reason="due date pending the 2027 calendar",
    )
    assert pending.due_at is None
    resolved = _oblige(session, world)
    assert resolved.id == pending.id
    assert (resolved.status, resolved.pending_reason, resolved.due_at) == (
        ObligationStatus.OPEN,
        None,
        DUE_AT,
    )


def test_upsert_obligation_refuses_inconsistent_input(session, world) -> None:
    with pytest.raises(RepositoryError, match="needs due_date and due_at"):
        _oblige(session, world, due_at=None)
    with pytest.raises(RepositoryError, match="pending_reason"):
        _oblige(session, world, due_at=None, due_date=None, status="pending_calendar")
    with pytest.raises(RepositoryError, match="record_completion"):
        _oblige(session, world, status=ObligationStatus.DONE)


def test_extension_moves_the_deadline_and_survives_a_regeneration(session, world) -> None:
    obligation = _oblige(session, world)
    extended = sh(2020, 9, 30, 23, 59)
    ext = repo.add_extension(
        session,
        obligation=obligation,
        new_due_at=extended,
        new_due_date=date(2020, 9, 30),
        reason="疫情防控",
        approved_by="督办员",
        approved_at=sh(2020, 9, 14, 11, 0),
    )
    assert (obligation.due_at, obligation.original_due_at) == (extended, DUE_AT)
    same = repo.add_extension(
        session,
        obligation=obligation,
        new_due_at=extended,
        new_due_date=date(2020, 9, 30),
        reason="疫情防控",
        approved_by="督办员",
        approved_at=sh(2020, 9, 14, 11, 0),
    )
    assert same.id == ext.id
    regenerated = _oblige(session, world)  # e.g. the nightly generator runs again
    assert regenerated.due_at == extended
    assert regenerated.due_date == date(2020, 9, 30)
    assert regenerated.original_due_at == DUE_AT


def test_list_obligations_filters(session, world) -> None:
    a = _oblige(session, world)  # county, item6, due 9-15
    b = _oblige(
        session,
        world,
        unit=world["office"],
        due_at=sh(2020, 9, 30, 23, 59),
        due_date=date(2020, 9, 30),
    )
    c = _oblige(
        session,
        world,
        item=world["item7"],
        period_key="2020-10",
        due_at=sh(2020, 10, 31, 23, 59),
        due_date=date(2020, 10, 31),
    )
    d = _oblige(
        session,
        world,
        period_key="2027",
        due_at=None,
        due_date=None,
        status="pending_calendar",
        pending_reason="due date pending the 2027 calendar",
    )
    repo.record_completion(session, obligation=b, done_at=sh(2020, 9, 29), recorded_by="x")
    repo.start_pause(session, obligation=c, started_at=sh(2020, 10, 8), reason="等待上级批复")

    def ids(**kw):
        return [o.id for o in repo.list_obligations(session, **kw)]

    assert ids() == [a.id, b.id, c.id, d.id]  # earliest first, undated last
    assert ids(status="open") == [a.id, c.id]
    assert ids(status=["open", ObligationStatus.PENDING_CALENDAR]) == [a.id, c.id, d.id]
    assert ids(unit=world["office"]) == [b.id]
    assert ids(item=world["item7"]) == [c.id]
    assert ids(plan=world["plan"], status="open") == [a.id, c.id]
    assert ids(due_before=sh(2020, 9, 30, 23, 59)) == [a.id]
    assert ids(due_from=sh(2020, 9, 30, 23, 59)) == [b.id, c.id]
    assert ids(paused=True) == [c.id]
    assert ids(status="open", paused=False) == [a.id]
    assert ids(limit=2) == [a.id, b.id]


def test_record_completion_is_idempotent_and_refuses_conflicts(session, world) -> None:
    obligation = _oblige(session, world)
    done_at = sh(2020, 9, 16, 10, 0)
    repo.record_completion(
        session,
        obligation=obligation,
        done_at=done_at,
        recorded_by="王五",
        evidence_url="http://example.cn/a",
        late_working_days=1,
    )
    again = repo.record_completion(
        session, obligation=obligation, done_at=done_at, recorded_by="王五"
    )
    assert again.evidence_url == "http://example.cn/a"
    assert again.late_working_days == 1
    with pytest.raises(RepositoryError, match="already done"):
        repo.record_completion(
            session, obligation=obligation, done_at=sh(2020, 9, 17), recorded_by="x"
        )
    withdrawn = _oblige(session, world, period_key="w", status=ObligationStatus.WITHDRAWN)
    with pytest.raises(RepositoryError, match="withdrawn"):
        repo.record_completion(session, obligation=withdrawn, done_at=done_at, recorded_by="x")


def test_pause_starts_and_ends_once(session, world) -> None:
    obligation = _oblige(session, world)
    pause = repo.start_pause(
        session, obligation=obligation, started_at=sh(2020, 9, 1, 9), reason="等待上级批复"
    )
    assert obligation.paused is True
    assert (
        repo.start_pause(
            session, obligation=obligation, started_at=sh(2020, 9, 1, 9), reason="等待上级批复"
        ).id
        == pause.id
    )
    with pytest.raises(RepositoryError, match="already paused"):
        repo.start_pause(session, obligation=obligation, started_at=sh(2020, 9, 2), reason="x")
    with pytest.raises(RepositoryError, match="before it started"):
        repo.end_pause(session, pause=pause, ended_at=sh(2020, 8, 31), paused_working_days=0)
    repo.end_pause(session, pause=pause, ended_at=sh(2020, 9, 4, 9), paused_working_days=3)
    assert (pause.paused_working_days, obligation.paused) == (3, False)
    assert (
        repo.end_pause(session, pause=pause, ended_at=sh(2020, 9, 4, 9), paused_working_days=3)
        is pause
    )
    assert repo.get_open_pause(session, obligation=obligation) is None
    second = repo.start_pause(
        session, obligation=obligation, started_at=sh(2020, 9, 7, 9), reason="再次暂停"
    )
    assert second.id != pause.id


def test_repository_flushes_but_never_commits(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with factory() as session:
        make_unit(session)
        assert repo.get_unit_by_code(session, code="swbgs") is not None  # flushed: visible here
        session.rollback()
    with factory() as session:
        assert repo.get_unit_by_code(session, code="swbgs") is None
        assert repo.list_audit(session) == []
