"""HTML is autoescaped where it is really produced: the digests, 督办单 and coordinator mails of
the hostile run (relay and file outbox), the 通报 mail of the monthly run and the 通报 .html
files — no tag from a unit name, item title or requirement survives, and the text parts and
the .docx show the names as typed. (Template-level tests: tests/notifications/test_render.py,
tests/reports/test_tongbao.py.)"""

from __future__ import annotations

import email
import email.policy
import re
import zipfile

from tests.security.conftest import EVIL_SCRIPT, World

TAG = re.compile(r"<\s*script\b", re.IGNORECASE)
ESCAPED_TITLE = "&lt;script&gt;alert(1)&lt;/script&gt;集中发布政策文件"
ESCAPED_UNIT = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;公安局"


def _mails(world: World) -> list[tuple[str, email.message.EmailMessage]]:
    raw = [(f"relay#{n}", r.data) for n, r in enumerate(world.smtp.received)]
    raw += [(p.name, p.read_bytes()) for p in world.root.rglob("*.eml")]
    return [(name, email.message_from_bytes(data, policy=email.policy.default))
            for name, data in raw]


def _part(msg: email.message.EmailMessage, subtype: str) -> str:
    body = msg.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else ""


def test_no_mail_of_the_run_carries_a_tag_from_the_data(world):
    mails = _mails(world)
    kinds = {str(m["X-Duban-Kind"]) for _, m in mails}
    assert {"monthly_notice", "coordinator_digest"} <= kinds and len(kinds) >= 3
    with_title = with_unit = 0
    for name, msg in mails:
        html, text = _part(msg, "html"), _part(msg, "plain")
        assert html, name
        assert not TAG.search(html), f"{name} ({msg['X-Duban-Kind']}): a tag from the data"
        if ESCAPED_TITLE in html:
            with_title += 1
            assert "<script>alert(1)</script>集中发布政策文件" in text  # text: as typed
        if ESCAPED_UNIT in html:
            with_unit += 1
    assert with_title and with_unit  # the hostile names really reached the mails


def test_requirement_markup_is_shown_not_interpreted(world):
    htmls = [_part(m, "html") for _, m in _mails(world)]
    assert any("&lt;b&gt;上传&lt;/b&gt;" in h for h in htmls)
    assert not any("<b>上传</b>" in h for h in htmls)


def test_tongbao_html_files_escape_the_unit_name_and_the_docx_keeps_it_literal(world):
    pages = list(world.root.rglob("通报-*.html"))
    assert len(pages) >= 2  # the monthly run's and duban report's
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert ESCAPED_UNIT in html and not TAG.search(html), page.name
    (docx,) = world.reports.glob("通报-*.docx")
    with zipfile.ZipFile(docx) as zf:
        xml = zf.read("word/document.xml").decode("utf-8")
    # In Word it is plain text: XML-escaped once in the file, shown as typed, never markup.
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;公安局" in xml or \
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;公安局" in xml
    assert EVIL_SCRIPT not in xml
