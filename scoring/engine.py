"""Scoring engine (pure): facts → ledger entry specs; ledger lines → scorecards.

Facts
    What happened, as the database sees it: an obligation completed late (``LateCompletion``) or
    early (``EarlyCompletion``), still not done (``Missed``), an escalation step reached
    (``EscalationReached``), or a fact the coordinator recorded by hand (``Finding``, e.g. a
    failed 拨测 phone check). :func:`entries_for` turns them into :class:`EntrySpec` rows for
    the ledger. An entry's unique key is ``(rule_code, subject_key, period_key)``:

    ==========================  ====================================  ========================
    fact / rule                 subject_key                           period_key
    ==========================  ====================================  ========================
    obligation facts            ``obligation:<id>``                   the obligation's own
                                                                      (``once``, ``2020-09``)
    escalation                  ``escalation:<id>``                   month reached (2020-09)
    finding                     ``finding:<id>``                      month it occurred
    ``per: period`` rules       ``quarter:2020-Q3@<unit>``            ``2020-Q3`` (``2020-05``,
                                (month/quarter/half_year/year)        ``2020-H1``, ``2020``)
    reversal (reversal_of)      ``reversal:<ledger id>``              the reversed line's
    decision (decision_for)     ``decision:<ledger id>``              the decided line's
    ==========================  ====================================  ========================

    The same facts always give the same keys, so re-running a month adds nothing once the DB
    enforces the key. ``occurred_on`` (the day the instance counts: completion day, the missed
    due date — or its month end for ``missed_after: month_end`` —, the day an escalation was
    reached, the finding's day) decides which assessment period an entry falls in.

Scorecards
    :func:`scorecard` takes ledger lines (or entry specs): reversals cancel the line they
    reverse (reversing a decision makes its line pending again); a decision — the pending row
    updated with an amount, or a separate row with ``decides`` — gives a pending line its
    amount; lines with an amount count; lines with only a ``pending_range`` (a discretionary
    "视情况减0.1-2分" not yet decided) are listed apart and make the score provisional — they
    are never counted as 0 nor as the maximum; instead the scorecard gives the range the final
    score can still take.

Cap order (each cap that bites is recorded as a :class:`CapApplied`, so a number can be
explained); all amounts are magnitudes until the last step:

    1. per-rule cap        each rule's total deduction (or bonus) ≤ ``rule.cap``
    2. per-category cap    a category's deductions (sum of capped rules) ≤ ``category.cap``
                           ("一级指标减分上限为自身权重")
    3. bonus caps          a category's bonuses ≤ ``category.bonus_cap``, then the unit's total
                           bonus ≤ ``rule_set.bonus_cap``
    4. overall frame       deduction style: final = max(−max_deduction, bonuses − deductions),
                           and not above 0 unless ``bonus_above_zero`` ("最高减5分，在减分框架
                           内酌情加分"); base style: final = base − deductions + bonuses, not
                           below ``floor`` (nor above ``ceiling``).

All points are :class:`decimal.Decimal`. No clock is read: dates come with the facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from scoring.rules import (
    BaseScheme,
    DeductionScheme,
    Rule,
    RuleBook,
    RuleSet,
    fmt_points,
    month_day,
)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
ZERO = Decimal(0)


class ScoringError(ValueError):
    """Facts or ledger lines that do not fit the rule book; the message says which and why."""


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A date range to score (inclusive), e.g. the 年中 assessment 2020-01-01..2020-06-30."""

    start: date
    end: date
    key: str
    name: str

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ScoringError(f"period {self.key}: start {self.start} is after end {self.end}")

    @classmethod
    def assessment(cls, rulebook: RuleBook, code: str) -> Period:
        """The named assessment of the rule book's year (``H1`` → 2020-01-01..2020-06-30)."""
        try:
            a = rulebook.assessment(code)
        except KeyError as exc:
            raise ScoringError(exc.args[0]) from None
        y = rulebook.year
        return cls(month_day(a.start, y), month_day(a.end, y), f"{y}-{a.code}", f"{y}年{a.name}")

    @classmethod
    def between(cls, start: date, end: date, name: str | None = None) -> Period:
        """Any date range, e.g. one month."""
        key = f"{start.isoformat()}..{end.isoformat()}"
        return cls(start, end, key, name or f"{cn_date(start)}至{cn_date(end)}")

    def contains(self, d: date) -> bool:
        return self.start <= d <= self.end


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def month_key(d: date) -> str:
    return f"{d.year}-{d.month:02d}"


def period_key_of(d: date, unit: str) -> str:
    """Key of the month/quarter/half-year/year containing ``d``."""
    if unit == "month":
        return month_key(d)
    if unit == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if unit == "half_year":
        return f"{d.year}-H{1 if d.month <= 6 else 2}"
    return str(d.year)


def _period_label(key: str, unit: str) -> str:
    if unit == "month":
        y, m = key.split("-")
        return f"{y}年{int(m)}月"
    if unit == "quarter":
        y, q = key.split("-Q")
        return f"{y}年第{'一二三四'[int(q) - 1]}季度"
    if unit == "half_year":
        y, h = key.split("-H")
        return f"{y}年{'上' if h == '1' else '下'}半年"
    return f"{key}年度"


