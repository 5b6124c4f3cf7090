"""The automatic audit trail: every insert, update and delete of an audited model, recorded in the
same transaction by the session's flush hooks, with ``field → [old, new]``.

Why hooks and not explicit calls: a repository function or a flow that forgets to log would
silently leave a hole in the trail. Here every flush of a :class:`DubanSession` is audited, audit
rows can be neither updated nor deleted through the ORM, and bulk DML that would bypass the hooks
is refused.

Who and when come from ``session.info["actor"]`` (default ``"system"``) and ``session.info["now"]``
(default: the clock — audit metadata is the one place the DB layer may read it).
"""

from __future__ import annotations

import decimal
import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm import attributes as orm_attributes

from db.base import CreatedMixin, ensure_aware
from db.models import AUDITED_MODELS, AuditEntry, Item, Obligation, ObligationStatus

AUDITED_TABLES = frozenset(model.__table__.name for model in AUDITED_MODELS)
_AUDIT_TABLE = AuditEntry.__table__
_FLUSH_KEY = "duban.audit"


class AuditTrailError(RuntimeError):
    """An attempt to rewrite audit history or to change audited rows behind the trail's back."""


class DubanSession(Session):
    """A Session whose flushes stamp ``created_at`` and write the audit trail.

    Get one from ``db.session.make_sessionmaker`` / ``session_scope``; a plain ``Session`` writes
    no audit entries.
    """


def flush_now(session: Session) -> datetime:
    """The instant to stamp on this flush: ``session.info["now"]`` if given, else the clock."""
    now = session.info.get("now")
    if now is None:
        return datetime.now(UTC)
    return ensure_aware(now, what='session.info["now"]')


def flush_actor(session: Session) -> str:
    return str(session.info.get("actor") or "system")


