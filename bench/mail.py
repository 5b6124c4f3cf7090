"""Benchmark: 1,000 digest mails (20-row table + .xlsx each) over STARTTLS + AUTH.

One run, one local aiosmtpd server (a separate process, so it has its own core) with a
self-signed certificate from trustme that the client verifies through ``cafile``:

* duban — render (Jinja2) + .xlsx (openpyxl) + MIME (EmailMessage) for every contact, then
  ``Deliverer`` over ``SmtpTransport``: one connection per batch (one TLS handshake, one AUTH);
* naive — the same render + .xlsx, then ``yag.send()`` per mail with yagmail's own builder
  (a new connection, TLS handshake and AUTH per mail, no QUIT).

Afterwards every message the server stored is parsed and checked (duban: Message-ID, To,
subject, attachment bytes). Last line (machine-readable)::

    RESULT duban_mails_per_s=<x> naive_mails_per_s=<y> ratio=<r> delivered=<n>

Run: ``.venv/bin/python bench/mail.py [--mails 1000] [--naive-mails 1000] [--rows 20]``.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import multiprocessing as mp
import socket
import ssl
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

USER, PASSWORD = "bench-user", "bench-password"
FROM = "noreply@duban.example.gov.cn"
NOW = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- server process


def _server_main(conn, port: int, certfile: str, keyfile: str, store: str) -> None:
    """aiosmtpd STARTTLS + AUTH; stores raw messages per phase; answers control commands."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # "login_data is deprecated" per AUTH
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    counters = {"connections": 0, "ehlo": 0, "auth": 0, "quit": 0, "messages": 0}
    state = {"phase": "warmup"}
    lock = threading.Lock()

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
            counters["ehlo"] += 1
            session.host_name = hostname
            return responses

        async def handle_QUIT(self, server, session, envelope):  # noqa: N802
            counters["quit"] += 1
            return "221 Bye"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with lock:
                counters["messages"] += 1
                n = counters["messages"]
            path = Path(store) / state["phase"] / f"{n:05d}.eml"
            rcpt = ",".join(envelope.rcpt_tos).encode()
            path.write_bytes(b"X-Bench-Rcpt: " + rcpt + b"\r\n" + envelope.original_content)
            return "250 2.0.0 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USER, PASSWORD)
        if ok:
            counters["auth"] += 1
        return AuthResult(success=ok, handled=False)

    class CountingSMTP(SMTP):
        def connection_made(self, transport):
            if self._original_transport is None and self.transport is None:
                counters["connections"] += 1
            super().connection_made(transport)

    class Ctl(Controller):
        def factory(self):
            return CountingSMTP(self.handler, **self.SMTP_kwargs)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    controller = Ctl(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
        data_size_limit=0,
    )
    controller.start()
    cpu_start = time.process_time()
    conn.send("ready")
    while True:
        cmd, arg = conn.recv()
        if cmd == "phase":
            state["phase"] = arg
            (Path(store) / arg).mkdir(parents=True, exist_ok=True)
            for k in counters:
                counters[k] = 0
            cpu_start = time.process_time()
            conn.send("ok")
        elif cmd == "stats":
            conn.send({**counters, "cpu_s": round(time.process_time() - cpu_start, 2)})
        elif cmd == "stop":
            controller.stop()
            conn.send("stopped")
            return


# --------------------------------------------------------------------------- workload


def make_contexts(count: int, rows: int):
    from notifications.render import DigestContext, DigestRow

    base = date(2026, 11, 25)
    contexts = []
    for i in range(count):
        contexts.append(
            DigestContext(
                recipient_name=f"联系人{i:04d}",
                unit_name=f"市直单位{i % 97:02d}办公室",
                generated_at=NOW,
                rows=tuple(
                    DigestRow(
                        item=f"第{j + 1}项：关于推进{i}号重点任务落实情况的报送",
                        requirement="形成书面材料，经单位主要负责同志签字后报市政府督查室",
                        due_date=base + timedelta(days=(j % 9) - 4),
                        working_days_left=(j % 9) - 4,
                    )
                    for j in range(rows)
                ),
            )
        )
    return contexts