def _month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def local_date(value: date | datetime, what: str) -> date:
    """An aware datetime's Asia/Shanghai date; a date as is; naive datetimes are refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ScoringError(f"{what}: naive datetime {value.isoformat()} (store aware UTC)")
        return value.astimezone(LOCAL_TZ).date()
    return value


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class LateCompletion:
    """An obligation completed after its due instant."""

    obligation_id: int
    unit_code: str
    item_code: str
    period_key: str
    due_date: date
    done_at: datetime | date
    late_working_days: int
    item_title: str | None = None


@dataclass(frozen=True)
class EarlyCompletion:
    """An obligation completed ``early_working_days`` working days before its due date."""

    obligation_id: int
    unit_code: str
    item_code: str
    period_key: str
    due_date: date
    done_at: datetime | date
    early_working_days: int
    item_title: str | None = None


@dataclass(frozen=True)
class Missed:
    """An obligation still not done ``as_of`` (end of that day) although ``due_date`` passed."""

    obligation_id: int
    unit_code: str
    item_code: str
    period_key: str
    due_date: date
    as_of: date
    item_title: str | None = None


@dataclass(frozen=True)
class EscalationReached:
    """An escalation step (``"+5"``) reached for an obligation on ``reached_on``."""

    escalation_id: int
    obligation_id: int
    unit_code: str
    item_code: str
    step: str
    reached_on: date
    due_date: date | None = None
    item_title: str | None = None


@dataclass(frozen=True)
class Finding:
    """A fact the coordinator recorded against a ``finding`` rule (拨测无人接听, 函询未回复…).

    ``count`` multiplies the amount of ``per: occurrence`` rules ("每发现1家减0.1分", 3 家).
    ``amount`` (a magnitude) is the coordinator's decision for a discretionary rule, if already
    made; leave it None to get a pending entry.
    """

    finding_id: int
    unit_code: str
    rule_code: str
    occurred_on: date
    count: int = 1
    note: str = ""
    amount: Decimal | None = None
    item_code: str | None = None


Fact = LateCompletion | EarlyCompletion | Missed | EscalationReached | Finding


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Links:
    """What an entry is about (foreign keys for the ledger)."""

    obligation_ids: tuple[int, ...] = ()
    escalation_ids: tuple[int, ...] = ()
    finding_ids: tuple[int, ...] = ()

    @property
    def obligation_id(self) -> int | None:
        return self.obligation_ids[0] if len(self.obligation_ids) == 1 else None

    @property
    def escalation_id(self) -> int | None:
        return self.escalation_ids[0] if len(self.escalation_ids) == 1 else None

    @property
    def finding_id(self) -> int | None:
        return self.finding_ids[0] if len(self.finding_ids) == 1 else None


@dataclass(frozen=True)
class EntrySpec:
    """A ledger row to insert. ``amount`` is signed (deductions negative); a discretionary
    entry has ``amount=None`` and ``pending_range=(low, high)`` (signed, low <= high: a
    deduction of 0.1-2 is ``(-2, -0.1)``) until the coordinator decides it."""

    rule_code: str
    unit_code: str
    subject_key: str
    period_key: str
    amount: Decimal | None
    pending_range: tuple[Decimal, Decimal] | None
    reason: str
    occurred_on: date
    links: Links = field(default_factory=Links)
    item_code: str | None = None
    reverses: int | None = None
    decides: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The ledger's unique key."""
        return (self.rule_code, self.subject_key, self.period_key)

    @property
    def pending(self) -> bool:
        return self.amount is None and self.pending_range is not None


@dataclass(frozen=True)
class LedgerLine:
    """A row of the ledger as the database returns it (input to :func:`scorecard`).

    A decision on a pending (discretionary) row is either that row with ``amount`` now set
    (``pending_range`` kept), or a separate row with ``decides`` = the pending row's id and the
    signed amount. A reversal is a row with ``reverses`` = the id of the row it cancels and the
    opposite amount (None for a pending row); reversing a decision makes its row pending again.
    """

    rule_code: str
    unit_code: str
    subject_key: str
    period_key: str
    amount: Decimal | None
    pending_range: tuple[Decimal, Decimal] | None
    reverses: int | None
    id: int | None
    reason: str
    occurred_on: date | None = None
    item_code: str | None = None
    decides: int | None = None

    @classmethod
    def from_spec(cls, spec: EntrySpec, id: int | None = None) -> LedgerLine:
        return cls(spec.rule_code, spec.unit_code, spec.subject_key, spec.period_key,
                   spec.amount, spec.pending_range, spec.reverses, id, spec.reason,
                   spec.occurred_on, spec.item_code, spec.decides)

    @property
    def pending(self) -> bool:
        return self.amount is None and self.pending_range is not None


def reversal_of(line: LedgerLine, *, reason: str, on: date) -> EntrySpec:
    """The entry that cancels ``line`` (冲销) on day ``on``: opposite amount, key
    ``reversal:<id>`` (the reversed key stays taken, so re-running never re-adds it)."""
    if line.id is None:
        raise ScoringError("only a stored ledger line (with an id) can be reversed")
    if line.reverses is not None:
        raise ScoringError(f"ledger line {line.id} is itself a reversal; it cannot be reversed")
    return EntrySpec(
        rule_code=line.rule_code, unit_code=line.unit_code, subject_key=f"reversal:{line.id}",
        period_key=line.period_key, amount=None if line.amount is None else -line.amount,
        pending_range=None, reason=f"冲销第{line.id}号记录：{reason}",
        occurred_on=on, item_code=line.item_code,
        reverses=line.id,
    )


