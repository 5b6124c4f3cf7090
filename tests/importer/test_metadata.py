"""Plan metadata: dates in their printed forms, signature/issuer, title and year."""

from __future__ import annotations

from datetime import date

import pytest

from importer.metadata import extract_metadata, parse_date
from importer.normalize import normalize_text
from importer.segment import segment

from .conftest import FIXTURES


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2020年8月25日", date(2020, 8, 25)),
        ("2020 年 8 月 25 日", date(2020, 8, 25)),
        ("二〇二〇年八月二十五日", date(2020, 8, 25)),
        ("二〇二五年三月十日", date(2025, 3, 10)),
        ("2024-07-22", date(2024, 7, 22)),
        ("2024.7.22", date(2024, 7, 22)),
        ("2024722", date(2024, 7, 22)),  # scraped: 年月日 lost, one valid reading only
        ("2024111", None),  # 1月11日 or 11月1日: ambiguous, not read
        ("2020年2月30日", None),
        ("2020年度", None),
        ("2020年8月25日前完成", None),
    ],
)
def test_parse_date_reads_only_whole_date_lines(line: str, expected: date | None) -> None:
    assert parse_date(line) == expected


def _meta(name: str):
    text = normalize_text((FIXTURES / name).read_text(encoding="utf-8"))
    segmented = segment(text)
    return extract_metadata(text, segmented.title, segmented.title_line)


def test_chaoyang_metadata_from_the_cover_letter() -> None:
    meta = _meta("chaoyang-2020-excerpt.txt")
    assert meta.title == "朝阳市2020年政务公开工作要点"  # the 《…》 name carries the city
    assert meta.year == 2020
    assert meta.issuer == "朝阳市政务公开领导小组"
    assert meta.issued == date(2020, 8, 25)
    assert meta.notes == []


def test_panjin_signature_disagreeing_with_page_label_is_noted() -> None:
    meta = _meta("panjin-2024-excerpt.txt")
    assert meta.year == 2024
    assert meta.issued == date(2024, 7, 22)
    assert meta.issuer == "政府办公政务公办公室"  # the (garbled) signature line, as printed
    assert any("盘锦市政府" in note for note in meta.notes)


def test_signature_after_the_items_is_used_when_none_precedes_the_title() -> None:
    meta = _meta("xinyuan-2025-workplan.txt")
    assert (meta.issuer, meta.issued) == ("新源市人民政府办公室", date(2025, 3, 10))


def test_year_falls_back_to_the_document_date_with_a_note() -> None:
    text = "某市政务公开工作要点\n一、做好公开\n某市人民政府办公室\n2023年3月1日"
    segmented = segment(text)
    meta = extract_metadata(text, segmented.title, segmented.title_line)
    assert meta.year == 2023
    assert any("发文日期" in note for note in meta.notes)