def address(i: int) -> str:
    return f"contact{i:04d}@units.example.gov.cn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_duban(contexts, port: int, cafile: str) -> tuple[float, float, list, dict]:
    import os

    from notifications.delivery import Deliverer
    from notifications.mail import MailSettings, SmtpTransport
    from notifications.models import OutgoingMessage, Recipient, make_message_id
    from notifications.render import get_renderer

    os.environ["DUBAN_BENCH_SMTP_PASSWORD"] = PASSWORD
    settings = MailSettings(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username=USER,
        password_env="DUBAN_BENCH_SMTP_PASSWORD",
        from_address=FROM,
        cafile=Path(cafile),
        timeout=30,
    )
    renderer = get_renderer()
    started = time.perf_counter()
    messages = []
    for i, ctx in enumerate(contexts):
        rendered = renderer.render_digest(ctx, attach_xlsx=True)
        messages.append(
            OutgoingMessage.from_rendered(
                rendered,
                message_id=make_message_id(f"bench.{i}", "duban.example.gov.cn"),
                recipient=Recipient(name=ctx.recipient_name, email=address(i)),
            )
        )
    built = time.perf_counter()
    results = Deliverer(SmtpTransport(settings), batch_size=len(messages)).deliver(messages)
    elapsed = time.perf_counter() - started
    expected = {
        f"<{m.message_id}>": (m, hashlib.sha256(m.attachments[0].content).hexdigest())
        for m in messages
    }
    return elapsed, built - started, results, expected


def run_naive(contexts, port: int, cafile: str, workdir: Path) -> float:
    import yagmail

    from notifications.render import get_renderer
    from notifications.xlsx import digest_attachment

    renderer = get_renderer()
    ctx_tls = ssl.create_default_context(cafile=cafile)
    yag = yagmail.SMTP(
        user=FROM,
        password=PASSWORD,
        host="127.0.0.1",
        port=port,
        smtp_ssl=False,
        smtp_starttls={"context": ctx_tls},
        soft_email_validation=False,
        timeout=30,
    )
    yag.set_logging(None)
    yag.user = USER  # AUTH name (yagmail would add @gmail.com); MAIL FROM is the same field
    started = time.perf_counter()
    for i, ctx in enumerate(contexts):
        rendered = renderer.render_digest(ctx)
        att = digest_attachment(ctx)
        path = workdir / f"{i:05d}" / att.filename
        path.parent.mkdir()
        path.write_bytes(att.content)
        ok = yag.send(
            to=address(i),
            subject=rendered.subject,
            contents=[rendered.html],
            attachments=[str(path)],
        )
        if ok is False:
            raise RuntimeError(f"naive send {i} failed")
    elapsed = time.perf_counter() - started
    yag.close()
    return elapsed


# --------------------------------------------------------------------------- checks


