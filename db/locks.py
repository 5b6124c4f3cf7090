"""Leases for outbox deliverers: several may work side by side, a crashed one frees its rows.

A deliverer holds a lease for as long as it sends.  Rows it claims carry the lease's token
(``outbox_message.claim_token``).  Another deliverer leaves rows alone while their holder is
alive and takes them over the moment it is not — no timeout to wait out after a crash, and no
second copy of a message a live deliverer is still sending.

PostgreSQL (any number of deliverers, on any number of hosts):
    the lease is a session-level advisory lock ``(NAMESPACE, token)`` taken on a connection the
    deliverer keeps open while it works.  ``pg_locks`` lists the tokens alive right now; when a
    process dies its connection closes and the server drops its locks.  Claims themselves use
    ``SELECT … FOR UPDATE SKIP LOCKED``, so two deliverers claiming at the same instant get
    disjoint rows.
SQLite (one machine, one writer):
    one deliverer at a time per database file: an exclusive ``flock`` on ``<db>.deliver.lock``,
    which the kernel releases when the holder dies.  Whoever holds it is the only live
    deliverer, so every row still ``sending`` belongs to a crashed one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

NAMESPACE = 0x64756261  # "duba": the advisory-lock class of deliverer leases
_LIVE_TOKENS = sa.text(
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = :ns AND objsubid = 2 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
).bindparams(ns=NAMESPACE).columns(sa.column("objid", sa.BigInteger))

_MEMORY_LOCK = threading.Lock()  # in-memory SQLite: one process, so a thread lock will do


class LeaseTimeout(RuntimeError):
    """Another deliverer held the SQLite delivery lock for longer than we were willing to wait."""


class LeaseLost(RuntimeError):
    """The connection that holds our lease is gone: others may take our rows, so stop."""


@dataclass(frozen=True)
class DelivererLease:
    token: int
    dialect: str
    holder: Any = field(default=None, repr=False, compare=False)

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless we still hold the lease.  Called before every
        claim and after every message: a deliverer whose lock went away (its session was
        terminated, the server restarted) must not go on sending rows others now own."""
        if self.holder is None:
            return
        try:
            self.holder.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise LeaseLost(f"投递租约已失效（数据库连接中断）：{reason}") from exc

    @property
    def claims_skip_locked(self) -> bool:
        """Whether claims must skip rows other deliverers are claiming right now."""
        return self.dialect == "postgresql"

    def orphaned(self, claim_token: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """SQL: the row's holder (``claim_token``) is no longer a live deliverer."""
        if self.dialect != "postgresql":
            return sa.true()  # we hold the only lease there is
        return sa.or_(claim_token.is_(None),
                      claim_token.not_in(_LIVE_TOKENS.scalar_subquery()))


def live_tokens(engine: Engine) -> set[int]:
    """The tokens of the deliverers working right now (PostgreSQL; empty elsewhere)."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(conn.execute(_LIVE_TOKENS).scalars())


@contextmanager
def deliverer_lease(engine: Engine, *, wait_s: float = 600.0) -> Iterator[DelivererLease]:
    """Hold a deliverer lease for the ``with`` block (see the module docs)."""
    if engine.dialect.name == "postgresql":
        with _advisory_lease(engine) as lease:
            yield lease
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with _MEMORY_LOCK:
            yield DelivererLease(1, engine.dialect.name)
        return
    with _file_lease(Path(f"{Path(database).resolve()}.deliver.lock"), wait_s=wait_s):
        yield DelivererLease(os.getpid(), engine.dialect.name)


@contextmanager
def _advisory_lease(engine: Engine) -> Iterator[DelivererLease]:
    holder = engine.connect()
    try:
        holder.execution_options(isolation_level="AUTOCOMMIT")
        with contextlib.suppress(sa.exc.DBAPIError):  # PostgreSQL ≥ 14: never time the lease out
            holder.execute(sa.text("SELECT set_config('idle_session_timeout', '0', false)"))
        while True:  # a random token; on the (2^-31) chance it is taken, draw another
            token = secrets.randbelow(2**31 - 2) + 1
            if holder.scalar(sa.text("SELECT pg_try_advisory_lock(:ns, :token)"),
                             {"ns": NAMESPACE, "token": token}):
                break
        try:
            yield DelivererLease(token, "postgresql", holder)
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):  # connection gone: lock gone too
                holder.execute(sa.text("SELECT pg_advisory_unlock(:ns, :token)"),
                               {"ns": NAMESPACE, "token": token})
    finally:
        holder.close()


@contextmanager
def _file_lease(path: Path, *, wait_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LeaseTimeout(f"{path}: another deliverer has held the lock for "
                                       f"{wait_s:.0f} s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- named leases
# One holder at a time for a named piece of work (a plan's daily check on one day), visible to
# every process and host that shares the database: a fan-out parent can tell a partition run
# that is working (lease held) from one whose process is gone (Prefect still says Running).

PARTITION_NAMESPACE = 0x64756262  # "dubb"


def _name_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _lock_file(engine: Engine, name: str) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return Path(f"{Path(database).resolve()}.leases") / f"{safe}.lock"


@contextmanager
def named_lease(engine: Engine, name: str, *, wait_s: float = 3600.0) -> Iterator[None]:
    """Hold the lease ``name`` for the ``with`` block, waiting while another process holds it."""
    if engine.dialect.name == "postgresql":
        holder = engine.connect()
        try:
            holder.execution_options(isolation_level="AUTOCOMMIT")
            holder.execute(sa.text("SELECT set_config('lock_timeout', :ms, false)"),
                           {"ms": str(int(wait_s * 1000))})
            try:
                holder.execute(sa.text("SELECT pg_advisory_lock(:ns, :key)"),
                               {"ns": PARTITION_NAMESPACE, "key": _name_key(name)})
            finally:  # the pooled connection must not keep our timeout
                with contextlib.suppress(sa.exc.DBAPIError):
                    holder.execute(sa.text("SELECT set_config('lock_timeout', '0', false)"))
            try:
                yield
            finally:
                with contextlib.suppress(sa.exc.DBAPIError):
                    holder.execute(sa.text("SELECT pg_advisory_unlock(:ns, :key)"),
                                   {"ns": PARTITION_NAMESPACE, "key": _name_key(name)})
        finally:
            holder.close()
        return
    path = _lock_file(engine, name)
    if path is None:
        yield
        return
    with _file_lease(path, wait_s=wait_s):
        yield


def lease_held(engine: Engine, name: str) -> bool:
    """Whether some live process holds the lease ``name`` right now."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return bool(conn.scalar(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :ns AND objid = :key AND objsubid = 2 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"ns": PARTITION_NAMESPACE, "key": _name_key(name)}))
    path = _lock_file(engine, name)
    if path is None or not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


__all__ = ["NAMESPACE", "DelivererLease", "LeaseLost", "LeaseTimeout", "deliverer_lease", "lease_held",
           "live_tokens", "named_lease"]
