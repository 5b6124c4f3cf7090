"""Clean scraped work-plan text before it is parsed (pure: no I/O).

Documents reach a coordinator as web pages copied into text, OCR output or Word files. The
same plan then shows up in traditional characters with pinyin glosses after every other word
("部門(mén)", "會(huì )"), with full-width digits, or with OCR slips inside numbers ("l2345"). The
parsers downstream want one spelling, so this module fixes exactly these things, in order:

1. invisible characters (BOM, zero-width spaces, control characters) removed; NBSP/ideographic
   spaces made plain; other line breaks (NEL, U+2028, U+2029, VT, FF) made plain newlines;
   each line stripped of leading/trailing spaces;
2. pinyin glosses removed: a parenthesised lowercase latin syllable group that carries at least
   one tone mark, directly after a Han character ("公開(kāi)", "會(huì )"). Real parentheses
   ("(市)", "(中、省)", "(此件公开发布)", "(国办发[2020]17号)", "(PDF)") never match: they
   either hold Han characters or have no tone mark;
3. traditional → simplified characters (OpenCC ``t2s``);
4. full-width digits and latin letters → ASCII; a full-width "．" between digits → ".";
5. ASCII ``, ; : ? !`` next to Chinese text → full-width "，；：？！" (but "10:00", "1,000"
   stay); a parenthesis pair opened in one width and closed in the other gets the opener's width.
   Parentheses are otherwise kept as printed (unit names like "各县(市)区政府" must stay
   recognisable); the parsers accept both widths;
6. OCR slips in numbers (each one is listed in the report so a reviewer can check it):
   - a lone ``l``/``I`` directly before a digit: "l2345" → "12345", "l0.05" → "10.05"
     (we fix the glyph; text lost around it, like a dropped "家减", cannot be restored);
   - a lone ``l``/``I``/``O`` right after "<digit>.": "0.I" → "0.1", "0.l" → "0.1";
   - a lone ``l``/``I`` before a range dash and a digit: "l-2分" → "1-2分";
   - a lone ``l`` between a Han character and a counter word: "每发现l家" → "每发现1家";
   - ``O``/``o`` between digits: "2O20" → "2020".
   "Lone" means no latin letter on either side, so words such as "html5" or "IPv6" stay.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["Normalized", "OcrFix", "describe_changes", "normalize_text", "normalize_with_report"]

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_LETTERS = "a-zü" + _TONED
_PINYIN_RE = re.compile(
    rf"(?<=[{_HAN}])[(（][ \t]*([{_PINYIN_LETTERS}]{{1,7}}(?:[ \t]+[{_PINYIN_LETTERS}]{{1,7}})*)[ \t]*[)）]"
)
# Also control characters (C0 but tab/line breaks, DEL, C1 but NEL): garbage from conversions.
_INVISIBLE_RE = re.compile(
    "[\ufeff\u200b\u200c\u200d\u2060\ufffe\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]"
)
# Line breaks other than \n (NEL, LS, PS, VT, FF): YAML and str.splitlines() break lines there,
# so they become \n here rather than survive inside a title or a unit name.
_OTHER_BREAKS_RE = re.compile("[\x85\u2028\u2029\x0b\x0c]")
_ODD_SPACES_RE = re.compile("[\u00a0\u3000\u2002\u2003\u2009\u202f]")
_FULLWIDTH_ALNUM = {
    **{0xFF10 + i: chr(0x30 + i) for i in range(10)},
    **{0xFF21 + i: chr(0x41 + i) for i in range(26)},
    **{0xFF41 + i: chr(0x61 + i) for i in range(26)},
}
_FW_DOT_RE = re.compile(r"(?<=\d)．(?=\d)")

# OCR patterns: (regex, replacement digit). "Lone": no latin letter before/after the glyph.
_COUNTERS = "家个件次分项条名人户所处"
_OCR_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=\d\.)[lI](?![A-Za-z])"), "1"),
    (re.compile(r"(?<=\d\.)O(?![A-Za-z])"), "0"),
    (re.compile(r"(?<![A-Za-z])[lI](?=\d)"), "1"),
    (re.compile(r"(?<![A-Za-z])[lI](?=[-—~～至到]\d)"), "1"),
    (re.compile(rf"(?<=[{_HAN}])l(?=[{_COUNTERS}])"), "1"),
    (re.compile(r"(?<=\d)[Oo](?=\d)"), "0"),
)

_CJK_CONTEXT = _HAN + "，。；：？！、“”‘’（）《》【】"
_PUNCT_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_ASCII_PUNCT_RE = re.compile(r"[,;:?!]")
_OPEN = {"(": ")", "（": "）"}
_CLOSE_OF_OTHER_WIDTH = {")": "）", "）": ")"}


@dataclass(frozen=True)
class OcrFix:
    """One OCR repair: what was there, what it became, and a little context for the reviewer."""

    before: str
    after: str
    context: str
    position: int = 0  # offset in the normalised text


@dataclass
class Normalized:
    """Normalised text plus what was changed (counts per kind, and each OCR repair)."""

    text: str
    changes: Counter[str] = field(default_factory=Counter)
    ocr_fixes: list[OcrFix] = field(default_factory=list)


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC  # imported lazily: building the converter takes ~0.1 s

    return OpenCC("t2s")


def _strip_pinyin(text: str, changes: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if not any(ch in _TONED for ch in m.group(1)):
            return m.group(0)  # "(de)", "(pdf)": no tone mark, not a gloss we can be sure of
        changes["pinyin_removed"] += 1
        return ""

    return _PINYIN_RE.sub(repl, text)


def _to_simplified(text: str, changes: Counter[str]) -> str:
    out = _t2s().convert(text)
    if out == text:
        return text
    if len(out) == len(text):
        changes["traditional_to_simplified"] += sum(
            1 for a, b in zip(text, out, strict=True) if a != b
        )
    elif out != text:  # length changed (rare phrase conversions): count it once per line
        changes["traditional_to_simplified"] += sum(
            1 for a, b in zip(text.splitlines(), out.splitlines(), strict=False) if a != b
        )
    return out


def _fullwidth_to_ascii(text: str, changes: Counter[str]) -> str:
    n = sum(1 for ch in text if ord(ch) in _FULLWIDTH_ALNUM)
    text = text.translate(_FULLWIDTH_ALNUM)
    text, n_dots = _FW_DOT_RE.subn(".", text)
    if n + n_dots:
        changes["fullwidth_to_ascii"] += n + n_dots
    return text


def _fix_ocr(text: str, changes: Counter[str], fixes: list[OcrFix]) -> str:
    for pattern, digit in _OCR_RULES:
        pieces: list[str] = []
        last = 0
        for m in pattern.finditer(text):
            start = m.start()
            before = _number_around(text, start, m.group(0))
            after = _number_around(text, start, digit)
            context = text[max(0, start - 8) : start] + digit + text[start + 1 : start + 9]
            fixes.append(
                OcrFix(
                    before=before, after=after, context=context.replace("\n", " "), position=start
                )
            )
            changes["ocr_number_fixes"] += 1
            pieces.append(text[last:start])
            pieces.append(digit)
            last = m.end()
        if pieces:
            pieces.append(text[last:])
            text = "".join(pieces)
    return text


def _number_around(text: str, pos: int, glyph: str) -> str:
    """The number-like run containing position ``pos``, with ``glyph`` in that position."""
    numberish = set("0123456789.lIOo-—~～")
    start = pos
    while start > 0 and text[start - 1] in numberish and pos - start < 12:
        start -= 1
    end = pos + 1
    while end < len(text) and text[end] in numberish and end - pos < 12:
        end += 1
    following = text[end] if end < len(text) and text[end] in _COUNTERS else ""
    return text[start:pos] + glyph + text[pos + 1 : end] + following


def _unify_punctuation(text: str, changes: Counter[str]) -> str:
    chars = list(text)
    for m in _ASCII_PUNCT_RE.finditer(text):
        i = m.start()
        prev = text[i - 1] if i > 0 else ""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if prev.isdigit() and nxt.isdigit():
            continue  # 10:00, 1,000
        if ((prev and prev in _CJK_CONTEXT) or _is_han(prev)) or (
            nxt and (_is_han(nxt) or nxt in "“‘《（")
        ):
            chars[i] = _PUNCT_FULL[m.group(0)]
            changes["punctuation_unified"] += 1
    # Mixed-width parenthesis pairs: the closer takes the opener's width.
    stack: list[int] = []
    for i, ch in enumerate(chars):
        if ch in _OPEN:
            stack.append(i)
        elif ch in _CLOSE_OF_OTHER_WIDTH and stack:
            opener = chars[stack.pop()]
            wanted = _OPEN[opener]
            if ch != wanted:
                chars[i] = wanted
                changes["punctuation_unified"] += 1
        elif ch == "\n":
            stack.clear()  # never pair across lines
    return "".join(chars)


def _is_han(ch: str) -> bool:
    return bool(ch) and bool(re.match(f"[{_HAN}]", ch))


def _clean_spaces(text: str, changes: Counter[str]) -> str:
    text, n = _INVISIBLE_RE.subn("", text)
    if n:
        changes["invisible_removed"] += n
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ODD_SPACES_RE.sub(" ", _OTHER_BREAKS_RE.sub("\n", text))
    return "\n".join(line.strip() for line in text.split("\n"))


def normalize_with_report(text: str) -> Normalized:
    """Normalise ``text`` and report what changed (see the module docstring for the steps)."""
    changes: Counter[str] = Counter()
    fixes: list[OcrFix] = []
    text = unicodedata.normalize("NFC", text)
    text = _clean_spaces(text, changes)
    text = _strip_pinyin(text, changes)
    text = _to_simplified(text, changes)
    text = _fullwidth_to_ascii(text, changes)
    text = _unify_punctuation(text, changes)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _fix_ocr(text, changes, fixes)  # last: its positions index the returned text
    return Normalized(text=text, changes=changes, ocr_fixes=fixes)


def normalize_text(text: str) -> str:
    """Normalised text only (see :func:`normalize_with_report`)."""
    return normalize_with_report(text).text


_CHANGE_LABELS = {
    "invisible_removed": "不可见字符",
    "pinyin_removed": "拼音注音",
    "traditional_to_simplified": "繁体字转简体",
    "fullwidth_to_ascii": "全角数字/字母",
    "ocr_number_fixes": "数字中的OCR误识",
    "punctuation_unified": "标点统一",
}


def describe_changes(changes: Counter[str]) -> str:
    """A one-line Chinese summary, e.g. "拼音注音 412 处，繁体字转简体 1830 处"."""
    parts = [
        f"{label} {changes[key]} 处" for key, label in _CHANGE_LABELS.items() if changes.get(key)
    ]
    return "，".join(parts) if parts else "无"
