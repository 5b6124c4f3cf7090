"""The aware-UTC timestamp column and the naming convention, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.base import NAMING_CONVENTION, UTCDateTime, table_name_for
from db.models import AuditEntry, Base, Obligation
from db.session import make_sessionmaker
from tests.db.builders import make_item, make_plan, make_unit, sh


def _new_pause_row(session, obligation_id: int, started_at: datetime) -> None:
    from db.models import Pause

    session.add(Pause(obligation_id=obligation_id, started_at=started_at, reason="材料补正"))


def _obligation(session) -> Obligation:
    from db import repository as repo

    unit = make_unit(session)
    item = make_item(session, make_plan(session))
    return repo.upsert_obligation(
        session,
        item=item,
        unit=unit,
        rule_index=0,
        period_key="once",
        due_date=sh(2020, 9, 15).date(),
        due_at=sh(2020, 9, 15, 23, 59),
    )


def test_naive_datetime_is_refused_when_assigned(session) -> None:
    obligation = _obligation(session)
    with pytest.raises(ValueError, match="timestamps must be timezone-aware"):
        obligation.due_at = datetime(2020, 9, 15, 18, 0)  # noqa: DTZ001 - on purpose
    with pytest.raises(ValueError, match="timestamps must be timezone-aware"):
        _new_pause_row(session, obligation.id, datetime(2020, 9, 1, 9, 0))  # noqa: DTZ001


def test_naive_datetime_is_refused_by_the_column_type_itself(engine: Engine) -> None:
    """Core inserts bypass the ORM: the column type refuses the naive value before the driver."""
    stmt = sa.insert(AuditEntry.__table__).values(
        at=datetime(2020, 9, 1, 9, 0),  # noqa: DTZ001 - on purpose
        actor="x",
        entity="unit",
        entity_id=1,
        action="create",
        changes={},
    )
    with engine.connect() as conn, pytest.raises(sa.exc.StatementError) as excinfo:
        conn.execute(stmt)
    assert isinstance(excinfo.value.orig, ValueError)
    assert "timestamps must be timezone-aware" in str(excinfo.value)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(AuditEntry.__table__)).scalar() == 0
        )


def test_naive_datetime_in_a_query_parameter_is_refused(session) -> None:
    stmt = sa.select(Obligation).where(Obligation.due_at < datetime(2020, 9, 1))  # noqa: DTZ001
    with pytest.raises(sa.exc.StatementError, match="timestamps must be timezone-aware"):
        session.execute(stmt)


def test_aware_datetime_round_trips_as_the_same_instant_in_utc(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    beijing_evening = sh(2020, 9, 15, 18, 30)  # 10:30 UTC
    with factory() as session:
        obligation = _obligation(session)
        obligation.due_at = beijing_evening
        session.commit()
        obligation_id = obligation.id

    with factory() as session:
        loaded = session.get(Obligation, obligation_id)
        assert loaded is not None
        assert loaded.due_at == beijing_evening
        assert loaded.due_at.tzinfo is not None
        assert loaded.due_at.utcoffset() == timedelta(0)
        assert (loaded.due_at.hour, loaded.due_at.minute) == (10, 30)
        assert loaded.due_at.microsecond == 0


def test_timestamps_compare_as_instants_in_queries(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with factory() as session:
        obligation = _obligation(session)
        obligation.due_at = sh(2020, 9, 15, 7, 0)  # 2020-09-14 23:00 UTC
        session.commit()
        before_in_utc = datetime(2020, 9, 14, 23, 30, tzinfo=UTC)
        found = session.scalars(
            sa.select(Obligation).where(Obligation.due_at < before_in_utc)
        ).all()
        assert [o.id for o in found] == [obligation.id]
        later_in_utc = datetime(2020, 9, 14, 22, 30, tzinfo=UTC)
        assert (
            session.scalars(sa.select(Obligation).where(Obligation.due_at < later_in_utc)).all()
            == []
        )


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_stores_timestamps_as_utc_text(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with factory() as session:
        obligation = _obligation(session)
        obligation.due_at = sh(2020, 9, 15, 18, 30)
        session.commit()
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT due_at FROM obligation").scalar_one()
    assert raw.startswith("2020-09-15 10:30:00")


@pytest.mark.parametrize(
    "db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_postgres_column_is_timestamptz(engine: Engine) -> None:
    with engine.connect() as conn:
        data_type = conn.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'obligation' AND column_name = 'due_at'"
            )
        ).scalar_one()
    assert data_type == "timestamp with time zone"


def test_every_datetime_column_uses_the_aware_type() -> None:
    columns = [column for table in Base.metadata.tables.values() for column in table.columns]
    aware = [c for c in columns if isinstance(c.type, UTCDateTime)]
    plain = [f"{c.table.name}.{c.name}" for c in columns if isinstance(c.type, sa.DateTime)]
    assert len(aware) >= 12
    assert plain == []


def test_constraint_names_follow_the_naming_convention() -> None:
    obligation = Obligation.__table__
    names = {c.name for c in obligation.constraints} | {i.name for i in obligation.indexes}
    assert "pk_obligation" in names
    assert "uq_obligation__item_id_unit_id_rule_index_period_key" in names
    assert "fk_obligation__item_id__item" in names
    assert "ix_obligation__due_at" in names
    assert NAMING_CONVENTION["uq"].startswith("uq_")
    # PostgreSQL truncates identifiers at 63 bytes: a longer name would drift silently
    for table in Base.metadata.tables.values():
        for obj in [*table.constraints, *table.indexes]:
            assert len(str(obj.name)) <= 63, obj.name


def test_table_names_are_snake_case_of_class_names() -> None:
    assert table_name_for("AuditEntry") == "audit_entry"
    assert AuditEntry.__table__.name == "audit_entry"