def decision_for(line: LedgerLine, *, rulebook: RuleBook, magnitude: Decimal, reason: str,
                 on: date) -> EntrySpec:
    """The row recording the coordinator's decision on pending ``line`` (裁定): key
    ``decision:<id>``, the signed amount, checked against the line's range."""
    if line.id is None or not line.pending:
        raise ScoringError("only a stored pending (discretionary) ledger line can be decided")
    amount = decided_amount(rulebook, line.rule_code, magnitude, line.pending_range)
    return EntrySpec(
        rule_code=line.rule_code, unit_code=line.unit_code, subject_key=f"decision:{line.id}",
        period_key=line.period_key, amount=amount, pending_range=None,
        reason=f"裁定第{line.id}号记录：{reason}", occurred_on=on, item_code=line.item_code,
        decides=line.id,
    )


def decided_amount(rulebook: RuleBook, rule_code: str, magnitude: Decimal,
                   pending_range: tuple[Decimal, Decimal] | None = None) -> Decimal:
    """The signed amount for a coordinator's decision on a discretionary entry.

    ``magnitude`` is what the coordinator says ("减0.5分" → 0.5); it must lie in the rule's
    range (or the entry's own ``pending_range`` when the range was multiplied by a count).
    """
    ref = rulebook.find(rule_code)
    if ref is None:
        raise ScoringError(f"unknown rule {rule_code!r} in the {rulebook.year} rules")
    rule = ref.rule
    if rule.range is None:
        raise ScoringError(f"rule {rule_code} has a fixed amount ({rule.describe()}); nothing to decide")
    sign = _sign(rule)
    if pending_range is not None:
        low, high = sorted((abs(pending_range[0]), abs(pending_range[1])))
    else:
        low, high = rule.range
    if not (low <= magnitude <= high):
        raise ScoringError(
            f"rule {rule_code} ({rule.describe()}): {fmt_points(magnitude)} is outside "
            f"{fmt_points(low)}-{fmt_points(high)}; to drop the entry, reverse it instead"
        )
    return sign * magnitude


def _sign(rule: Rule) -> Decimal:
    return Decimal(-1) if rule.direction == "deduct" else Decimal(1)


def _item_text(item_code: str | None, title: str | None) -> str:
    if not item_code:
        return ""
    return f"事项{item_code}「{title}」" if title else f"事项{item_code}"


def _rule_text(rule: Rule) -> str:
    hit = _RULE_TEXTS.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    if len(_RULE_TEXTS) > 4096:  # rule books are loaded per run: forget old ones
        _RULE_TEXTS.clear()
    text = f"。依据{rule.code}「{rule.title}」：{rule.describe()}"
    _RULE_TEXTS[id(rule)] = (rule, text)  # the rule is held, so its id is not reused
    return text


# Rules are immutable, and a year re-derives the same few texts ~200,000 times.
_RULE_TEXTS: dict[int, tuple[Rule, str]] = {}


def _fact_date(rule: Rule, fact: Fact) -> date:
    """The day the instance counts (decides the assessment period)."""
    if isinstance(fact, LateCompletion | EarlyCompletion):
        return local_date(fact.done_at, f"obligation {fact.obligation_id} done_at")
    if isinstance(fact, Missed):
        return _month_end(fact.due_date) if rule.countable_after == "month_end" else fact.due_date
    if isinstance(fact, EscalationReached):
        return fact.reached_on
    return fact.occurred_on


def _step_number(step: str, what: str) -> int:
    """"+5" → 5, "0" → 0, "-3" → -3 (ladder steps before the due date never match a rule)."""
    s = step.strip()
    digits = s[1:] if s[:1] in "+-" else s
    if not digits.isdigit():
        raise ScoringError(f"{what}: escalation step {step!r} is not like \"+3\", \"0\" or \"-3\"")
    return int(s)


def _qualifies(rule: Rule, fact: Fact) -> bool:
    if isinstance(fact, LateCompletion):
        return fact.late_working_days >= (rule.min_working_days_late or 0)
    if isinstance(fact, EarlyCompletion):
        return fact.early_working_days >= (rule.min_working_days_early or 1)
    if isinstance(fact, Missed):
        return fact.as_of >= _fact_date(rule, fact)
    if isinstance(fact, EscalationReached):
        return _step_number(fact.step, f"escalation {fact.escalation_id}") == _step_number(
            rule.step or "", f"rule {rule.code}")
    return True


_TRIGGER_OF: dict[type, str] = {
    LateCompletion: "late_completion",
    EarlyCompletion: "early_completion",
    Missed: "missed",
    EscalationReached: "escalation",
    Finding: "finding",
}


