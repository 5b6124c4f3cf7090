"""The 通报 a 政务公开办 sends out: a red-head .docx for the file, the same content as HTML for mail.

Pure code: no database, no clock. :func:`reports.collect.tongbao_data` reads the facts into a
:class:`TongbaoData`; :func:`render_docx` and :func:`render_html` only lay it out, from the same
text (:func:`body_sections`, :func:`row_cells`), so the letter and the mail never disagree.

Every figure in the text is computed from the table rows, and every row names the rule, the
obligation, its dates and the escalation that caused it, with its ledger line number — so a unit
can trace each deduction back to the 台账.

Layout follows GB/T 9704-2012 (党政机关公文格式) as far as a generated document sensibly can:
A4, 仿宋_GB2312 三号 body with 28 pt exact line spacing, 方正小标宋简体 title, 黑体 section
headings, a red line under the document number, the detail table as a landscape 附件. Fonts are
set on the east-Asian slot (``w:eastAsia``), with 宋体 as the document default for anything not
set explicitly; a machine without 方正小标宋 still opens the file (Word substitutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from scoring.rules import fmt_points

DEFAULT_RECIPIENTS = "各县(市)区政府，市政府各部门"
COLOUR_ORDER = ("blue", "yellow", "red")
COLOUR_LABELS = {"blue": "蓝色", "yellow": "黄色", "red": "红色"}

FANGSONG = "仿宋_GB2312"
SONGTI = "宋体"  # document default: the fallback for any run without an explicit font
XIAOBIAOSONG = "方正小标宋简体"
HEITI = "黑体"
LATIN = "Times New Roman"
RED = RGBColor(0xE6, 0x00, 0x12)

COLUMNS = ("序号", "单位", "条目", "截止日期", "完成情况", "督办", "扣分", "依据")
_COLUMN_CM = (1.0, 3.0, 5.2, 2.4, 3.8, 3.4, 1.8, 5.1)  # 25.7 cm: landscape A4 less 2 cm margins


def cn_date(d: date) -> str:
    """公文 dates: ``2020年10月9日`` (Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


def period_text(key: str) -> str:
    """An obligation's period key as people say it: ``2020-09`` → ``2020年9月``."""
    if key == "once" or not key:
        return ""
    if key.startswith("event:"):
        return "事件触发"
    parts = key.split("-")
    if len(parts) == 2 and parts[0].isdigit():
        y, p = parts
        if p.isdigit():
            return f"{y}年{int(p)}月"
        if p.startswith("Q") and p[1:] in ("1", "2", "3", "4"):
            return f"{y}年第{'一二三四'[int(p[1:]) - 1]}季度"
        if p in ("H1", "H2"):
            return f"{y}年{'上' if p == 'H1' else '下'}半年"
    return key


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, kw_only=True)
class TongbaoRow:
    """One line of the 附件 table: one ledger line, with what caused it.

    ``amount`` is signed (deductions negative); a discretionary line not yet decided has
    ``amount=None`` and its signed ``pending_range``; a decided one carries the decision's
    amount and ``decision_id`` (the ledger line of the decision).
    """

    ledger_id: int
    unit: str
    item: str  # "6 集中发布…（2020年9月）", or "—" for a finding without an item
    due_date: date | None
    completion: str  # 按时完成（…）/ 逾期完成（…，逾期3个工作日）/ 截至…未完成
    escalation: str  # 红色督办（2020年9月14日，逾期第5个工作日）or "—"
    amount: Decimal | None
    rule_code: str
    rule_text: str  # 「title」：每次减0.1分
    pending_range: tuple[Decimal, Decimal] | None = None
    decision_id: int | None = None

    @property
    def pending(self) -> bool:
        return self.amount is None and self.pending_range is not None

    @property
    def points_text(self) -> str:
        """The 扣分 cell: ``0.1`` for a deduction, ``加0.5`` for a bonus, ``待裁定0.1-2``."""
        if self.amount is not None:
            text = fmt_points(-self.amount) if self.amount <= 0 else f"加{fmt_points(self.amount)}"
            return f"{text}（已裁定）" if self.decision_id is not None else text
        if self.pending_range is not None:
            lo, hi = sorted(abs(x) for x in self.pending_range)
            verb = "" if self.pending_range[0] < 0 else "加"
            return f"待裁定{verb}{fmt_points(lo)}-{fmt_points(hi)}"
        return "—"

    @property
    def basis(self) -> str:
        ref = f"台账第{self.ledger_id}条"
        if self.decision_id is not None:
            ref += f"，第{self.decision_id}条裁定"
        return f"{self.rule_code}{self.rule_text}（{ref}）"


