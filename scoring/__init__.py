"""Scoring (考核评分): rule books from ``config/rules/<year>.yaml``, facts → ledger entries,
ledger → scorecards, scorecards → 自查评分表 (xlsx).

Pure logic: no Prefect, no database, no clock. The database ledger, the flows and the CLI are
built on top of :mod:`scoring.engine` and :mod:`scoring.rules`.
"""

from __future__ import annotations

from scoring.engine import (
    CapApplied,
    CategoryTotal,
    EarlyCompletion,
    EntrySpec,
    EscalationReached,
    Finding,
    LateCompletion,
    LedgerLine,
    Links,
    Missed,
    Period,
    RuleTotal,
    ScoringError,
    UnitScore,
    decided_amount,
    decision_for,
    entries_for,
    reversal_of,
    scorecard,
)
from scoring.rules import RuleBook, load_rulebook, rulebook_path

__all__ = [
    "CapApplied",
    "CategoryTotal",
    "EarlyCompletion",
    "EntrySpec",
    "EscalationReached",
    "Finding",
    "LateCompletion",
    "LedgerLine",
    "Links",
    "Missed",
    "Period",
    "RuleBook",
    "RuleTotal",
    "ScoringError",
    "UnitScore",
    "decided_amount",
    "decision_for",
    "entries_for",
    "load_rulebook",
    "reversal_of",
    "rulebook_path",
    "scorecard",
]