def to_jsonable(value: Any) -> Any:
    """JSON-ready form of a column value: ISO strings for dates/datetimes, values for enums."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


@dataclass
class _FlushAudit:
    now: datetime
    actor: str
    # old column values of persistent objects, read from the DB when not loaded in memory
    old_values: dict[InstanceState[Any], dict[str, Any]] = field(default_factory=dict)
    deletes: list[dict[str, Any]] = field(default_factory=list)


def _is_audited(obj: object) -> bool:
    return isinstance(obj, AUDITED_MODELS)


def _column_keys(obj: object) -> list[str]:
    mapper: Mapper[Any] = sa.inspect(type(obj))
    return [attr.key for attr in mapper.column_attrs if attr.key != "id"]


def _load_db_row(session: Session, obj: object) -> dict[str, Any]:
    """The row as it is in the database now (inside the flush, before our UPDATE runs)."""
    state = sa.inspect(obj)
    mapper = state.mapper
    table = mapper.local_table
    pk_cols = list(mapper.primary_key)
    pk = state.identity or ()
    stmt = sa.select(table).where(*(col == val for col, val in zip(pk_cols, pk, strict=True)))
    row = session.connection().execute(stmt).mappings().first()
    if row is None:
        return {}
    return {prop.key: row[prop.columns[0].name] for prop in mapper.column_attrs}


def _guard_audit_rows(session: Session) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AuditTrailError(f"audit entries are append-only: refusing to delete {obj!r}")
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj, include_collections=False):
            raise AuditTrailError(f"audit entries are append-only: refusing to update {obj!r}")


@event.listens_for(DubanSession, "before_flush")
def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    _guard_audit_rows(session)
    audit = _FlushAudit(now=flush_now(session), actor=flush_actor(session))

    for obj in session.new:
        if isinstance(obj, CreatedMixin) and obj.created_at is None:
            obj.created_at = audit.now
        if isinstance(obj, AuditEntry) and obj.at is None:
            obj.at = audit.now

    for obj in session.dirty:
        if not _is_audited(obj) or not session.is_modified(obj, include_collections=False):
            continue
        state = sa.inspect(obj)
        unknown_old = [
            key
            for key in _column_keys(obj)
            if (hist := orm_attributes.get_history(obj, key)).has_changes() and not hist.deleted
        ]
        if unknown_old:
            audit.old_values[state] = _load_db_row(session, obj)

    for obj in session.deleted:
        if _is_audited(obj):
            values = {key: to_jsonable(getattr(obj, key)) for key in _column_keys(obj)}
            audit.deletes.append(
                {
                    "entity": obj.__table__.name,
                    "entity_id": obj.id,
                    "action": "delete",
                    "changes": {k: [v, None] for k, v in values.items() if v is not None},
                }
            )

    flush_context.attributes[_FLUSH_KEY] = audit


def _classify_update(obj: object, changes: dict[str, list[Any]]) -> str:
    if isinstance(obj, Item) and "active" in changes:
        return "withdraw" if changes["active"][1] is False else "reinstate"
    if isinstance(obj, Obligation) and "status" in changes:
        new_status = changes["status"][1]
        if new_status == ObligationStatus.WITHDRAWN.value:
            return "withdraw"
        if new_status == ObligationStatus.DONE.value:
            return "complete"
    return "update"


def _update_changes(obj: object, audit: _FlushAudit) -> dict[str, list[Any]]:
    state = sa.inspect(obj)
    stored = audit.old_values.get(state, {})
    changes: dict[str, list[Any]] = {}
    for key in _column_keys(obj):
        hist = orm_attributes.get_history(obj, key)
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else stored.get(key)
        new = hist.added[0] if hist.added else None
        old_json, new_json = to_jsonable(old), to_jsonable(new)
        if old_json != new_json:
            changes[key] = [old_json, new_json]
    return changes


@event.listens_for(DubanSession, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    audit: _FlushAudit | None = flush_context.attributes.pop(_FLUSH_KEY, None)
    if audit is None:  # pragma: no cover - before_flush always runs first
        audit = _FlushAudit(now=flush_now(session), actor=flush_actor(session))
    rows: list[dict[str, Any]] = []

    for obj in session.new:  # ids are assigned now
        if _is_audited(obj):
            values = {key: to_jsonable(getattr(obj, key)) for key in _column_keys(obj)}
            changes = {k: [None, v] for k, v in values.items() if v is not None}
            rows.append(
                {
                    "entity": obj.__table__.name,
                    "entity_id": obj.id,
                    "action": "create",
                    "changes": changes,
                }
            )

    new = set(session.new)
    for obj in session.dirty:
        if obj in new or not _is_audited(obj):
            continue
        changes = _update_changes(obj, audit)
        if changes:
            rows.append(
                {
                    "entity": obj.__table__.name,
                    "entity_id": obj.id,
                    "action": _classify_update(obj, changes),
                    "changes": changes,
                }
            )

    rows.extend(audit.deletes)
    if rows:
        for row in rows:
            row["at"] = audit.now
            row["actor"] = audit.actor
        session.connection().execute(sa.insert(_AUDIT_TABLE), rows)


@event.listens_for(DubanSession, "do_orm_execute")
def _refuse_bypassing_dml(state: ORMExecuteState) -> None:
    """Bulk INSERT/UPDATE/DELETE skips the flush hooks, so it would leave no trail."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name == _AUDIT_TABLE.name and (state.is_update or state.is_delete):
        raise AuditTrailError("audit entries are append-only: refusing bulk UPDATE/DELETE")
    if name in AUDITED_TABLES:
        raise AuditTrailError(
            f"bulk {'INSERT' if state.is_insert else 'UPDATE' if state.is_update else 'DELETE'} "
            f"on {name} would bypass the audit trail; change rows through the ORM "
            "(db.repository) instead"
        )


@event.listens_for(AuditEntry, "before_update")
def _refuse_audit_update(mapper: Mapper[Any], connection: Any, target: AuditEntry) -> None:
    raise AuditTrailError(f"audit entries are append-only: refusing to update {target!r}")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_audit_delete(mapper: Mapper[Any], connection: Any, target: AuditEntry) -> None:
    raise AuditTrailError(f"audit entries are append-only: refusing to delete {target!r}")