@dataclass(frozen=True, kw_only=True)
class TongbaoFacts:
    """Counters from the record (not from the ledger): obligations due in the period and how
    they stood on ``as_of``; escalation steps (督办) fired in the period, by colour."""

    due: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    escalations: tuple[tuple[str, int], ...] = ()  # (colour, count) in blue, yellow, red order

    def __post_init__(self) -> None:
        if self.on_time + self.late + self.open != self.due:
            raise ValueError(f"on time {self.on_time} + late {self.late} + open {self.open} "
                             f"!= due {self.due}")
        unknown = [c for c, _ in self.escalations if c not in COLOUR_LABELS]
        if unknown:
            raise ValueError(f"unknown escalation colour(s) {unknown}; expected blue/yellow/red")

    def escalated(self, colour: str) -> int:
        return dict(self.escalations).get(colour, 0)

    @property
    def escalations_total(self) -> int:
        return sum(n for _, n in self.escalations)


@dataclass(frozen=True, kw_only=True)
class TongbaoData:
    """Everything a 通报 says. Figures about points are derived from ``rows``."""

    office: str  # 朝阳市政务公开办
    title: str  # 关于2020年9月政务公开工作任务落实情况的通报
    period_label: str  # 2020年9月 / 2020年年中考核
    start: date
    end: date
    as_of: date  # the day the completion status is stated for (截至…)
    issued_on: date  # the date under the signature
    facts: TongbaoFacts
    rows: tuple[TongbaoRow, ...]
    doc_number: str | None = None  # 朝政公办〔2020〕9号
    recipients: str = DEFAULT_RECIPIENTS
    rectify_by: date | None = None  # 请相关单位于…前整改到位
    plan_title: str | None = None
    rulebook_title: str | None = None
    extra_attachments: tuple[str, ...] = ()  # e.g. the 评分表 sent alongside as .xlsx
    top_n: int = 3

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"period starts {self.start} after it ends {self.end}")
        object.__setattr__(self, "rows", tuple(self.rows))

    # -- figures from the rows

    @property
    def deductions(self) -> Decimal:
        """Total points deducted (a positive magnitude)."""
        return -sum((r.amount for r in self.rows if r.amount is not None and r.amount < 0),
                    Decimal(0))

    @property
    def bonuses(self) -> Decimal:
        return sum((r.amount for r in self.rows if r.amount is not None and r.amount > 0),
                   Decimal(0))

    @property
    def pending(self) -> int:
        return sum(1 for r in self.rows if r.pending)

    @property
    def unit_deductions(self) -> tuple[tuple[str, Decimal], ...]:
        """(unit, points deducted) for every unit with a deduction, most first."""
        totals: dict[str, Decimal] = {}
        for r in self.rows:
            if r.amount is not None and r.amount < 0:
                totals[r.unit] = totals.get(r.unit, Decimal(0)) - r.amount
        return tuple(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def top_units(self) -> tuple[tuple[tuple[str, Decimal], ...], bool]:
        """The ``top_n`` units with the most deductions, and whether more tie with the last."""
        ranked = self.unit_deductions
        top = ranked[: self.top_n]
        more = len(ranked) > len(top) and bool(top) and ranked[len(top)][1] == top[-1][1]
        return top, more

    @property
    def doc_number_text(self) -> str:
        """The number as given, or a blank to fill in by hand (〔2020〕　号)."""
        return self.doc_number or f"〔{self.issued_on.year}〕　　号"

    @property
    def table_title(self) -> str:
        return f"{self.period_label}工作任务逾期及扣分明细"

    @property
    def attachments(self) -> tuple[str, ...]:
        main = (self.table_title,) if self.rows else ()
        return main + self.extra_attachments


@dataclass(frozen=True)
class Section:
    heading: str | None
    paragraphs: tuple[str, ...]


# --------------------------------------------------------------------------- the text


def _points_phrase(units: Sequence[tuple[str, Decimal]]) -> str:
    return "、".join(f"{u}（扣{fmt_points(p)}分）" for u, p in units)


def body_sections(data: TongbaoData) -> list[Section]:
    """The letter's text, shared by the .docx and the HTML."""
    f = data.facts
    plan = f"《{data.plan_title}》" if data.plan_title else "年度政务公开工作要点"
    span = f"{cn_date(data.start)}至{cn_date(data.end)}"
    intro = (f"为推动{plan}各项任务落实，{data.office}对{data.period_label}（{span}）"
             f"各单位工作任务完成情况进行了跟踪督办。现将有关情况通报如下：")
    out = [Section(None, (intro,))]

    overall = []
    if f.due:
        overall.append(f"{data.period_label}到期的工作任务共{f.due}项次。截至{cn_date(data.as_of)}，"
                       f"按时完成{f.on_time}项次，逾期完成{f.late}项次，尚未完成{f.open}项次。")
    else:
        overall.append(f"{data.period_label}没有到期的工作任务。")
    if f.escalations_total:
        parts = "、".join(f"{COLOUR_LABELS[c]}督办{f.escalated(c)}次" for c in COLOUR_ORDER)
        overall.append(f"期间共发出督办{f.escalations_total}次，其中{parts}。")
    else:
        overall.append("期间未发出督办。")
    out.append(Section("一、总体情况", tuple(overall)))

    scored = []
    basis = f"依据《{data.rulebook_title}》，" if data.rulebook_title else ""
    units = data.unit_deductions
    if units or data.bonuses or data.pending:
        text = basis
        if units:
            text += (f"{data.period_label}共有{len(units)}个单位被扣分，"
                     f"合计扣{fmt_points(data.deductions)}分")
        else:
            text += f"{data.period_label}无确定扣分"
        if data.bonuses:
            text += f"，加{fmt_points(data.bonuses)}分"
        text += "。"
        if data.pending:
            text += f"另有{data.pending}项视情况扣分待裁定，裁定后计入。"
        scored.append(text)
        top, more = data.top_units
        if top:
            scored.append(f"扣分较多的单位是：{_points_phrase(top)}{'等' if more else ''}。")
        scored.append("逾期事项和扣分明细见附件，每项均列明所依据的评分规则、对应任务、"
                      "截止和完成日期及督办记录，可逐项核对。")
    else:
        scored.append(f"{data.period_label}各单位均按期完成工作任务，无扣分事项。")
    out.append(Section("二、扣分情况", tuple(scored)))

    asks = []
    if data.rows or f.open:
        ask = "请相关单位对照附件逐项核查"
        if data.rectify_by is not None:
            ask += f"，于{cn_date(data.rectify_by)}前整改到位"
        ask += f"，并将整改情况报{data.office}。"
        asks.append(ask)
        asks.append(f"对逾期未完成的任务，{data.office}将继续督办，并纳入年度政务公开工作考核。")
    else:
        asks.append("请各单位继续保持，按时完成各项工作任务。")
    out.append(Section("三、工作要求", tuple(asks)))
    return out


def row_cells(n: int, row: TongbaoRow) -> tuple[str, ...]:
    """One table row as text, in :data:`COLUMNS` order."""
    return (str(n), row.unit, row.item, cn_date(row.due_date) if row.due_date else "—",
            row.completion, row.escalation, row.points_text, row.basis)


# --------------------------------------------------------------------------- .docx


def _east_asia(rpr, name: str) -> None:
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _font(run, east_asia: str, size: float, *, bold: bool = False,
          colour: RGBColor | None = None) -> None:
    run.font.name = LATIN  # w:ascii / w:hAnsi
    run.font.size = Pt(size)
    if bold:
        run.font.bold = True
    if colour is not None:
        run.font.color.rgb = colour
    _east_asia(run._element.get_or_add_rPr(), east_asia)


def _para(doc_or_cell, text: str = "", *, font: str = FANGSONG, size: float = 16,
          align=None, indent: bool = False, bold: bool = False, colour: RGBColor | None = None,
          exact: float | None = 28) -> Paragraph:
    p = doc_or_cell.add_paragraph()
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    if exact is not None:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(exact)
    if indent:
        fmt.first_line_indent = Pt(size * 2)  # two characters
    if align is not None:
        p.alignment = align
    if text:
        _font(p.add_run(text), font, size, bold=bold, colour=colour)
    return p


def _bottom_border(p: Paragraph, colour: str = "E60012", size: int = 12) -> None:
    """A red rule under the paragraph (the line under the document number)."""
    ppr = p._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("val", "single"), ("sz", str(size)), ("space", "6"), ("color", colour)):
        bottom.set(qn(f"w:{k}"), v)
    bdr.append(bottom)
    ppr.insert_element_before(
        bdr, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
        "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
        "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
        "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
        "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr",
        "w:pPrChange")


