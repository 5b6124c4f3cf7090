"""Properties of the plan importer (importer/: readers, normalize, segment, build).

Any text — arbitrary characters, the fixture plans with numbering, unit statements and line
breaks mangled, random 任务分解表 rows — goes through normalisation, segmentation and building
without an exception, and the YAML written for the reviewer reads back (through the project's
own loader) to the same numbers, titles, units and time limits. Bytes are decoded as text or
refused with a DocumentError naming the file; text in a supported encoding decodes exactly.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from duban.yamlio import parse_yaml
from importer.build import build_plan, render_plan_yaml
from importer.normalize import normalize_with_report
from importer.readers import (
    ROLE_LABELS,
    Document,
    DocumentError,
    TableRow,
    decode_text,
    find_task_table,
)
from importer.segment import segment

from .conftest import FIXTURES, UNITS_YAML

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Building a plan runs OpenCC and PyYAML (~30 ms an example): fewer examples there.
BUILD = settings(SETTINGS, max_examples=80)
TODAY = date(2026, 1, 1)
SAMPLES = [
    (FIXTURES / name).read_text(encoding="utf-8")
    for name in ("chaoyang-2020-excerpt.txt", "panjin-2024-excerpt.txt",
                 "qingshan-2023-one-level.txt", "xinyuan-2025-workplan.txt")
]


class _Directory:
    """The fixture unit directory, built once (hypothesis cannot use function fixtures)."""

    _loaded = None

    @classmethod
    def get(cls):
        if cls._loaded is None:
            import tempfile

            from duban.config import load_unit_directory

            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "units.yaml").write_text(UNITS_YAML, encoding="utf-8")
                cls._loaded = load_unit_directory(Path(tmp))
        return cls._loaded


_PIECES = [
    *"一二三四五六七八九十0123456789、.．（）()【】：:；;，,。\n \t①②⑳",
    "牵头单位：", "责任单位：", "（牵头单位：市政府办公室；责任单位：各县区政府）", "（市司法局牵头）",
    "附件2", "一、", "（一）", "1.", "（1）", "2020年9月15日", "工作要点\n", "各地区、各部门要",
    "每季度结束后10个工作日内", "9月15日前", "20年底前", "\x00", "\x07", "\ufffd", "\u2028",
    "\x85", "\r", "\ufeff", "部門(mén)", "l2345", "#", ": ", "- ", "'", '"', "&a", "*a", "!!",
]
piece = st.sampled_from(_PIECES)


@st.composite
def mangled_plan(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 6))):
        a = draw(st.integers(0, len(text)))
        b = min(len(text), a + draw(st.integers(0, 40)))
        text = text[:a] + "".join(draw(st.lists(piece, max_size=5))) + text[b:]
    return text


any_text = st.one_of(mangled_plan(), st.text(), st.lists(piece, max_size=80).map("".join))
cell_text = st.one_of(st.text(max_size=20), st.lists(piece, max_size=8).map("".join))
table_rows = st.lists(
    st.builds(
        lambda cells, n: TableRow(cells=cells, where=f"Sheet1 第{n}行"),
        st.dictionaries(st.sampled_from(sorted(ROLE_LABELS)), cell_text, max_size=6),
        st.integers(2, 99),
    ),
    min_size=1,
    max_size=5,
)


def _round_trip(result) -> None:
    """The reviewer's YAML, read by the loader ``duban plan load`` uses, says the same."""
    written = render_plan_yaml(result, imported_on=TODAY)
    data = parse_yaml(written, "imported.yaml").data
    assert data["year"] == result.plan["year"] and data["title"] == result.plan["title"]
    assert len(data["items"]) == len(result.plan["items"])
    for back, item in zip(data["items"], result.plan["items"], strict=True):
        assert back["number"] == item["number"]
        assert back["title"] == item["title"]
        assert back["lead_units"] == list(item["lead_units"])
        assert back["responsible_units"] == list(item["responsible_units"])
        assert [t["text"] for t in back["time_limits"]] == [t["text"] for t in item["time_limits"]]
        for limit in back["time_limits"]:
            assert ("rule" in limit) != ("unparsed" in limit)


@BUILD
@given(text=any_text, with_units=st.booleans())
def test_any_text_builds_a_plan_whose_yaml_reads_back(text, with_units):
    document = Document(path=Path("plan.txt"), kind="text", text=text, sha256="0" * 64)
    directory = _Directory.get() if with_units else None
    result = build_plan(document, directory=directory, imported_on=TODAY)
    assert result.summary.items == len(result.plan["items"])
    _round_trip(result)


@BUILD
@given(rows=table_rows, titles=st.lists(cell_text, max_size=2))
def test_any_task_table_rows_build_a_plan_whose_yaml_reads_back(rows, titles):
    document = Document(path=Path("表.xlsx"), kind="xlsx", text="\n".join(titles),
                        rows=tuple(rows), sha256="0" * 64, table_titles=tuple(titles))
    result = build_plan(document, directory=_Directory.get(), imported_on=TODAY)
    assert len(result.plan["items"]) == len(rows)
    _round_trip(result)


@SETTINGS
@given(text=any_text)
def test_segmented_items_point_at_lines_of_the_text(text):
    normalized = normalize_with_report(text)
    lines = normalized.text.split("\n")
    for fix in normalized.ocr_fixes:
        assert normalized.text[fix.position] in "01"  # the glyph it repaired, in place
    result = segment(normalized.text)
    for item in result.items:
        assert 0 <= item.first_line <= item.last_line < len(lines)
        assert item.title == item.title.strip()
        assert "\x00" not in item.full_text and "\u2028" not in item.full_text


@BUILD
@given(grid=st.lists(st.lists(cell_text, max_size=7), max_size=20))
def test_any_grid_gives_a_task_table_or_none(grid):
    found = find_task_table(grid, "Sheet1")
    if found is not None:
        rows, _titles = found
        for row in rows:
            assert set(row.cells) <= set(ROLE_LABELS)
            assert row.cells.get("task") or row.cells.get("requirement")


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_any_bytes_decode_as_text_or_are_refused_naming_the_file(data):
    try:
        text, encoding = decode_text(data, "收到的文件.txt")
    except DocumentError as exc:
        assert "收到的文件.txt" in str(exc) and exc.reason
    else:
        assert text.strip() and encoding in {"utf-8", "gb18030", "big5", "utf-16", "utf-16-le",
                                             "utf-16-be"}


@SETTINGS
@given(
    text=st.text(
        st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
                  st.sampled_from(list("0123456789，。、；：（）\n 年月日前"))),
        min_size=20,
        max_size=400,
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
)
def test_chinese_text_in_a_supported_encoding_decodes_exactly(text, encoding):
    assume(text.strip())
    decoded, _ = decode_text(text.encode(encoding), "plan.txt")
    assert decoded == text
