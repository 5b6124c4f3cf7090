"""The audit trail writes itself on flush, records old and new values, and cannot be rewritten."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from db import repository as repo
from db.audit import AuditTrailError
from db.models import AuditEntry, Obligation, ObligationStatus, Unit, UnitKind
from db.session import make_sessionmaker, session_scope
from tests.db.builders import make_item, make_plan, make_unit, sh


def test_create_is_recorded_with_actor_time_and_new_values(session) -> None:
    session.info["actor"] = "importer"
    session.info["now"] = sh(2020, 9, 1, 9, 0)
    unit = make_unit(session, aliases=["市府办"])

    [entry] = repo.list_audit(session, entity=Unit, entity_id=unit.id)
    assert entry.action == "create"
    assert entry.actor == "importer"
    assert entry.at == sh(2020, 9, 1, 9, 0)
    assert entry.changes["code"] == [None, "swbgs"]
    assert entry.changes["name"] == [None, "市政府办公室"]
    assert entry.changes["kind"] == [None, "city_dept"]
    assert entry.changes["aliases"] == [None, ["市府办"]]
    assert entry.changes["created_at"] == [None, "2020-09-01T01:00:00+00:00"]
    assert unit.created_at == sh(2020, 9, 1, 9, 0)


def test_update_records_old_and_new_values_only_for_changed_fields(session) -> None:
    unit = make_unit(session)
    session.info["actor"] = "张三"
    repo.upsert_unit(
        session, code="swbgs", name="市人民政府办公室", kind=UnitKind.CITY_DEPT, aliases=["市府办"]
    )
    entries = repo.list_audit(session, entity="unit", entity_id=unit.id)
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].actor == "张三"
    assert entries[1].changes == {
        "name": ["市政府办公室", "市人民政府办公室"],
        "aliases": [[], ["市府办"]],
    }


def test_unchanged_upsert_writes_no_audit_entry(session) -> None:
    unit = make_unit(session)
    make_unit(session)
    assert [e.action for e in repo.list_audit(session, entity="unit", entity_id=unit.id)] == [
        "create"
    ]


def test_dates_and_datetimes_are_iso_strings_in_changes(session) -> None:
    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    obligation = repo.upsert_obligation(
        session,
        item=item,
        unit=unit,
        rule_index=0,
        period_key="once",
        due_date=date(2020, 9, 15),
        due_at=sh(2020, 9, 15, 23, 59),
    )
    obligation.due_date = date(2020, 9, 18)
    obligation.due_at = sh(2020, 9, 18, 23, 59)
    session.flush()
    entry = repo.list_audit(session, entity=Obligation, entity_id=obligation.id)[-1]
    assert entry.changes == {
        "due_date": ["2020-09-15", "2020-09-18"],
        "due_at": ["2020-09-15T15:59:00+00:00", "2020-09-18T15:59:00+00:00"],
    }


def test_old_value_is_recorded_even_when_the_attribute_was_not_loaded(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with factory() as session:
        unit = make_unit(session)
        session.commit()
        unit_id = unit.id
    with factory() as session:
        unit = session.get(Unit, unit_id)
        session.expire(unit)  # nothing in memory: the old name must come from the database
        unit.name = "市人民政府办公室"
        session.commit()
        entry = repo.list_audit(session, entity=Unit, entity_id=unit_id)[-1]
        assert entry.changes == {"name": ["市政府办公室", "市人民政府办公室"]}


def test_withdrawing_an_item_is_recorded_as_withdraw(session) -> None:
    plan = make_plan(session)
    item = make_item(session, plan)
    make_item(session, plan, active=False)
    entry = repo.list_audit(session, entity="item", entity_id=item.id)[-1]
    assert entry.action == "withdraw"
    assert entry.changes == {"active": [True, False]}


def test_completion_is_recorded_as_complete(session) -> None:
    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    obligation = repo.upsert_obligation(
        session,
        item=item,
        unit=unit,
        rule_index=0,
        period_key="once",
        due_date=date(2020, 9, 15),
        due_at=sh(2020, 9, 15, 23, 59),
    )
    repo.record_completion(
        session,
        obligation=obligation,
        done_at=sh(2020, 9, 14, 16, 0),
        recorded_by="李四",
        evidence_url="http://www.chaoyang.gov.cn/zcwj/1.html",
    )
    entry = repo.list_audit(session, entity=Obligation, entity_id=obligation.id)[-1]
    assert entry.action == "complete"
    assert entry.changes["status"] == ["open", "done"]
    assert entry.changes["done_at"] == [None, "2020-09-14T08:00:00+00:00"]


def test_delete_is_recorded_with_the_old_values(session) -> None:
    unit = make_unit(session, code="tmp", name="临时单位")
    unit_id = unit.id
    session.delete(unit)
    session.flush()
    entry = repo.list_audit(session, entity=Unit, entity_id=unit_id)[-1]
    assert entry.action == "delete"
    assert entry.changes["name"] == ["临时单位", None]
    assert entry.changes["code"] == ["tmp", None]


def test_actor_defaults_to_system(engine: Engine) -> None:
    with session_scope(engine) as session:
        unit = make_unit(session)
        [entry] = repo.list_audit(session, entity=Unit, entity_id=unit.id)
    assert entry.actor == "system"
    assert entry.at.tzinfo is not None
    assert abs((datetime.now(UTC) - entry.at).total_seconds()) < 60


def test_audit_entries_roll_back_with_the_change(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"), session_scope(engine, actor="x") as session:
        make_unit(session)
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert repo.list_audit(session) == []
        assert session.scalars(sa.select(Unit)).all() == []


def test_naive_now_in_session_info_is_refused(session) -> None:
    session.info["now"] = datetime(2020, 9, 1, 9, 0)  # noqa: DTZ001 - on purpose
    session.add(Unit(code="x", name="x", kind=UnitKind.OTHER))
    with pytest.raises(ValueError, match="timestamps must be timezone-aware"):
        session.flush()


def test_audit_entry_cannot_be_updated_through_the_orm(session) -> None:
    make_unit(session)
    entry = repo.list_audit(session)[0]
    entry.actor = "someone else"
    with pytest.raises(AuditTrailError, match="append-only"):
        session.flush()


def test_audit_entry_cannot_be_deleted_through_the_orm(session) -> None:
    make_unit(session)
    session.delete(repo.list_audit(session)[0])
    with pytest.raises(AuditTrailError, match="append-only"):
        session.flush()


def test_bulk_update_of_audit_entries_is_refused(session) -> None:
    make_unit(session)
    with pytest.raises(AuditTrailError, match="append-only"):
        session.execute(sa.update(AuditEntry).values(actor="x"))
    with pytest.raises(AuditTrailError, match="append-only"):
        session.execute(sa.delete(AuditEntry))


def test_bulk_dml_on_audited_tables_is_refused_because_it_would_skip_the_trail(session) -> None:
    make_unit(session)
    with pytest.raises(AuditTrailError, match="bypass the audit trail"):
        session.execute(sa.update(Obligation).values(status=ObligationStatus.WITHDRAWN))
    with pytest.raises(AuditTrailError, match="bypass the audit trail"):
        session.execute(sa.delete(Unit))


def test_database_refuses_raw_update_and_delete_of_audit_rows(engine: Engine) -> None:
    with session_scope(engine) as session:
        make_unit(session)
    for statement in ("UPDATE audit_entry SET actor = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    with session_scope(engine) as session:
        [entry] = repo.list_audit(session)
        assert entry.actor == "system"
