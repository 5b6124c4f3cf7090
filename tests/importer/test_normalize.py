"""Text normalisation: pinyin glosses, traditional characters, full-width digits, OCR slips."""

from __future__ import annotations

import pytest

from importer.normalize import describe_changes, normalize_text, normalize_with_report

from .conftest import FIXTURES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("市政府各部門(mén)、市直各單位", "市政府各部门、市直各单位"),
        ("各園(景)區管委會(huì ):", "各园(景)区管委会："),
        ("政務(wù)公開(kāi)工作要點(diǎn)", "政务公开工作要点"),
        ("公開（kāi）", "公开"),
        ("朝陽(yáng)市", "朝阳市"),
    ],
)
def test_pinyin_glosses_after_han_characters_are_removed(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "各县(市)区政府",
        "市(中、省)直单位",
        "(此件公开发布)",
        "《通知》(国办发[2020]17号)",
        "上传附件(PDF)",
        "的(de)",  # no tone mark: not a gloss we can be sure of
        "（一）加强政策解读",
    ],
)
def test_real_parentheses_are_kept(text: str) -> None:
    assert normalize_text(text) == text


def test_traditional_characters_become_simplified() -> None:
    assert normalize_text("朝陽市政務公開領導小組") == "朝阳市政务公开领导小组"


def test_simplified_text_is_not_reported_as_converted() -> None:
    report = normalize_with_report("朝阳市政务公开领导小组")
    assert report.changes["traditional_to_simplified"] == 0


def test_fullwidth_digits_and_letters_become_ascii() -> None:
    assert normalize_text("２０２５年６月底前，ＡＢｃ") == "2025年6月底前，ABc"
    assert normalize_text("减０．５分") == "减0.5分"


def test_fullwidth_dot_after_item_number_is_kept() -> None:
    assert normalize_text("3．加强政务公开培训") == "3．加强政务公开培训"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("政府网站与l2345综合服务平台", "政府网站与12345综合服务平台"),
        ("每件扣0.I分", "每件扣0.1分"),
        ("每次减0.l分", "每次减0.1分"),
        ("视情况加l-2分", "视情况加1-2分"),
        ("每发现l家减0.1分", "每发现1家减0.1分"),
        ("2O20年", "2020年"),
        # The glyph is fixed even where text around it was lost ("1家减0.05分" → "l0.05分").
        ("每发现l0.05分", "每发现10.05分"),
    ],
)
def test_ocr_slips_inside_numbers_are_fixed(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("text", ["html5页面", "支持IPv6", "Il2型号", "l号楼"])
def test_latin_words_next_to_digits_are_not_touched(text: str) -> None:
    assert normalize_text(text) == text


def test_each_ocr_fix_is_reported_with_before_after_and_position() -> None:
    report = normalize_with_report("做好政府网站与l2345综合服务平台对接")
    assert [(f.before, f.after) for f in report.ocr_fixes] == [("l2345", "12345")]
    fix = report.ocr_fixes[0]
    assert report.text[fix.position : fix.position + 5] == "12345"
    assert report.changes["ocr_number_fixes"] == 1


def test_ascii_punctuation_in_chinese_text_becomes_fullwidth() -> None:
    assert (
        normalize_text("牵头单位:市政府办公室;责任单位,各县")
        == "牵头单位：市政府办公室；责任单位，各县"
    )


def test_times_and_thousands_keep_ascii_punctuation() -> None:
    assert normalize_text("于10:00前报送1,000份") == "于10:00前报送1,000份"


def test_mixed_width_parenthesis_pair_gets_the_openers_width() -> None:
    assert normalize_text("（牵头单位：市政府办公室)") == "（牵头单位：市政府办公室）"


def test_bom_zero_width_and_ideographic_spaces_are_cleaned() -> None:
    report = normalize_with_report("\ufeff\u3000\u3000一、加强\u200b政策解读\u3000\r\n")
    assert report.text == "一、加强政策解读\n"
    assert report.changes["invisible_removed"] == 2


def test_seed_excerpt_reports_pinyin_and_traditional_counts() -> None:
    raw = (FIXTURES / "chaoyang-2020-excerpt.txt").read_text(encoding="utf-8")
    report = normalize_with_report(raw)
    assert report.changes["pinyin_removed"] > 50
    assert report.changes["traditional_to_simplified"] > 100
    assert "(mén)" not in report.text and "部門" not in report.text
    assert "各县(市)区政府" in report.text
    summary = describe_changes(report.changes)
    assert "拼音注音" in summary and "繁体字转简体" in summary


def test_describe_changes_says_none_when_nothing_changed() -> None:
    assert describe_changes(normalize_with_report("一、加强政策解读").changes) == "无"
