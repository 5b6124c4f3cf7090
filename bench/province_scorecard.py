"""Benchmark: the year-end scorecard again, on the year a ``bench/province.py --keep`` run left.

``bench/province.py`` takes over an hour (a province's whole year); the scorecard at its end
takes seconds.  To measure a change to the scorecard without replaying the year, this copies
the kept database (``CREATE DATABASE … TEMPLATE``), takes out what that run's own year-end
scorecard posted (its ledger lines, recorded at its instant, and its run record) — so the copy
is the year exactly as the monthly runs left it — and times ``tasks.runs.run_assessment`` for
the year the way ``bench/province.py`` does, by phase.  The copy is dropped at the end.

Run: ``.venv/bin/python bench/province_scorecard.py --db-name duban_bench_province
--config /tmp/duban-bench-province-XXXX/config [--repeat 3]`` (both printed by the kept run).
The last line: ``RESULT scorecard_s=<best> peak_mb=<process peak>``; target < 10 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from _province_world import PG_HOST, PG_PORT, pg_admin  # noqa: E402
from province import YEAR, _at, peak_mb, phases  # noqa: E402


def fresh_copy(source: str, copy: str) -> str:
    pg_admin(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{copy}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:  # what the kept run's scorecard wrote (on this copy
            # only: the ledger's append-only trigger is skipped for this transaction)
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            gone = conn.execute(sa.text("DELETE FROM ledger_entry WHERE recorded_at = :at"),
                                {"at": _at(date(YEAR, 12, 31), 18)}).rowcount
            conn.execute(sa.text("DELETE FROM run_record WHERE kind = 'assessment'"))
            lines = conn.scalar(sa.text("SELECT count(*) FROM ledger_entry"))
    finally:
        engine.dispose()
    print(f"{copy}: a copy of {source} without its year-end scorecard's {gone} ledger lines "
          f"({lines} left, as the monthly runs left them)", flush=True)
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-name", required=True, help="the database a --keep run left")
    parser.add_argument("--config", type=Path, required=True, help="that run's config folder")
    parser.add_argument("--repeat", type=int, default=1, help="measure on this many fresh copies")
    args = parser.parse_args()

    import tasks.runs as runs
    from tasks.context import build_context

    copy = f"{args.db_name}_scorecard"
    best = None
    try:
        for n in range(1, args.repeat + 1):
            url = fresh_copy(args.db_name, copy)
            ctx = build_context(args.config, url, Path(tempfile.mkdtemp(prefix="duban-sc-")))
            timings: dict[str, float] = {}
            with phases(timings, runs, ("collect_facts", "entries_for", "post_entries",
                                        "ledger_lines", "scorecard", "export_scorecard_xlsx")):
                t = time.perf_counter()
                period = runs.assessment_period(ctx, year=YEAR, code="Y")
                summary = runs.run_assessment(ctx, period=period,
                                              now=_at(date(YEAR, 12, 31), 18))
                seconds = time.perf_counter() - t
            ctx.dispose()
            best = seconds if best is None else min(best, seconds)
            lines = sum(len(s.lines) + len(s.pending) + len(s.reversed) for s in summary.scores)
            print(f"scorecard Y #{n}: {seconds:.2f} s — {len(summary.scores)} units, {lines} "
                  f"lines in the year, {summary.new_entries} newly posted; "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()), flush=True)
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    print(f"{'PASS' if best < 10 else 'FAIL'} scorecard_s {best:.2f} < 10")
    print(f"RESULT scorecard_s={best:.2f} peak_mb={peak_mb():.0f}")
    return 0 if best < 10 else 1


if __name__ == "__main__":
    os.environ.setdefault("DO_NOT_TRACK", "1")
    sys.exit(main())