def _reason(rule: Rule, fact: Fact, occurred: date) -> str:
    if isinstance(fact, LateCompletion):
        return (f"逾期完成：{_item_text(fact.item_code, fact.item_title)}应于{cn_date(fact.due_date)}前完成，"
                f"{cn_date(occurred)}完成，逾期{fact.late_working_days}个工作日{_rule_text(rule)}")
    if isinstance(fact, EarlyCompletion):
        return (f"提前完成：{_item_text(fact.item_code, fact.item_title)}应于{cn_date(fact.due_date)}前完成，"
                f"{cn_date(occurred)}完成，提前{fact.early_working_days}个工作日{_rule_text(rule)}")
    if isinstance(fact, Missed):
        at = (f"{cn_date(occurred)}（当月底）" if rule.countable_after == "month_end"
              else cn_date(fact.as_of))
        return (f"未完成：{_item_text(fact.item_code, fact.item_title)}应于{cn_date(fact.due_date)}前完成，"
                f"截至{at}仍未完成{_rule_text(rule)}")
    if isinstance(fact, EscalationReached):
        due = f"（应于{cn_date(fact.due_date)}前完成）" if fact.due_date else ""
        return (f"升级督办：{_item_text(fact.item_code, fact.item_title)}{due}逾期未完成，"
                f"{cn_date(fact.reached_on)}升级督办（{fact.step}）{_rule_text(rule)}")
    count = f"，共{fact.count}处" if fact.count != 1 else ""
    note = f"：{fact.note}" if fact.note else ""
    item = f"，{_item_text(fact.item_code, None)}" if fact.item_code else ""
    return f"登记问题#{fact.finding_id}（{cn_date(fact.occurred_on)}{item}{count}）{note}{_rule_text(rule)}"


def _links(fact: Fact) -> Links:
    if isinstance(fact, Finding):
        return Links(finding_ids=(fact.finding_id,))
    if isinstance(fact, EscalationReached):
        return Links(obligation_ids=(fact.obligation_id,), escalation_ids=(fact.escalation_id,))
    return Links(obligation_ids=(fact.obligation_id,))


def _subject(fact: Fact) -> tuple[str, str | None]:
    """(subject_key, period_key or None when it is the month of occurrence)."""
    if isinstance(fact, Finding):
        return f"finding:{fact.finding_id}", None
    if isinstance(fact, EscalationReached):
        return f"escalation:{fact.escalation_id}", None
    return f"obligation:{fact.obligation_id}", fact.period_key


def _amounts(rule: Rule, mult: int, decided: Decimal | None
             ) -> tuple[Decimal | None, tuple[Decimal, Decimal] | None]:
    sign = _sign(rule)
    if rule.range is None:
        if decided is not None:
            raise ScoringError(f"rule {rule.code} has a fixed amount ({rule.describe()}); "
                               "a finding for it carries no amount")
        return sign * rule.amount * mult, None  # type: ignore[operator]
    low, high = rule.range[0] * mult, rule.range[1] * mult
    pending = (sign * high, sign * low) if sign < 0 else (low, high)
    if decided is None:
        return None, pending
    if not (low <= decided <= high):
        raise ScoringError(f"rule {rule.code} ({rule.describe()}): decided {fmt_points(decided)} "
                           f"is outside {fmt_points(low)}-{fmt_points(high)}")
    return sign * decided, pending


def entries_for(facts: Iterable[Fact], *, rulebook: RuleBook, unit_kinds: Mapping[str, str],
                period: Period) -> list[EntrySpec]:
    """Ledger entry specs for the facts whose instance day falls in ``period``.

    Obligation facts go through every rule of the unit's rule set with the matching trigger
    (and ``match``); findings go to the rule they name. Units whose kind no rule set covers are
    not assessed by this rule book: their obligation facts give nothing, a finding for them is
    an error. The result is sorted and has one spec per key (the same fact twice → one spec).
    """
    order = {r.code: i for i, (_, r) in enumerate(
        (c, r) for rs in rulebook.rule_sets for c, r in rs.rules())}
    out: dict[tuple[str, str, str], EntrySpec] = {}
    grouped: dict[tuple[str, str, str], list[tuple[date, Fact]]] = {}

    def add(spec: EntrySpec) -> None:
        old = out.get(spec.key)
        if old is None:
            out[spec.key] = spec
        elif (old.amount, old.pending_range, old.unit_code) != (spec.amount, spec.pending_range,
                                                                spec.unit_code):
            raise ScoringError(f"two different facts give the same entry {spec.key}: "
                               f"{old.reason} / {spec.reason}")

    # A year has hundreds of thousands of facts but few (kind, trigger, item) combinations.
    rule_sets: dict[str, RuleSet | None] = {}
    matching: dict[tuple[int, str, str | None], list[Rule]] = {}
    for fact in facts:
        trigger = _TRIGGER_OF.get(type(fact))
        if trigger is None:
            raise ScoringError(f"not a scoring fact: {fact!r}")
        kind = unit_kinds.get(fact.unit_code)
        if kind is None:
            raise ScoringError(f"unit {fact.unit_code!r}: kind unknown (not in the unit directory)")
        if kind in rule_sets:
            rule_set = rule_sets[kind]
        else:
            rule_set = rule_sets[kind] = rulebook.rule_set_for(kind)
        if isinstance(fact, Finding):
            rules = [_finding_rule(rulebook, fact, kind, rule_set)]
        elif rule_set is None:
            continue  # this 细则 does not assess units of this kind
        else:
            item = fact.item_code
            key = (id(rule_set), trigger, item)
            rules = matching.get(key)
            if rules is None:
                rules = matching[key] = [
                    r for _, r in rule_set.rules() if r.trigger == trigger
                    and (r.match is None or r.match.accepts(item))]
        for rule in rules:
            if not _qualifies(rule, fact):
                continue
            occurred = _fact_date(rule, fact)
            if not period.contains(occurred):
                continue
            if rule.per == "period":
                pkey = period_key_of(occurred, rule.period or "year")
                grouped.setdefault((rule.code, fact.unit_code, pkey), []).append((occurred, fact))
                continue
            subject, pkey = _subject(fact)
            mult = fact.count if isinstance(fact, Finding) and rule.per == "occurrence" else 1
            decided = fact.amount if isinstance(fact, Finding) else None
            amount, pending = _amounts(rule, mult, decided)
            add(EntrySpec(
                rule_code=rule.code, unit_code=fact.unit_code, subject_key=subject,
                period_key=pkey or month_key(occurred), amount=amount, pending_range=pending,
                reason=_reason(rule, fact, occurred), occurred_on=occurred, links=_links(fact),
                item_code=fact.item_code,
            ))

    for (rule_code, unit, pkey), hits in grouped.items():
        ref = rulebook.find(rule_code)
        assert ref is not None
        rule = ref.rule
        seen: dict[str, tuple[date, Fact]] = {}
        for h in hits:  # the same fact given twice counts once
            seen.setdefault(_subject(h[1])[0], h)
        hits = sorted(seen.values(), key=lambda h: (h[0], _subject(h[1])[0]))
        decided = next((f.amount for _, f in hits if isinstance(f, Finding) and f.amount is not None),
                       None)
        amount, pending = _amounts(rule, 1, decided)
        label = _period_label(pkey, rule.period or "year")
        shown = "；".join(_reason(rule, f, d).removesuffix(_rule_text(rule)) for d, f in hits)
        items = [f.item_code for _, f in hits if f.item_code]
        add(EntrySpec(
            rule_code=rule.code, unit_code=unit, subject_key=f"{rule.period}:{pkey}@{unit}",
            period_key=pkey, amount=amount, pending_range=pending,
            reason=f"{label}计一次：{shown}{_rule_text(rule)}", occurred_on=hits[0][0],
            links=Links(
                obligation_ids=_unique(i for _, f in hits if not isinstance(f, Finding)
                                       for i in _links(f).obligation_ids),
                escalation_ids=_unique(i for _, f in hits for i in _links(f).escalation_ids),
                finding_ids=_unique(i for _, f in hits for i in _links(f).finding_ids),
            ),
            item_code=items[0] if len(set(items)) == 1 else None,
        ))
    return sorted(out.values(), key=lambda e: (e.unit_code, order[e.rule_code], e.period_key,
                                               e.subject_key))


