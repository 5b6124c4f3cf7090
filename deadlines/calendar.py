"""Mainland China statutory working-day calendar (with 调休), as data plus a tiny engine.

Facts live in ``config/calendars/cn/<year>.yaml`` — one file per State Council notice year —
and optional regional overlays in ``config/calendars/regions/<code>.yaml``.  A day is a
working day when it is a make-up working day (调休上班), or when it is a Monday–Friday that is
not a rest day::

    working(d) = d in work_days if is_weekend(d) else d not in rest_days

(A regional overlay may also rest on a national make-up day, so the engine applies
"overlay rest wins" before that rule.)

The engine never guesses: a date in a year without data — as input or as the answer of a
computation — raises :class:`CalendarYearMissing`, never a silent Monday–Friday fall-back.

Arithmetic is a lookup, not a walk.  For the covered span we precompute, per day index ``i``,
``cnt_le[i]`` = number of working days on or before day ``i`` and the sorted list of working
days.  "The n-th working day strictly after d" is then ``work[cnt_le[i] + n - 1]``: O(1) per
call, and the same two arrays in numpy give whole-array answers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from duban.yamlio import ConfigError, LocatedYaml, Problem, load_yaml, validate_doc

NATIONAL = "cn"
_EPOCH_ORD = date(1970, 1, 1).toordinal()


def default_config_dir() -> Path:
    """``$DUBAN_CONFIG_DIR`` or the repository's ``config/``."""
    env = os.environ.get("DUBAN_CONFIG_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "config"


class CalendarError(Exception):
    """Base class for calendar problems."""


class CalendarYearMissing(CalendarError):
    """A computation needs a year for which no official holiday data is loaded."""

    def __init__(self, year: int, calendar: str = NATIONAL, covered: tuple[int, ...] = ()):
        self.year = year
        self.calendar = calendar
        self.covered = covered
        span = f"{covered[0]}–{covered[-1]}" if covered else "none"
        super().__init__(
            f"no holiday data for {year} in calendar '{calendar}' (covered: {span}). "
            f"Working days in {year} cannot be counted until the State Council notice "
            f"国务院办公厅关于{year}年部分节假日安排的通知 is added: run "
            f"`duban calendar import-notice notice-{year}.txt` (writes "
            f"config/calendars/cn/{year}.yaml), or write that file by hand."
        )


# --------------------------------------------------------------------------- data model


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.to < self.from_:
            raise ValueError(f"range ends ({self.to}) before it starts ({self.from_})")
        return self

    def days(self) -> list[date]:
        n = (self.to - self.from_).days
        return [self.from_ + timedelta(days=k) for k in range(n + 1)]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    document: str | None = None
    published: date | None = None
    url: str | None = None
    note: str | None = None


def _year_of(info: ValidationInfo) -> int | None:
    return (info.context or {}).get("year")


class HolidayEntry(BaseModel):
    """One notice line: a holiday's rest days and the weekends worked for it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    rest: DateRange | None = None
    work: list[date] = []
    cross_year: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> HolidayEntry:
        for d in self.work:
            if d.weekday() < 5:
                raise ValueError(
                    f"make-up working day {d} is a {_WEEKDAY_ZH[d.weekday()]}, "
                    "not a Saturday or Sunday (调休上班 days are always weekends)"
                )
        year = _year_of(info)
        if year is not None and not self.cross_year:
            outside = [d for d in self.dates() if d.year != year]
            if outside:
                raise ValueError(
                    f"{outside[0]} is outside {year}; mark the entry `cross_year: true` if the "
                    "notice really covers a day of the neighbouring year"
                )
        overlap = set(self.rest.days() if self.rest else []) & set(self.work)
        if overlap:
            raise ValueError(f"{min(overlap)} is listed both as rest day and as working day")
        return self

    def dates(self) -> list[date]:
        return (self.rest.days() if self.rest else []) + list(self.work)


class YearFile(BaseModel):
    """``config/calendars/cn/<year>.yaml``."""

    model_config = ConfigDict(extra="forbid")
    year: int
    source: Source | None = None
    sources: list[Source] = []
    provisional: bool = False
    holidays: list[HolidayEntry]

    @model_validator(mode="before")
    @classmethod
    def _need_source(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("source") and not data.get("sources"):
            raise ValueError("each year file must cite its State Council notice in `source:`")
        return data

    @model_validator(mode="after")
    def _no_conflicts(self) -> YearFile:
        rest: dict[date, str] = {}
        for h in self.holidays:
            for d in h.rest.days() if h.rest else []:
                rest[d] = h.name
        for h in self.holidays:
            for d in h.work:
                if d in rest:
                    raise ValueError(
                        f"{d} is a rest day of {rest[d]} and a working day of {h.name}"
                    )
        return self

    def all_sources(self) -> list[Source]:
        return ([self.source] if self.source else []) + list(self.sources)


class AnnualDay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    length: int = Field(default=1, ge=1, le=15)

    @field_validator("day")
    @classmethod
    def _real_day(cls, v: int, info: ValidationInfo) -> int:
        month = info.data.get("month")
        if month is not None:
            date(2000, month, v)  # leap year: accepts 2-29; raises ValueError otherwise
        return v


class RegionFile(BaseModel):
    """``config/calendars/regions/<code>.yaml``: rest/work days on top of the national one."""

    model_config = ConfigDict(extra="forbid")
    region: str
    name: str
    base: str = NATIONAL
    source: Source
    annual: list[AnnualDay] = []
    holidays: list[HolidayEntry] = []


# --------------------------------------------------------------------------- the engine

DayKind = Literal["workday", "weekend", "holiday", "makeup_workday", "region_holiday"]
_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass(frozen=True)
class DayInfo:
    date: date
    is_working: bool
    kind: DayKind
    name: str | None = None


class WorkCalendar:
    """Working-day arithmetic over the covered years of one calendar (national + overlay)."""

    def __init__(
        self,
        *,
        name: str,
        years: Iterable[int],
        rest_days: dict[date, str],
        work_days: dict[date, str],
        region_rest_days: dict[date, str] | None = None,
        provisional_years: Iterable[int] = (),
    ):
        self.name = name
        self.years: tuple[int, ...] = tuple(sorted(set(years)))
        if not self.years:
            raise CalendarError(f"calendar '{name}' has no year data at all")
        self.provisional_years = frozenset(provisional_years)
        self._rest = dict(rest_days)
        self._work = dict(work_days)
        self._region_rest = dict(region_rest_days or {})
        self.first_year = self.years[0]
        self.last_year = self.years[-1]
        covered = set(self.years)
        start = date(self.first_year, 1, 1)
        end = date(self.last_year, 12, 31)
        self._base = start.toordinal()
        size = end.toordinal() - self._base + 1
        self._size = size

        is_work = bytearray(size)
        known = bytearray(size)
        for i in range(size):
            d = date.fromordinal(self._base + i)
            if d.year in covered:
                known[i] = 1
                is_work[i] = self._compute_working(d)
        # Segments of consecutive covered years: answers may not cross an uncovered year.
        cnt_le = [0] * size
        work_dates: list[date] = []
        running = 0
        for i in range(size):
            if is_work[i]:
                running += 1
                work_dates.append(date.fromordinal(self._base + i))
            cnt_le[i] = running
        # seg_limit[i]: number of working days up to the end of i's covered segment.
        seg_limit = [0] * size
        limit = running
        for i in range(size - 1, -1, -1):
            if not known[i]:
                limit = cnt_le[i]  # gap: nothing at or after here is reachable from before it
                seg_limit[i] = -1
                continue
            if i + 1 < size and not known[i + 1]:
                limit = cnt_le[i]
            seg_limit[i] = limit
        seg_floor = [0] * size  # working days before the start of i's segment
        floor = 0
        for i in range(size):
            if not known[i]:
                floor = cnt_le[i]
                continue
            if i > 0 and not known[i - 1]:
                floor = cnt_le[i - 1]
            seg_floor[i] = floor
        self._is_work = bytes(is_work)
        self._known = bytes(known)
        self._cnt_le = cnt_le
        self._work_dates = work_dates
        self._seg_limit = seg_limit
        self._seg_floor = seg_floor
        self._single_segment = all(known)
        # numpy mirrors for the batch path (days since 1970-01-01, i.e. datetime64[D] ints).
        self._np_is_work = np.frombuffer(self._is_work, dtype=np.uint8).astype(np.int64)
        self._np_cnt_le = np.asarray(cnt_le, dtype=np.int64)
        self._np_work = np.asarray([d.toordinal() - _EPOCH_ORD for d in work_dates], np.int64)
        self._np_limit = np.asarray(seg_limit, dtype=np.int64)

    @property
    def rest_days(self) -> dict[date, str]:
        """National rest days (holidays and 调休 rest days) with their holiday names."""
        return dict(self._rest)

    @property
    def work_days(self) -> dict[date, str]:
        """Make-up working days (调休上班) with the holiday they serve."""
        return dict(self._work)

    def with_rest_days(self, days: dict[date, str], name: str | None = None) -> WorkCalendar:
        """A copy where ``days`` are rest days whatever the notice says (overlay semantics)."""
        return WorkCalendar(
            name=name or self.name,
            years=self.years,
            rest_days=self._rest,
            work_days=self._work,
            region_rest_days={**self._region_rest, **days},
            provisional_years=self.provisional_years,
        )

    # ----------------------------------------------------------------- day facts

    def _compute_working(self, d: date) -> bool:
        if d in self._region_rest:
            return False
        if d.weekday() >= 5:
            return d in self._work
        return d not in self._rest

    def _missing(self, year: int) -> CalendarYearMissing:
        return CalendarYearMissing(year, self.name, self.years)

    def _index(self, d: date) -> int:
        i = d.toordinal() - self._base
        if not (0 <= i < self._size) or not self._known[i]:
            raise self._missing(d.year)
        return i

    def covers(self, d: date) -> bool:
        i = d.toordinal() - self._base
        return 0 <= i < self._size and bool(self._known[i])

    def is_working_day(self, d: date) -> bool:
        """True when ``d`` is a statutory working day (make-up weekends included)."""
        i = d.toordinal() - self._base
        if 0 <= i < self._size and self._known[i]:
            return bool(self._is_work[i])
        raise self._missing(d.year)

    def day_info(self, d: date) -> DayInfo:
        working = self.is_working_day(d)
        if d in self._region_rest:
            return DayInfo(d, False, "region_holiday", self._region_rest[d])
        if d.weekday() >= 5:
            if working:
                return DayInfo(d, True, "makeup_workday", self._work.get(d))
            return DayInfo(d, False, "holiday" if d in self._rest else "weekend", self._rest.get(d))
        if not working:
            return DayInfo(d, False, "holiday", self._rest.get(d))
        return DayInfo(d, True, "workday")

    # ----------------------------------------------------------------- arithmetic

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day strictly after ``d`` (n ≥ 1); see module docs.

        n == 0 gives ``d`` when it is a working day, else the next working day (roll forward);
        n ≤ -1 gives the |n|-th working day strictly before ``d``.
        """
        i = d.toordinal() - self._base
        if n > 0 and 0 <= i < self._size:
            j = self._cnt_le[i] + n - 1
            if j < self._seg_limit[i]:
                return self._work_dates[j]
        return self._add_slow(d, n)

    def _add_slow(self, d: date, n: int) -> date:
        i = self._index(d)
        if n >= 0:
            j = self._cnt_le[i] + n - 1 if n > 0 else self._cnt_le[i] - self._is_work[i]
            if j >= self._seg_limit[i]:
                raise self._missing(self._year_after_segment(i))
            return self._work_dates[j]
        j = self._cnt_le[i] - self._is_work[i] + n
        if j < self._seg_floor[i]:
            raise self._missing(self._year_before_segment(i))
        return self._work_dates[j]

    def _year_after_segment(self, i: int) -> int:
        year = date.fromordinal(self._base + i).year
        while year in self.years:
            year += 1
        return year

    def _year_before_segment(self, i: int) -> int:
        year = date.fromordinal(self._base + i).year
        while year in self.years:
            year -= 1
        return year

    def next_working_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the next one."""
        return self.add_working_days(d, 0)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in the half-open interval (a, b]; negative when b < a."""
        if b < a:
            return -self.working_days_between(b, a)
        ia, ib = self._index(a), self._index(b)
        if not self._single_segment and self._seg_limit[ia] != self._seg_limit[ib]:
            raise self._missing(self._year_after_segment(ia))
        return self._cnt_le[ib] - self._cnt_le[ia]

    def working_days_in(self, a: date, b: date) -> list[date]:
        """All working days d with a <= d <= b."""
        ia, ib = self._index(a), self._index(b)
        lo = self._cnt_le[ia] - self._is_work[ia]
        return self._work_dates[lo : self._cnt_le[ib]]

    def add_working_days_array(self, dates: np.ndarray, n: np.ndarray | int) -> np.ndarray:
        """Vectorised ``add_working_days`` for ``datetime64[D]`` arrays (n ≥ 0)."""
        days = np.asarray(dates, dtype="datetime64[D]").astype(np.int64)
        idx = days - (self._base - _EPOCH_ORD)
        nn = np.broadcast_to(np.asarray(n, dtype=np.int64), idx.shape)
        if idx.size and (idx.min() < 0 or idx.max() >= self._size):
            bad = days[(idx < 0) | (idx >= self._size)][0]
            raise self._missing(int(np.datetime64(int(bad), "D").astype(object).year))
        if (nn < 0).any():
            raise ValueError("add_working_days_array supports n >= 0 only")
        cnt = self._np_cnt_le[idx]
        j = np.where(nn > 0, cnt + nn - 1, cnt - self._np_is_work[idx])
        limit = self._np_limit[idx]
        over = j >= limit
        if over.any():
            k = int(np.argmax(over))
            raise self._missing(self._year_after_segment(int(idx[k])) if limit[k] >= 0 else
                                int(np.datetime64(int(days[k]), "D").astype(object).year))
        return self._np_work[j].astype("datetime64[D]")

    def __repr__(self) -> str:
        return f"<WorkCalendar {self.name} {self.first_year}–{self.last_year}>"


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedYear:
    year: int
    path: Path
    model: YearFile
    doc: LocatedYaml


def _check_conflicts(
    files: list[tuple[LocatedYaml, Iterable[HolidayEntry]]],
) -> tuple[dict[date, str], dict[date, str]]:
    rest: dict[date, tuple[str, str]] = {}
    work: dict[date, tuple[str, str]] = {}
    problems: list[Problem] = []
    files = list(files)
    for doc, entries in files:  # every rest day first: conflicts are found in any file order
        for h in entries:
            for d in h.rest.days() if h.rest else []:
                rest.setdefault(d, (h.name, doc.path))
    for doc, entries in files:
        for k, h in enumerate(entries):
            for d in h.work:
                work.setdefault(d, (h.name, doc.path))
                if d in rest:
                    problems.append(
                        doc.problem(
                            ("holidays", k, "work"),
                            f"{d} is a working day here but a rest day ({rest[d][0]}) "
                            f"in {rest[d][1]}",
                        )
                    )
    if problems:
        raise ConfigError(problems)
    return {d: v[0] for d, v in rest.items()}, {d: v[0] for d, v in work.items()}


def read_year_files(config_dir: Path, calendar: str = NATIONAL) -> list[LoadedYear]:
    """Load and validate every ``<year>.yaml`` of a national calendar directory."""
    folder = config_dir / "calendars" / calendar
    problems: list[Problem] = []
    loaded: list[LoadedYear] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            year = int(path.stem)
        except ValueError:
            problems.append(Problem(str(path), None, "", "file name must be <year>.yaml"))
            continue
        try:
            doc = load_yaml(path)
            declared = doc.data.get("year") if isinstance(doc.data, dict) else None
            if declared != year:
                problems.append(doc.problem(("year",), f"says {declared} but file is {path.name}"))
                continue
            model = validate_doc(YearFile, doc, context={"year": year})
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        loaded.append(LoadedYear(year, path, model, doc))
    if problems:
        raise ConfigError(problems)
    return loaded


def read_region_file(config_dir: Path, region: str) -> tuple[LocatedYaml, RegionFile]:
    path = config_dir / "calendars" / "regions" / f"{region}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise CalendarError(
            f"unknown calendar region '{region}': no file {path} (known regions: "
            f"{', '.join(known) or 'none'})"
        )
    doc = load_yaml(path)
    return doc, validate_doc(RegionFile, doc)