def _defaults(doc) -> None:
    """宋体 as the document-wide east-Asian fallback; Normal is 仿宋_GB2312 三号, zh-CN."""
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = OxmlElement("w:docDefaults")
        styles.insert(0, defaults)
    rpr_default = defaults.find(qn("w:rPrDefault"))
    if rpr_default is None:
        rpr_default = OxmlElement("w:rPrDefault")
        defaults.insert(0, rpr_default)
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_default.append(rpr)
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), SONGTI)
    # A theme font attribute wins over an explicit one: drop it, or 宋体 would never apply.
    for theme in ("w:eastAsiaTheme", "w:asciiTheme", "w:hAnsiTheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN)
    fonts.set(qn("w:hAnsi"), LATIN)
    lang = rpr.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")

    normal = doc.styles["Normal"]
    normal.font.name = LATIN
    normal.font.size = Pt(16)
    nrpr = normal.element.get_or_add_rPr()
    _east_asia(nrpr, FANGSONG)
    lang = nrpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        nrpr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _page_number_footer(section) -> None:
    """Centred ``— 1 —`` (a PAGE field), as on printed 公文."""
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run("— "), SONGTI, 14)
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    r.append(t)
    field.append(r)
    p._p.append(field)
    _font(p.add_run(" —"), SONGTI, 14)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _cell_text(cell, text: str, *, size: float = 10.5, bold: bool = False,
               font: str = FANGSONG, center: bool = False) -> None:
    p = cell.paragraphs[0]
    p.paragraph_format.space_before = p.paragraph_format.space_after = Pt(0)
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run(text), font, size, bold=bold)