def _unique(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(values))


def _finding_rule(rulebook: RuleBook, fact: Finding, kind: str, rule_set: RuleSet | None) -> Rule:
    ref = rulebook.find(fact.rule_code)
    if ref is None:
        raise ScoringError(f"finding {fact.finding_id}: unknown rule {fact.rule_code!r} "
                           f"in the {rulebook.year} rules")
    if rule_set is None:
        raise ScoringError(f"finding {fact.finding_id}: unit {fact.unit_code!r} (kind {kind}) "
                           f"is not assessed by the {rulebook.year} rules")
    if ref.rule_set is not rule_set:
        raise ScoringError(f"finding {fact.finding_id}: rule {fact.rule_code} belongs to "
                           f"{ref.rule_set.name!r}, but unit {fact.unit_code!r} (kind {kind}) "
                           f"is assessed under {rule_set.name!r}")
    if ref.rule.trigger != "finding":
        raise ScoringError(f"finding {fact.finding_id}: rule {fact.rule_code} is computed from "
                           f"{ref.rule.trigger} facts, not recorded by hand")
    if fact.count < 1:
        raise ScoringError(f"finding {fact.finding_id}: count must be >= 1, got {fact.count}")
    if fact.amount is not None and fact.amount <= 0:
        raise ScoringError(f"finding {fact.finding_id}: amount is a magnitude (> 0), "
                           f"got {fact.amount}")
    return ref.rule


# --------------------------------------------------------------------------- scorecards

CapLevel = Literal["rule", "category", "category_bonus", "bonus_total", "frame"]


@dataclass(frozen=True)
class CapApplied:
    """A cap that changed a number: ``before`` → ``after`` (magnitudes, or scores at ``frame``)."""

    level: CapLevel
    code: str
    label: str
    limit: Decimal
    before: Decimal
    after: Decimal

    def __str__(self) -> str:
        return f"{self.label}：{fmt_points(self.before)} → {fmt_points(self.after)}"


@dataclass(frozen=True)
class RuleTotal:
    rule_code: str
    title: str
    category_code: str
    direction: str
    description: str
    count: int  # counted lines
    raw: Decimal  # magnitude before the rule cap
    counted: Decimal  # magnitude after the rule cap
    cap: Decimal | None
    pending: int  # pending lines


@dataclass(frozen=True)
class CategoryTotal:
    code: str
    name: str
    deductions_raw: Decimal  # sum of capped rule deductions
    deductions: Decimal  # after the category cap
    bonuses_raw: Decimal
    bonuses: Decimal  # after the category bonus cap (before the rule set's bonus cap)
    cap: Decimal | None
    bonus_cap: Decimal | None
    pending: int

    @property
    def subtotal(self) -> Decimal:
        return self.bonuses - self.deductions