def build_calendar(
    years: list[LoadedYear],
    *,
    region: tuple[LocatedYaml, RegionFile] | None = None,
    name: str = NATIONAL,
) -> WorkCalendar:
    """Merge validated year files (and an optional overlay) into one engine."""
    rest, work = _check_conflicts([(y.doc, y.model.holidays) for y in years])
    region_rest: dict[date, str] = {}
    year_numbers = [y.year for y in years]
    if region is not None:
        _doc, reg = region
        name = reg.region
        for h in reg.holidays:
            for d in h.rest.days() if h.rest else []:
                region_rest[d] = h.name
            for d in h.work:
                work[d] = h.name
        for a in reg.annual:
            for y in year_numbers:
                try:
                    first = date(y, a.month, a.day)
                except ValueError:
                    continue  # 2-29 in a common year
                for k in range(a.length):
                    region_rest[first + timedelta(days=k)] = a.name
    return WorkCalendar(
        name=name,
        years=year_numbers,
        rest_days=rest,
        work_days=work,
        region_rest_days=region_rest,
        provisional_years=[y.year for y in years if y.model.provisional],
    )


@functools.lru_cache(maxsize=32)
def _load_cached(config_dir: str, region: str | None, stamp: tuple[tuple[str, float], ...]):
    cfg = Path(config_dir)
    years = read_year_files(cfg)
    if not years:
        raise CalendarError(
            f"no calendar data in {cfg / 'calendars' / NATIONAL}: add <year>.yaml files "
            "(see `duban calendar import-notice`)"
        )
    reg = read_region_file(cfg, region) if region else None
    return build_calendar(years, region=reg)


def _stamp(config_dir: Path, region: str | None) -> tuple[tuple[str, float], ...]:
    files = sorted((config_dir / "calendars" / NATIONAL).glob("*.yaml"))
    if region:
        files.append(config_dir / "calendars" / "regions" / f"{region}.yaml")
    return tuple((str(p), p.stat().st_mtime) for p in files if p.exists())


def load_calendar(region: str | None = None, config_dir: str | Path | None = None) -> WorkCalendar:
    """The national calendar, or national + the overlay of ``region``.

    Cached per (directory, region) and reloaded when a data file changes, so a year added by
    ``duban calendar import-notice`` is picked up without a restart.
    """
    cfg = Path(config_dir) if config_dir else default_config_dir()
    return _load_cached(str(cfg.resolve()), region or None, _stamp(cfg, region or None))
