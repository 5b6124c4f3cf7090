"""The one place a scheduled flow reads the clock: when no ``as_of`` is given."""

from __future__ import annotations

from datetime import date, datetime

import pendulum

from deadlines.due import TZ
from tasks.context import EngineContext


def resolve_day(ctx: EngineContext, as_of: date | None) -> tuple[date, datetime]:
    """(day, instant) of a run: a replayed day acts at its reminder hour; today acts now."""
    if as_of is not None:
        return as_of, ctx.run_instant(as_of)
    now = pendulum.now(TZ)
    return now.date(), now
