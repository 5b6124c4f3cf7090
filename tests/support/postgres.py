"""PostgreSQL for tests, real and disposable.

Order of preference:

1. the server on 127.0.0.1:5432 (trust auth, user ``postgres``) — or ``$DUBAN_TEST_PG_ADMIN_URL``;
2. a throwaway cluster started from the installed binaries (``/usr/lib/postgresql/*/bin``, or
   ``$DUBAN_TEST_PG_BINDIR``; ``DUBAN_TEST_PG_BINDIR=none`` disables this step) in a
   temp dir, on a free loopback port, stopped and deleted at the end. ``initdb`` refuses to run
   as root, so as root the cluster belongs to the ``postgres`` system user (else ``nobody``) and
   runs through ``runuser``. ``DUBAN_TEST_PG_THROWAWAY=1`` forces this path;
3. neither: :class:`PostgresUnavailable`, which the fixtures turn into a loud skip.

Every database handed out is uniquely named ``duban_test_<pid>_<random>_<n>`` and dropped when
the test session ends (databases left behind by killed runs are dropped on the next start).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENV_ADMIN_URL = "DUBAN_TEST_PG_ADMIN_URL"
ENV_FORCE_THROWAWAY = "DUBAN_TEST_PG_THROWAWAY"
ENV_BINDIR = "DUBAN_TEST_PG_BINDIR"  # a PostgreSQL bin dir to use, or "none" for no throwaway
DB_PREFIX = "duban_test_"
_STALE_NAME = re.compile(rf"^{DB_PREFIX}(\d+)_[0-9a-f]+_")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server answers and none can be started here."""


class PostgresUnavailableWarning(UserWarning):
    """Shown in the pytest warnings summary when PostgreSQL tests were skipped."""


def server_answers(admin_url: str, *, timeout: int = 2) -> bool:
    try:
        with psycopg.connect(admin_url, connect_timeout=timeout, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bindir() -> Path | None:
    """The newest installed PostgreSQL with both ``initdb`` and ``pg_ctl``
    (``$DUBAN_TEST_PG_BINDIR`` picks one explicitly; ``none`` disables the fallback)."""
    chosen = os.environ.get(ENV_BINDIR, "").strip()
    if chosen.lower() == "none":
        return None
    if chosen:
        bindir = Path(chosen)
        return bindir if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() else None
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root but neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class ThrowawayCluster:
    """A private PostgreSQL cluster in a temp dir; :meth:`stop` removes every trace of it."""

    root: Path
    bindir: Path
    port: int
    run_as: str | None
    stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def restart(self, timeout: int = 60) -> None:
        """Stop the server at once (open connections are cut) and start it again."""
        _run_pg([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                 str(self.log_file), "-m", "immediate", "-w", "-t", str(timeout), "restart"],
                self.run_as, timeout=timeout + 10)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                _run_pg(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                    self.run_as,
                    timeout=30,
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _run_pg(args: list[str], run_as: str | None, *, timeout: float) -> subprocess.CompletedProcess:
    command = ["runuser", "-u", run_as, "--", *args] if run_as else args
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        cwd="/",
    )


def start_throwaway_cluster(bindir: Path | None = None, *, timeout: int = 60) -> ThrowawayCluster:
    """initdb + pg_ctl start in a fresh temp dir, listening on 127.0.0.1:<free port> only."""
    bindir = bindir or find_pg_bindir()
    if bindir is None:
        raise PostgresUnavailable("no initdb/pg_ctl found under /usr/lib/postgresql/*/bin")
    run_as = _unprivileged_user() if os.geteuid() == 0 else None
    if run_as and shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root but `runuser` is not installed")
    root = Path(tempfile.mkdtemp(prefix="duban-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = ThrowawayCluster(root=root, bindir=bindir, port=0, run_as=run_as)
    try:
        _run_pg(
            [
                str(bindir / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            run_as,
            timeout=timeout,
        )
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probing and binding
            cluster.port = _free_port()
            server_options = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run_pg(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(cluster.data_dir),
                        "-l",
                        str(cluster.log_file),
                        "-w",
                        "-t",
                        str(timeout),
                        "-o",
                        server_options,
                        "start",
                    ],
                    run_as,
                    timeout=timeout + 10,
                )
                return cluster
            except subprocess.CalledProcessError as exc:
                last_error = (exc.stderr or exc.stdout or "").strip()
        raise PostgresUnavailable(f"throwaway PostgreSQL did not start: {last_error}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        log = (
            cluster.log_file.read_text(errors="replace")[-2000:]
            if cluster.log_file.exists()
            else ""
        )
        detail = getattr(exc, "stderr", "") or ""
        cluster.stop()
        raise PostgresUnavailable(
            f"throwaway PostgreSQL failed ({exc}): {detail.strip()} {log.strip()}".strip()
        ) from exc
    except BaseException:
        cluster.stop()
        raise


def _sqlalchemy_url(admin_url: str, database: str) -> str:
    base = admin_url.rsplit("/", 1)[0]
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


@dataclass
class PostgresDatabases:
    """Fresh databases on one server for one test session; :meth:`close` drops them all."""

    admin_url: str
    cluster: ThrowawayCluster | None = None
    prefix: str = field(default_factory=lambda: f"{DB_PREFIX}{os.getpid()}_{secrets.token_hex(3)}_")
    created: list[str] = field(default_factory=list)
    _counter: int = 0

    @property
    def source(self) -> str:
        return "throwaway cluster" if self.cluster else "local server"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5)

    def create(self, *, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        self._counter += 1
        name = f"{self.prefix}{self._counter}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with self._admin() as conn:
            conn.execute(statement)
        self.created.append(name)
        return _sqlalchemy_url(self.admin_url, name)

    def drop(self, url_or_name: str) -> None:
        name = url_or_name.rsplit("/", 1)[-1]
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)

    def drop_stale(self) -> list[str]:
        """Drop test databases whose creating process is gone (killed earlier runs)."""
        dropped: list[str] = []
        with self._admin() as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", (DB_PREFIX + "%",)
                )
            ]
        for name in names:
            match = _STALE_NAME.match(name)
            if match is None or _pid_alive(int(match.group(1))):
                continue
            with contextlib.suppress(psycopg.Error):
                self.drop(name)
                dropped.append(name)
        return dropped

    def close(self) -> None:
        try:
            for name in list(self.created):
                with contextlib.suppress(psycopg.Error):
                    self.drop(name)
        finally:
            if self.cluster is not None:
                self.cluster.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_postgres() -> PostgresDatabases:
    """The local server if it answers (unless forced otherwise), else a throwaway cluster."""
    admin_url = os.environ.get(ENV_ADMIN_URL, "").strip() or LOCAL_ADMIN_URL
    force_throwaway = os.environ.get(ENV_FORCE_THROWAWAY, "").strip() in ("1", "true", "yes")
    if not force_throwaway and server_answers(admin_url):
        databases = PostgresDatabases(admin_url)
        databases.drop_stale()
        return databases
    bindir = find_pg_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            f"no PostgreSQL answers at {admin_url} and no initdb/pg_ctl is installed "
            "(/usr/lib/postgresql/*/bin) to start a throwaway cluster"
        )
    cluster = start_throwaway_cluster(bindir)
    return PostgresDatabases(cluster.admin_url, cluster=cluster)


def warn_unavailable(reason: str) -> None:
    warnings.warn(PostgresUnavailableWarning(f"PostgreSQL tests SKIPPED — {reason}"), stacklevel=2)