def _detail_table(doc, data: TongbaoData) -> Table:
    table = doc.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, _COLUMN_CM, strict=True):
        column.width = Cm(width)  # w:gridCol, which LibreOffice and WPS go by
    head = table.rows[0]
    _repeat_header(head)
    for cell, name, width in zip(head.cells, COLUMNS, _COLUMN_CM, strict=True):
        cell.width = Cm(width)
        _cell_text(cell, name, bold=True, font=HEITI, center=True)
    for n, row in enumerate(data.rows, start=1):
        cells = table.add_row().cells
        for i, (cell, text, width) in enumerate(zip(cells, row_cells(n, row), _COLUMN_CM,
                                                     strict=True)):
            cell.width = Cm(width)
            _cell_text(cell, text, center=i in (0, 3, 6))
    return table


def render_docx(data: TongbaoData, path: str | Path) -> Path:
    """Write the 通报 as .docx to ``path`` (overwritten) and return the path."""
    path = Path(path)
    doc = Document()
    _defaults(doc)
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.top_margin, sec.bottom_margin = Cm(3.7), Cm(3.5)
    sec.left_margin, sec.right_margin = Cm(2.8), Cm(2.6)
    _page_number_footer(sec)
    # python-docx's template starts with one empty paragraph; write into the body from scratch.
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)

    _para(doc, data.office, font=XIAOBIAOSONG, size=36, align=WD_ALIGN_PARAGRAPH.CENTER,
          colour=RED, exact=None)
    _para(doc, exact=28)
    number = _para(doc, data.doc_number_text, align=WD_ALIGN_PARAGRAPH.CENTER)
    _bottom_border(number)
    _para(doc)
    _para(doc, data.title, font=XIAOBIAOSONG, size=22, align=WD_ALIGN_PARAGRAPH.CENTER,
          exact=None)
    _para(doc)
    _para(doc, f"{data.recipients}：")
    for section in body_sections(data):
        if section.heading:
            _para(doc, section.heading, font=HEITI, indent=True)
        for text in section.paragraphs:
            _para(doc, text, indent=True)
    if data.attachments:
        _para(doc)
        for i, name in enumerate(data.attachments, start=1):
            label = "附件：" if i == 1 else "　　　"
            number_text = f"{i}. " if len(data.attachments) > 1 else ""
            _para(doc, f"{label}{number_text}{name}", indent=True)
    _para(doc)
    _para(doc)
    signature = _para(doc, data.office, align=WD_ALIGN_PARAGRAPH.RIGHT)
    signature.paragraph_format.right_indent = Pt(64)
    dated = _para(doc, cn_date(data.issued_on), align=WD_ALIGN_PARAGRAPH.RIGHT)
    dated.paragraph_format.right_indent = Pt(64)

    if data.rows:
        att = doc.add_section(WD_SECTION.NEW_PAGE)
        att.orientation = WD_ORIENT.LANDSCAPE
        att.page_width, att.page_height = Cm(29.7), Cm(21.0)
        att.top_margin = att.bottom_margin = Cm(2.0)
        att.left_margin = att.right_margin = Cm(2.0)
        _para(doc, "附件" if len(data.attachments) == 1 else "附件1", font=HEITI)
        _para(doc)
        _para(doc, data.table_title, font=XIAOBIAOSONG, size=18,
              align=WD_ALIGN_PARAGRAPH.CENTER, exact=None)
        _para(doc, f"（截至{cn_date(data.as_of)}）", size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
        _detail_table(doc, data)
        total = f"合计扣{fmt_points(data.deductions)}分"
        if data.bonuses:
            total += f"，加{fmt_points(data.bonuses)}分"
        if data.pending:
            total += f"；待裁定{data.pending}项"
        _para(doc, total + "。", size=12, exact=None)

    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


# --------------------------------------------------------------------------- HTML


TEMPLATES = Path(__file__).resolve().parent / "templates"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES), encoding="utf-8"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(cn_date=cn_date, points=fmt_points)
    return env


_ENV: Environment | None = None


def render_html(data: TongbaoData) -> str:
    """The 通报 as a self-contained HTML page for mail (every value escaped)."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    rows = [row_cells(n, r) for n, r in enumerate(data.rows, start=1)]
    return _ENV.get_template("tongbao.html.j2").render(
        data=data, sections=body_sections(data), columns=COLUMNS, rows=rows)


__all__ = ["COLUMNS", "DEFAULT_RECIPIENTS", "Section", "TongbaoData", "TongbaoFacts",
           "TongbaoRow", "body_sections", "cn_date", "period_text", "render_docx",
           "render_html", "row_cells"]