@dataclass(frozen=True)
class UnitScore:
    """One unit's score for one period, with everything needed to explain it."""

    unit_code: str
    unit_name: str
    kind: str
    rule_set: str
    period: Period
    style: str
    rules: list[RuleTotal]
    categories: list[CategoryTotal]
    caps: list[CapApplied]
    raw_deductions: Decimal  # sum over rules before any cap
    raw_bonuses: Decimal
    deductions: Decimal  # after rule and category caps
    bonuses: Decimal  # after rule, category and total bonus caps
    before_frame: Decimal  # the score before the overall frame / floor
    final: Decimal
    lines: list[LedgerLine]  # counted lines
    pending: list[LedgerLine]  # discretionary lines not decided yet
    reversed: list[LedgerLine]  # lines cancelled by a reversal
    final_range: tuple[Decimal, Decimal] | None  # (worst, best) while provisional

    @property
    def provisional(self) -> bool:
        return bool(self.pending)

    def explain(self) -> list[str]:
        """The score in Chinese, line by line: rules, caps in order, pending, final."""
        out = [f"{self.unit_name}（{self.rule_set}）{self.period.name}"]
        for rt in self.rules:
            verb = "减" if rt.direction == "deduct" else "加"
            parts = []
            if rt.count:
                done = f"{rt.count}项，{verb}{fmt_points(rt.raw)}分"
                if rt.counted != rt.raw:
                    done += f"（封顶后{verb}{fmt_points(rt.counted)}分）"
                parts.append(done)
            if rt.pending:
                parts.append(f"待定{rt.pending}项（{rt.description}）")
            s = f"  {rt.rule_code} {rt.title}：{'；'.join(parts)}"
            out.append(s)
        for cap in self.caps:
            out.append(f"  封顶：{cap}")
        state = "确定"
        if self.provisional:
            lo, hi = self.final_range or (self.final, self.final)
            state = (f"暂定：{len(self.pending)}项视情况扣/加分待定，"
                     f"最终得分在{fmt_points(lo)}至{fmt_points(hi)}之间")
        out.append(f"  减分{fmt_points(self.deductions)}分，加分{fmt_points(self.bonuses)}分，"
                   f"得分{fmt_points(self.final)}（{state}）")
        return out


@dataclass
class _Outcome:
    rules: dict[str, tuple[Decimal, Decimal]]  # code → (raw, counted)
    categories: list[CategoryTotal]
    caps: list[CapApplied]
    raw_deductions: Decimal
    raw_bonuses: Decimal
    deductions: Decimal
    bonuses: Decimal
    before_frame: Decimal
    final: Decimal


def _evaluate(rule_set: RuleSet, book: RuleBook, raw: Mapping[str, Decimal],
              pending: Mapping[str, int]) -> _Outcome:
    """Apply the caps to per-rule magnitudes, stage by stage in the documented order."""
    caps: list[CapApplied] = []
    rules: dict[str, tuple[Decimal, Decimal]] = {}
    raw_d = raw_b = ZERO
    for _, rule in rule_set.rules():  # 1. per-rule caps
        r = raw.get(rule.code, ZERO)
        counted = r
        if rule.cap is not None and r > rule.cap:
            counted = rule.cap
            verb = "减" if rule.direction == "deduct" else "加"
            caps.append(CapApplied("rule", rule.code,
                                   f"{rule.code} {rule.title}：本项最多{verb}{fmt_points(rule.cap)}分",
                                   rule.cap, r, counted))
        rules[rule.code] = (r, counted)
        if rule.direction == "deduct":
            raw_d += r
        else:
            raw_b += r
    cats: list[CategoryTotal] = []
    for cat in rule_set.categories:  # 2. per-category caps on deductions
        d_sum = sum((rules[r.code][1] for r in cat.rules if r.direction == "deduct"), ZERO)
        b_sum = sum((rules[r.code][1] for r in cat.rules if r.direction == "bonus"), ZERO)
        d_cat = d_sum
        if cat.cap is not None and d_sum > cat.cap:
            d_cat = cat.cap
            caps.append(CapApplied("category", cat.code,
                                   f"{cat.code} {cat.name}：一级指标最多减{fmt_points(cat.cap)}分",
                                   cat.cap, d_sum, d_cat))
        cats.append(CategoryTotal(cat.code, cat.name, d_sum, d_cat, b_sum, b_sum, cat.cap,
                                  cat.bonus_cap, sum(pending.get(r.code, 0) for r in cat.rules)))
    for i, cat in enumerate(rule_set.categories):  # 3. bonus caps: per category, then total
        ct = cats[i]
        if cat.bonus_cap is not None and ct.bonuses_raw > cat.bonus_cap:
            cats[i] = replace(ct, bonuses=cat.bonus_cap)
            caps.append(CapApplied("category_bonus", cat.code,
                                   f"{cat.code} {cat.name}：一级指标最多加{fmt_points(cat.bonus_cap)}分",
                                   cat.bonus_cap, ct.bonuses_raw, cat.bonus_cap))
    deductions = sum((c.deductions for c in cats), ZERO)
    bonuses = sum((c.bonuses for c in cats), ZERO)
    if rule_set.bonus_cap is not None and bonuses > rule_set.bonus_cap:
        caps.append(CapApplied("bonus_total", rule_set.name,
                               f"{rule_set.name}：加分合计最多{fmt_points(rule_set.bonus_cap)}分",
                               rule_set.bonus_cap, bonuses, rule_set.bonus_cap))
        bonuses = rule_set.bonus_cap
    scheme = book.scheme  # 4. overall frame
    if isinstance(scheme, DeductionScheme):
        before = bonuses - deductions
        final = before
        if final < -scheme.max_deduction:
            final = -scheme.max_deduction
            caps.append(CapApplied("frame", "max_deduction",
                                   f"减分框架：最高减{fmt_points(scheme.max_deduction)}分",
                                   scheme.max_deduction, before, final))
        if final > 0 and not scheme.bonus_above_zero:
            caps.append(CapApplied("frame", "bonus_within_frame",
                                   "在减分框架内加分：得分不高于0分", ZERO, final, ZERO))
            final = ZERO
    else:
        assert isinstance(scheme, BaseScheme)
        before = scheme.base - deductions + bonuses
        final = before
        if final < scheme.floor:
            caps.append(CapApplied("frame", "floor", f"最低{fmt_points(scheme.floor)}分",
                                   scheme.floor, final, scheme.floor))
            final = scheme.floor
        if scheme.ceiling is not None and final > scheme.ceiling:
            caps.append(CapApplied("frame", "ceiling", f"最高{fmt_points(scheme.ceiling)}分",
                                   scheme.ceiling, final, scheme.ceiling))
            final = scheme.ceiling
    return _Outcome(rules, cats, caps, raw_d, raw_b, deductions, bonuses, before, final)


