"""Shared vocabularies (pure): used by the configuration files and stored in the database."""

from __future__ import annotations

import enum


class UnitKind(enum.StrEnum):
    """What kind of body a unit is (drives group words such as 各县(市)区政府)."""

    COUNTY_GOV = "county_gov"  # 县(市)区政府
    CITY_DEPT = "city_dept"  # 市政府部门
    AFFILIATED = "affiliated"  # 直属机构/市直单位
    ZONE = "zone"  # 开发区/园区管委会
    OTHER = "other"


class ContactRole(enum.StrEnum):
    """Rungs of the escalation ladder, lowest first."""

    LIAISON = "liaison"  # 联系人
    LEADER = "leader"  # 第一责任人
    COORDINATOR = "coordinator"  # 政务公开办督办员


class ObligationStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    WITHDRAWN = "withdrawn"  # the item (or the unit's part in it) was withdrawn from the plan
    PENDING_CALENDAR = "pending_calendar"  # due date needs a calendar year not yet published


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # written, not yet delivered (or a transient failure to retry)
    SENDING = "sending"  # claimed by a delivery run; a crash leaves it to be retried
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent failure: the server's reply says why
