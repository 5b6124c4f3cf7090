"""The one declarative ``Base``: constraint naming, the aware-UTC timestamp type, common columns.

Deterministic constraint names keep Alembic autogenerate stable across SQLite and PostgreSQL;
mapping ``datetime`` to :class:`UTCDateTime` once means no model can store a naive timestamp.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s__%(column_0_N_name)s",
    "uq": "uq_%(table_name)s__%(column_0_N_name)s",
    "ck": "ck_%(table_name)s__%(constraint_name)s",
    "fk": "fk_%(table_name)s__%(column_0_N_name)s__%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAIVE_MESSAGE = "timestamps must be timezone-aware"


def ensure_aware(value: datetime, *, what: str = "timestamp") -> datetime:
    """Return ``value`` in UTC (a plain ``datetime``); refuse a naive datetime (we never guess
    a timezone)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    offset = value.utcoffset() if value.tzinfo is not None else None
    if offset is None:
        raise ValueError(f"{NAIVE_MESSAGE} ({what}={value.isoformat()})")
    if type(value) is datetime:
        return value.astimezone(UTC)
    # A subclass (pendulum's DateTime): the same instant as a plain datetime, which converts,
    # compares and binds many times faster (and is what the database gives back anyway).
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond, tzinfo=UTC) - offset


class UTCDateTime(TypeDecorator[datetime]):
    """Aware timestamps only, stored as UTC.

    PostgreSQL keeps them in ``timestamptz``. SQLite has no timezone type, so the value is
    converted to UTC and stored naive, and re-labelled UTC on load — callers always get an aware
    UTC ``datetime`` back on both databases.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = ensure_aware(value)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_cls]


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def table_name_for(class_name: str) -> str:
    """``AuditEntry`` → ``audit_entry``."""
    return _CAMEL.sub("_", class_name).lower()


class Base(DeclarativeBase):
    """Declarative base: table names from class names, stable constraint names, typed columns."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        date: sa.Date(),
        str: sa.String(),
        # StrEnums are stored by value in a VARCHAR with a CHECK constraint (no native PG ENUM
        # types: they make every later enum change a hand-written migration).
        enum.Enum: sa.Enum(
            enum.Enum,
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=_enum_values,
            validate_strings=True,
        ),
    }

    @declared_attr.directive
    def __tablename__(cls) -> str:  # noqa: N805 - declared_attr receives the class
        return table_name_for(cls.__name__)


def _refuse_naive_on_set(target: object, value: Any, oldvalue: Any, initiator: Any) -> Any:
    """Fail at the assignment (clear traceback) rather than at flush; keep values in UTC."""
    if value is None:
        return None
    return ensure_aware(value, what=f"{type(target).__name__}.{initiator.key}")


@sa.event.listens_for(Base, "mapper_configured", propagate=True)
def _watch_timestamp_columns(mapper: Any, cls: type) -> None:
    for prop in mapper.column_attrs:
        if any(isinstance(col.type, UTCDateTime) for col in prop.columns):
            sa.event.listen(getattr(cls, prop.key), "set", _refuse_naive_on_set, retval=True)


class IdMixin:
    """Surrogate integer key."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)


class CreatedMixin(IdMixin):
    """``id`` plus ``created_at`` audit metadata.

    ``created_at`` is filled at flush time from ``session.info["now"]`` when the caller supplied
    one (see ``db.models``), else from the clock — it is bookkeeping, never used in deadline logic.
    """

    created_at: Mapped[datetime]