def _check_line(line: LedgerLine, rule: Rule) -> None:
    sign = _sign(rule)
    where = f"ledger line {line.id if line.id is not None else line.subject_key} ({rule.code})"
    if line.pending_range is not None:
        low, high = line.pending_range
        if low > high or low * sign <= 0 or high * sign <= 0:
            raise ScoringError(f"{where}: pending_range {low}..{high} does not fit a "
                               f"{rule.direction} rule (signed, low <= high)")
        if rule.range is None:
            raise ScoringError(f"{where}: rule {rule.code} has a fixed amount but the line is "
                               "discretionary")
    if line.amount is None:
        if line.pending_range is None:
            raise ScoringError(f"{where}: neither an amount nor a pending range")
        return
    if line.amount * sign <= 0:
        raise ScoringError(f"{where}: amount {line.amount} has the wrong sign for a "
                           f"{rule.direction} rule (reverse a line instead of zeroing it)")
    if line.pending_range is not None and not (line.pending_range[0] <= line.amount
                                               <= line.pending_range[1]):
        raise ScoringError(f"{where}: decided amount {line.amount} is outside its range "
                           f"{line.pending_range[0]}..{line.pending_range[1]}")


def _resolve(lines: Sequence[LedgerLine]) -> tuple[set[int], dict[int, LedgerLine]]:
    """Which line ids are cancelled by a reversal, and the live decision of each pending line."""
    by_id: dict[int, LedgerLine] = {}
    for ln in lines:
        if ln.id is not None:
            if ln.id in by_id:
                raise ScoringError(f"ledger line id {ln.id} appears twice")
            by_id[ln.id] = ln
        if ln.reverses is not None and ln.decides is not None:
            raise ScoringError(f"ledger line {ln.id} both reverses and decides a line")
    cancelled: set[int] = set()
    for ln in lines:
        if ln.reverses is None:
            continue
        target = by_id.get(ln.reverses)
        if target is None:
            continue  # the reversed line is not among the lines given (another period)
        if target.reverses is not None:
            raise ScoringError(f"ledger line {ln.id} reverses {target.id}, which is itself a "
                               "reversal; record a new entry instead")
        if target.id in cancelled:
            raise ScoringError(f"ledger line {target.id} is reversed twice")
        if (ln.rule_code, ln.unit_code) != (target.rule_code, target.unit_code):
            raise ScoringError(f"ledger line {ln.id} reverses {target.id} but names another "
                               "rule or unit")
        expected = None if target.amount is None else -target.amount
        if ln.amount != expected:
            raise ScoringError(f"ledger line {ln.id} reverses {target.id}: amount should be "
                               f"{expected}, got {ln.amount}")
        cancelled.add(ln.reverses)
    decisions: dict[int, LedgerLine] = {}
    for ln in lines:
        if ln.decides is None or (ln.id is not None and ln.id in cancelled):
            continue
        target = by_id.get(ln.decides)
        if target is None:
            continue
        if not target.pending or target.reverses is not None or target.decides is not None:
            raise ScoringError(f"ledger line {ln.id} decides line {target.id}, which is not a "
                               "pending discretionary line")
        if (ln.rule_code, ln.unit_code) != (target.rule_code, target.unit_code):
            raise ScoringError(f"ledger line {ln.id} decides {target.id} but names another "
                               "rule or unit")
        if ln.amount is None:
            raise ScoringError(f"ledger line {ln.id} decides {target.id} without an amount")
        if ln.decides in decisions:
            raise ScoringError(f"ledger line {target.id} has two live decisions "
                               f"({decisions[ln.decides].id} and {ln.id}); reverse one")
        decisions[ln.decides] = ln
    return cancelled, decisions


