"""Small builders for DB tests: a unit, a plan with one item, instants in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from db import repository as repo
from db.models import Item, Plan, Unit, UnitKind

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware instant in Beijing time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def make_unit(
    session: Session, code: str = "swbgs", name: str = "市政府办公室", **kw: object
) -> Unit:
    kw.setdefault("kind", UnitKind.CITY_DEPT)
    return repo.upsert_unit(session, code=code, name=name, **kw)  # type: ignore[arg-type]


def make_plan(session: Session, year: int = 2020) -> Plan:
    return repo.upsert_plan(
        session,
        year=year,
        issuer="朝阳市政务公开领导小组",
        title=f"朝阳市{year}年政务公开工作要点",
        issued=date(year, 8, 25),
        source_document="seeds/chaoyang-2020-workplan.txt",
        source_sha256="0" * 64,
    )


def make_item(session: Session, plan: Plan, number: str = "6", **kw: object) -> Item:
    values: dict[str, object] = {
        "code": f"{plan.year}-{number}",
        "title": "集中发布“六稳”“六保”政策文件",
        "text": "政府网站及部门网站要设置专题栏目……",
        "lead_units": ["swbgs"],
        "responsible_units": ["swbgs"],
        "time_limits": [
            {
                "text": "9月15日前",
                "sentence": "9月15日前，各级政府部门将本部门已出台、可公开的政策文件上传部门网站专栏",
                "rule": {"kind": "by_date", "month": 9, "day": 15},
            }
        ],
        "position": int(number) if number.isdigit() else 0,
    }
    values.update(kw)
    return repo.upsert_item(session, plan=plan, number=number, **values)  # type: ignore[arg-type]
