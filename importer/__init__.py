"""Plan importer: the documents a coordinator receives → a plan YAML for a person to review.

Pipeline (each step usable on its own):

- :func:`importer.readers.read_document` — .txt (UTF-8/GB18030), .docx, .xlsx/.xls 任务分解表;
- :func:`importer.normalize.normalize_with_report` — pinyin glosses, traditional characters,
  full-width digits, OCR slips in numbers, punctuation;
- :func:`importer.segment.segment` — 工作要点 text → items with units;
- :func:`importer.build.build_plan` / :func:`importer.build.render_plan_yaml` — the plan dict in
  the CONTRACTS.md format, review notes, and the YAML text.

``duban plan import`` (``duban/commands/plan_import.py``) wires them together.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from importer.build import ImportResult, ImportSummary, build_plan, render_plan_yaml
from importer.readers import Document, DocumentError, read_document

__all__ = [
    "Document",
    "DocumentError",
    "ImportResult",
    "ImportSummary",
    "build_plan",
    "import_document",
    "read_document",
    "render_plan_yaml",
]


def import_document(
    path: str | Path,
    *,
    imported_on: date,
    year: int | None = None,
    issuer: str | None = None,
    directory: Any = None,
) -> tuple[ImportResult, str]:
    """Read ``path`` and return the import result and its YAML text (nothing is written)."""
    result = build_plan(
        read_document(path), year=year, issuer=issuer, directory=directory, imported_on=imported_on
    )
    return result, render_plan_yaml(result, imported_on=imported_on)