def scorecard(entries: Iterable[LedgerLine | EntrySpec], *, rulebook: RuleBook,
              unit_kinds: Mapping[str, str], unit_names: Mapping[str, str],
              period: Period) -> list[UnitScore]:
    """Scores of the units in ``unit_names`` (and of any unit with lines), for ``period``.

    Reversals cancel their line; decisions (a row with ``decides``) give their pending line
    its amount. Lines whose ``occurred_on`` lies outside the period are ignored (lines without a date are
    taken as given). Units whose kind this rule book does not assess are left out (an error if
    they have lines). Order: rule-set order, then ``unit_names`` order.
    """
    lines = [e if isinstance(e, LedgerLine) else LedgerLine.from_spec(e) for e in entries]
    cancelled, decisions = _resolve(lines)

    def in_period(ln: LedgerLine) -> bool:
        return ln.occurred_on is None or period.contains(ln.occurred_on)

    per_unit: dict[str, list[LedgerLine]] = {}
    gone: dict[str, list[LedgerLine]] = {}
    for ln in lines:
        if ln.reverses is not None or ln.decides is not None or not in_period(ln):
            continue
        if ln.id is not None and ln.id in cancelled:
            gone.setdefault(ln.unit_code, []).append(ln)
            continue
        decision = decisions.get(ln.id) if ln.id is not None else None
        if decision is not None:  # a pending line with the coordinator's decision
            ln = replace(ln, amount=decision.amount, reason=f"{ln.reason}；{decision.reason}")
        per_unit.setdefault(ln.unit_code, []).append(ln)
    units = list(unit_names) + sorted(u for u in {*per_unit, *gone} if u not in unit_names)

    scores: list[tuple[int, int, UnitScore]] = []
    for pos, unit in enumerate(units):
        kind = unit_kinds.get(unit)
        if kind is None:
            raise ScoringError(f"unit {unit!r}: kind unknown (not in the unit directory)")
        rule_set = rulebook.rule_set_for(kind)
        mine = per_unit.get(unit, [])
        if rule_set is None:
            if mine:
                raise ScoringError(f"unit {unit!r} (kind {kind}) has ledger lines but is not "
                                   f"assessed by the {rulebook.year} rules")
            continue
        raw: dict[str, Decimal] = {}
        lo_extra: dict[str, Decimal] = {}
        hi_extra: dict[str, Decimal] = {}
        pending_n: dict[str, int] = {}
        counted_n: dict[str, int] = {}
        counted: list[LedgerLine] = []
        pending: list[LedgerLine] = []
        for ln in mine:
            ref = rulebook.find(ln.rule_code)
            if ref is None:
                raise ScoringError(f"ledger line {ln.id}: rule {ln.rule_code!r} is not in the "
                                   f"{rulebook.year} rules")
            if ref.rule_set is not rule_set:
                raise ScoringError(f"ledger line {ln.id}: rule {ln.rule_code} belongs to "
                                   f"{ref.rule_set.name!r}, unit {unit!r} to {rule_set.name!r}")
            _check_line(ln, ref.rule)
            code = ln.rule_code
            if ln.amount is not None:
                raw[code] = raw.get(code, ZERO) + abs(ln.amount)
                counted_n[code] = counted_n.get(code, 0) + 1
                counted.append(ln)
            else:
                assert ln.pending_range is not None
                a, b = sorted((abs(ln.pending_range[0]), abs(ln.pending_range[1])))
                # worst case for the unit: largest deduction / smallest bonus
                worst, best = (b, a) if ref.rule.direction == "deduct" else (a, b)
                lo_extra[code] = lo_extra.get(code, ZERO) + worst
                hi_extra[code] = hi_extra.get(code, ZERO) + best
                pending_n[code] = pending_n.get(code, 0) + 1
                pending.append(ln)
        outcome = _evaluate(rule_set, rulebook, raw, pending_n)
        final_range = None
        if pending:
            worst_o = _evaluate(rule_set, rulebook, _plus(raw, lo_extra), pending_n)
            best_o = _evaluate(rule_set, rulebook, _plus(raw, hi_extra), pending_n)
            final_range = (worst_o.final, best_o.final)
        rule_totals = []
        for cat, rule in rule_set.rules():
            if rule.code not in counted_n and rule.code not in pending_n:
                continue
            r, c = outcome.rules[rule.code]
            rule_totals.append(RuleTotal(rule.code, rule.title, cat.code, rule.direction,
                                         rule.describe(), counted_n.get(rule.code, 0), r, c,
                                         rule.cap, pending_n.get(rule.code, 0)))
        score = UnitScore(
            unit_code=unit, unit_name=unit_names.get(unit, unit), kind=str(kind),
            rule_set=rule_set.name, period=period, style=rulebook.scheme.style,
            rules=rule_totals, categories=outcome.categories, caps=outcome.caps,
            raw_deductions=outcome.raw_deductions, raw_bonuses=outcome.raw_bonuses,
            deductions=outcome.deductions, bonuses=outcome.bonuses,
            before_frame=outcome.before_frame, final=outcome.final, lines=counted,
            pending=pending, reversed=gone.get(unit, []), final_range=final_range,
        )
        scores.append((rulebook.rule_sets.index(rule_set), pos, score))
    return [s for _, _, s in sorted(scores, key=lambda t: (t[0], t[1]))]


def _plus(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, ZERO) + v
    return out


__all__ = [
    "CapApplied",
    "CategoryTotal",
    "EarlyCompletion",
    "EntrySpec",
    "EscalationReached",
    "Fact",
    "Finding",
    "LateCompletion",
    "LedgerLine",
    "Links",
    "Missed",
    "Period",
    "RuleTotal",
    "ScoringError",
    "UnitScore",
    "cn_date",
    "decided_amount",
    "decision_for",
    "entries_for",
    "local_date",
    "period_key_of",
    "reversal_of",
    "scorecard",
]
