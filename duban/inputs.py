"""Checks shared by every command that reads a file a person hands to duban.

``duban plan import`` (documents), ``duban plan load`` and every configuration file (YAML),
``duban done --from-xlsx`` (台账) and ``duban calendar import-notice`` (notice text) refuse:

- a file larger than the input limit, before reading it: ``DUBAN_MAX_INPUT_MB`` megabytes
  (default 20; a work plan, a 台账 or a notice is a few hundred kB);
- an Office file (.docx/.xlsx, a zip) that unpacks to more than ten times that (a zip bomb);
- an .xlsx whose formula cells carry no saved result (files written by programs): the
  formula text is never taken as data, and guessing the result is not our job.

Each check returns a Chinese reason (or nothing); the caller wraps it in its own error type,
which names the file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from duban.errors import UserError

__all__ = [
    "DEFAULT_MAX_INPUT_MB",
    "MAX_INPUT_ENV",
    "InputTooLarge",
    "max_input_bytes",
    "read_bounded",
    "size_problem",
    "uncached_formula_cells",
    "uncached_formula_problem",
    "unpacked_size_problem",
]

MAX_INPUT_ENV = "DUBAN_MAX_INPUT_MB"
DEFAULT_MAX_INPUT_MB = 20
UNPACKED_FACTOR = 10
_MB = 1024 * 1024


def max_input_bytes() -> int:
    """The input size limit in bytes (``DUBAN_MAX_INPUT_MB``, default 20 MB)."""
    raw = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_MB * _MB
    try:
        mb = float(raw)
    except ValueError:
        mb = 0.0
    if not mb > 0 or mb == float("inf"):
        raise UserError(f"环境变量 {MAX_INPUT_ENV}={raw!r} 应为正数（单位 MB），例如 20")
    return max(1, int(mb * _MB))


def _mb(n: int) -> str:
    """20971520 → "20 MB", 52428800.5 → "50 MB", 1536 → "2 KB"."""
    if n < _MB:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / _MB:.1f}".removesuffix(".0") + " MB"


def size_problem(path: Path) -> str | None:
    """Why ``path`` is too large to read, or None (also when it cannot be stat'ed: the reader
    reports that with its own words)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    limit = max_input_bytes()
    if size <= limit:
        return None
    return (
        f"文件大小 {_mb(size)}，超过输入文件上限 {_mb(limit)}，没有读取"
        f"（上限可用环境变量 {MAX_INPUT_ENV} 调整，单位 MB）"
    )


class InputTooLarge(Exception):
    """Raised by :func:`read_bounded`; ``reason`` is the Chinese sentence to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_bounded(path: Path) -> bytes:
    """The bytes of ``path``, never more than the limit in memory.

    Refuses by size before opening (the message gives the real size), then reads at most
    limit + 1 bytes, so a device such as /dev/zero or a file that grows meanwhile is refused
    too. Raises :class:`InputTooLarge`, or OSError as ``open`` does.
    """
    problem = size_problem(path)
    if problem:
        raise InputTooLarge(problem)
    limit = max_input_bytes()
    chunks: list[bytes] = []
    total = 0
    with path.open("rb") as f:
        while total <= limit:  # in pieces: read(limit + 1) would allocate the whole limit
            chunk = f.read(min(_MB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise InputTooLarge(
            f"内容超过输入文件上限 {_mb(limit)}，没有读取（上限可用环境变量 {MAX_INPUT_ENV} 调整，"
            "单位 MB）"
        )
    return b"".join(chunks)


def unpacked_size_problem(path: Path) -> str | None:
    """Why an Office file (a zip) would unpack to too much data, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return None  # not a readable zip: the reader says so
    limit = UNPACKED_FACTOR * max_input_bytes()
    if unpacked <= limit:
        return None
    return (
        f"解压后的内容有 {_mb(unpacked)}，超过上限 {_mb(limit)}（输入文件上限的 "
        f"{UNPACKED_FACTOR} 倍），没有读取；这不像正常的 Office 文档"
    )


def uncached_formula_cells(path: Path, values_book: Any, *, limit: int = 5) -> list[str]:
    """Formula cells of the .xlsx at ``path`` that have no saved result, as "表!E2".

    ``values_book`` is the workbook already loaded with ``data_only=True`` (results, not
    formulas). Excel and WPS save each formula's result; files written by programs
    (openpyxl, some exporters) do not, and such a cell would read as empty. A formula whose
    saved result is the empty string keeps its ``str`` type there and is not reported.
    """
    import openpyxl

    found: list[str] = []
    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for ws in formulas.worksheets:
            values = values_book[ws.title]
            for row in ws.iter_rows():
                for cell in row:
                    if getattr(cell, "data_type", None) != "f":
                        continue
                    saved = values.cell(row=cell.row, column=cell.column)
                    if saved.value is None and saved.data_type != "str":
                        found.append(f"{ws.title}!{cell.coordinate}")
                        if len(found) >= limit:
                            return found
    finally:
        formulas.close()
    return found


def uncached_formula_problem(cells: list[str]) -> str | None:
    """The reason to refuse a workbook with formula cells that have no saved result."""
    if not cells:
        return None
    shown = "、".join(cells)
    return (
        f"单元格 {shown}{'等' if len(cells) >= 5 else ''} 是公式，但文件里没有保存公式的计算结果"
        "（程序生成的表格常见），无法知道它的值：请用 Excel 或 WPS 打开该文件、保存后重新导入"
        "（公式文字不会被当作内容导入）"
    )
