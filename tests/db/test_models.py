"""Constraints live in the database, not only in Python: re-runs cannot duplicate rows."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from db.models import Event, Item, Obligation, ObligationStatus, Plan, Unit, UnitKind
from tests.db.builders import make_item, make_plan, make_unit, sh


def _obligation(item: Item, unit: Unit, **kw: object) -> Obligation:
    values: dict[str, object] = {
        "rule_index": 0,
        "period_key": "once",
        "due_date": date(2020, 9, 15),
        "due_at": sh(2020, 9, 15, 23, 59),
        "status": ObligationStatus.OPEN,
    }
    values.update(kw)
    return Obligation(item_id=item.id, unit_id=unit.id, **values)


def test_obligation_key_is_unique_in_the_database(session) -> None:
    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    session.add(_obligation(item, unit))
    session.flush()
    session.add(_obligation(item, unit, due_at=sh(2020, 9, 30, 23, 59)))
    with pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"):
        session.flush()


def test_same_item_and_unit_may_owe_several_periods_and_rules(session) -> None:
    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    session.add_all(
        [
            _obligation(item, unit, period_key="2020-09"),
            _obligation(item, unit, period_key="2020-10"),
            _obligation(item, unit, rule_index=1, period_key="2020-09"),
        ]
    )
    session.flush()
    assert session.scalar(sa.select(sa.func.count()).select_from(Obligation)) == 3


def test_plan_year_and_issuer_are_unique(session) -> None:
    make_plan(session)
    session.add(
        Plan(
            year=2020,
            issuer="朝阳市政务公开领导小组",
            title="dup",
            issued=date(2020, 8, 25),
            source_document="x",
            source_sha256="1" * 64,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_item_number_is_unique_within_a_plan(session) -> None:
    plan = make_plan(session)
    make_item(session, plan, "6")
    session.add(Item(plan_id=plan.id, number="6", code="other", title="t", text="t", position=99))
    with pytest.raises(IntegrityError):
        session.flush()


def test_event_recorded_twice_violates_the_unique_key(session) -> None:
    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    at = sh(2020, 9, 20, 10, 0)
    kwargs = {
        "item_id": item.id,
        "unit_id": unit.id,
        "kind": "policy_issued",
        "occurred_at": at,
        "recorded_by": "t",
    }
    session.add(Event(title="关于……的通知", doc_number="朝政发〔2020〕1号", **kwargs))
    session.flush()
    # same document number, title spelled differently: still the same event
    session.add(Event(title="关于…的通知", doc_number="朝政发〔2020〕1号", **kwargs))
    with pytest.raises(IntegrityError):
        session.flush()


def test_event_without_document_number_is_keyed_by_title() -> None:
    event = Event(title="新出台政策文件", doc_number=None)
    assert event.ref == "新出台政策文件"
    event.doc_number = "朝政办发〔2020〕3号"
    assert event.ref == "朝政办发〔2020〕3号"


def test_foreign_keys_are_enforced(session) -> None:
    make_unit(session)
    session.add(_obligation_raw(item_id=999_999, unit_id=999_999))
    with pytest.raises(IntegrityError):
        session.flush()


def _obligation_raw(**kw: object) -> Obligation:
    return Obligation(rule_index=0, period_key="once", status=ObligationStatus.OPEN, **kw)


def test_database_refuses_a_status_outside_the_enum(session) -> None:
    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    session.add(_obligation(item, unit))
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(sa.text("UPDATE obligation SET status = 'maybe'"))


def test_enums_are_stored_by_value_and_loaded_as_enum_members(session) -> None:
    make_unit(session, kind=UnitKind.COUNTY_GOV, code="sy", name="双塔区政府")
    session.commit()
    raw = session.execute(sa.text("SELECT kind FROM unit WHERE code = 'sy'")).scalar_one()
    assert raw == "county_gov"
    session.expire_all()
    unit = session.scalars(sa.select(Unit).where(Unit.code == "sy")).one()
    assert unit.kind is UnitKind.COUNTY_GOV


def test_json_columns_keep_chinese_readable_and_dates_as_iso_text(session) -> None:
    plan = make_plan(session)
    limits = [
        {
            "text": "9月15日前",
            "sentence": "九月十五日前完成",
            "rule": {"kind": "by_date"},
            "checked_on": date(2020, 9, 1),
        }
    ]
    make_item(session, plan, time_limits=limits)
    session.commit()
    raw = session.execute(sa.text("SELECT CAST(time_limits AS TEXT) FROM item")).scalar_one()
    assert "九月十五日前完成" in raw  # not \\u escapes
    assert "2020-09-01" in raw
    session.expire_all()
    item = session.scalars(sa.select(Item)).one()
    assert item.time_limits[0]["checked_on"] == "2020-09-01"
    assert item.time_limits[0]["rule"] == {"kind": "by_date"}