def check_duban(store: Path, expected: dict) -> int:
    seen: set[str] = set()
    for eml in sorted(store.glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        mid = msg["Message-ID"]
        assert mid in expected, f"unexpected Message-ID {mid}"
        assert mid not in seen, f"duplicate {mid}"
        seen.add(mid)
        sent, digest = expected[mid]
        assert msg["X-Bench-Rcpt"] == sent.recipient_address
        assert msg["To"].addresses[0].addr_spec == sent.recipient_address
        assert msg["To"].addresses[0].display_name == sent.recipient_name
        assert msg["Subject"] == sent.subject
        assert msg.get_body(preferencelist=("plain",)).get_content().count("事项：") == 20
        (att,) = msg.iter_attachments()
        assert att.get_filename() == sent.attachments[0].filename
        assert hashlib.sha256(att.get_content()).hexdigest() == digest
    return len(seen)


def check_naive(store: Path, count: int) -> int:
    n = 0
    for eml in sorted(store.glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert msg["X-Bench-Rcpt"].endswith("@units.example.gov.cn")
        assert any(True for _ in msg.iter_attachments())
        n += 1
    assert n == count, f"naive: server stored {n}, expected {count}"
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--naive-mails", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()

    import trustme

    with tempfile.TemporaryDirectory(prefix="duban-bench-mail-") as tmp:
        tmpdir = Path(tmp)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cafile, certfile, keyfile = tmpdir / "ca.pem", tmpdir / "cert.pem", tmpdir / "key.pem"
        ca.cert_pem.write_to_path(str(cafile))
        cert.cert_chain_pems[0].write_to_path(str(certfile))
        cert.private_key_pem.write_to_path(str(keyfile))
        store = tmpdir / "store"
        port = free_port()

        parent, child = mp.get_context("spawn").Pipe()
        server = mp.get_context("spawn").Process(
            target=_server_main,
            args=(child, port, str(certfile), str(keyfile), str(store)),
            daemon=True,
        )
        server.start()
        try:
            if not parent.poll(60):
                raise RuntimeError("bench SMTP server did not start")
            assert parent.recv() == "ready"

            def phase(name: str) -> None:
                parent.send(("phase", name))
                assert parent.recv() == "ok"

            def stats() -> dict:
                parent.send(("stats", None))
                return parent.recv()

            contexts = make_contexts(args.mails, args.rows)
            # Warm-up: compile templates, import openpyxl/email modules, first TLS handshake.
            phase("warmup")
            run_duban(make_contexts(5, args.rows), port, str(cafile))

            phase("duban")
            d_elapsed, d_build, results, expected = run_duban(contexts, port, str(cafile))
            time.sleep(0.2)
            d_stats = stats()
            delivered = sum(r.delivered for r in results)

            naive_n = min(args.naive_mails, args.mails)
            phase("naive")
            workdir = tmpdir / "naive-xlsx"
            workdir.mkdir()
            n_elapsed = run_naive(contexts[:naive_n], port, str(cafile), workdir)
            time.sleep(0.2)
            n_stats = stats()

            parent.send(("stop", None))
            parent.recv()
        finally:
            server.join(10)
            if server.is_alive():
                server.kill()

        checked = check_duban(store / "duban", expected)
        naive_checked = check_naive(store / "naive", naive_n)

    d_rate = args.mails / d_elapsed
    n_rate = naive_n / n_elapsed
    print(f"mails: {args.mails} digests x {args.rows} rows, each with an .xlsx attachment")
    print(
        f"duban : {d_elapsed:7.2f} s  {d_rate:7.1f} mails/s  server: connections={d_stats['connections']} "
        f"ehlo={d_stats['ehlo']} auth={d_stats['auth']} quit={d_stats['quit']} stored={d_stats['messages']} "
        f"server_cpu={d_stats['cpu_s']}s "
        f"checked={checked}"
    )
    subset = "" if naive_n == args.mails else f" (timed on a {naive_n}-mail subset)"
    print(
        f"naive : {n_elapsed:7.2f} s  {n_rate:7.1f} mails/s  server: connections={n_stats['connections']} "
        f"ehlo={n_stats['ehlo']} auth={n_stats['auth']} quit={n_stats['quit']} stored={n_stats['messages']} "
        f"server_cpu={n_stats['cpu_s']}s "
        f"checked={naive_checked}{subset}"
    )
    print(
        f"duban split: render+xlsx {d_build:.2f} s, MIME+SMTP {d_elapsed - d_build:.2f} s "
        f"(the server's CPU time is spent in lock-step with the client: SMTP waits per mail)"
    )
    print(f"ratio : {d_rate / n_rate:.2f}x")
    print(
        f"RESULT duban_mails_per_s={d_rate:.1f} naive_mails_per_s={n_rate:.1f} "
        f"ratio={d_rate / n_rate:.2f} delivered={delivered}"
    )
    ok = delivered == args.mails == checked == d_stats["messages"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
