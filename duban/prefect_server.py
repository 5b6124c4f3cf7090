"""A local Prefect server for the demo, ``duban serve`` and the tests.

Measured on this machine (see README): task runs are recorded at ~45/s with the server's default
batch size of 1, the ephemeral server drops task-run records still queued when the process exits,
and a SQLite server answers 503 ("database is locked", retried by the client after ~2 s) when its
background services write often.  So runs go to a real ``prefect server start`` on loopback with
larger, less frequent batch writes, and telemetry off (these machines are offline).

Access: loopback by default. With ``auth_string`` ("user:password") the server answers 401 to
every API call without HTTP basic credentials (``/api/health`` and ``/api/ready`` stay open, as
Prefect does for probes), and :class:`LocalServer` hands the same string to this process's
Prefect client (``PREFECT_API_AUTH_STRING``). The string is never part of a repr or a log line.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from duban.binding import AUTH_ENV, CLIENT_AUTH_ENV, LOOPBACK, is_unspecified

SERVER_ENV: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "5",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "1000",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "5",
}

CLIENT_ENV: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # a missing PREFECT_API_URL must fail loudly, not start a throwaway server
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def basic_auth_header(auth_string: str) -> dict[str, str]:
    """The ``Authorization`` header Prefect's clients send for ``auth_string``."""
    token = base64.b64encode(auth_string.encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def api_status(api_url: str, *, auth_string: str | None = None, timeout: float = 5.0) -> int:
    """HTTP status of an authenticated API call (``GET /api/admin/version``): 200 when the
    credentials are accepted or the server has none, 401 when they are missing or wrong."""
    headers = basic_auth_header(auth_string) if auth_string else {}
    return httpx.get(f"{api_url.rstrip('/')}/admin/version", headers=headers,
                     timeout=timeout).status_code


def connect_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to ``host`` (0.0.0.0 → loopback)."""
    if is_unspecified(host):
        return "::1" if ":" in host else LOOPBACK
    return host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass
class LocalServer:
    api_url: str
    ui_url: str
    home: Path
    process: subprocess.Popen | None  # None when an existing server was reused
    auth_string: str | None = field(default=None, repr=False)  # "user:password", never shown

    def client_env(self) -> dict[str, str]:
        env = {**CLIENT_ENV, "PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home)}
        if self.auth_string:
            env[CLIENT_AUTH_ENV] = self.auth_string
        return env

    @contextmanager
    def use(self) -> Iterator[None]:
        """Point this process's Prefect client (and its subprocesses) at the server; the
        previous settings and environment come back afterwards."""
        from prefect.settings import (
            PREFECT_API_AUTH_STRING,
            PREFECT_API_URL,
            PREFECT_HOME,
            temporary_settings,
        )

        saved = {k: os.environ.get(k) for k in self.client_env()}
        os.environ.update(self.client_env())
        updates: dict = {PREFECT_API_URL: self.api_url, PREFECT_HOME: str(self.home)}
        if self.auth_string:
            updates[PREFECT_API_AUTH_STRING] = self.auth_string
        try:
            with temporary_settings(updates=updates):
                yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _check_reused(api_url: str, auth_string: str | None) -> None:
    """A server already answering on the port must match the access we asked for: never
    silently reuse an open server when the caller wants one that requires credentials."""
    try:
        anonymous = api_status(api_url)
        with_auth = api_status(api_url, auth_string=auth_string) if auth_string else anonymous
    except httpx.HTTPError as exc:
        raise RuntimeError(f"{api_url} 上已有服务在运行，但无法确认其认证设置："
                           f"{type(exc).__name__}") from exc
    if auth_string and anonymous != 401:
        raise RuntimeError(f"{api_url} 上已有一个不要求认证的 Prefect 服务器在运行：请先停止它，"
                           "或换一个 --port")
    if with_auth == 401:
        raise RuntimeError(f"{api_url} 上已有的 Prefect 服务器要求认证，而给出的认证"
                           f"{'不符' if auth_string else '为空'}（设置 {AUTH_ENV}）")


def start_server(home: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 log_file: Path | None = None, timeout: float = 90,
                 extra_env: Mapping[str, str] | None = None,
                 auth_string: str | None = None, public_url: str | None = None) -> LocalServer:
    """Start ``prefect server start`` (SQLite under ``home``) and wait until it is healthy.

    ``host`` is the bind address (loopback by default; callers decide whether another address
    is allowed, see :mod:`duban.binding`). ``auth_string`` ("user:password") makes the API
    require HTTP basic auth; without it the server has none, whatever the environment says
    (an inherited ``PREFECT_SERVER_API_AUTH_STRING`` is dropped, so server and client always
    agree) unless ``extra_env`` sets it. ``public_url`` (e.g. ``http://duban.example:4200``) is
    where browsers on other machines reach the UI; by default the bind address.
    """
    home.mkdir(parents=True, exist_ok=True)
    extra = dict(extra_env or {})
    auth_string = auth_string or extra.pop(AUTH_ENV, None) or None
    client_host = connect_host(host)
    port = port or free_port(client_host)
    api_url = f"http://{_url_host(client_host)}:{port}/api"
    ui_url = (public_url.rstrip("/") if public_url else
              f"http://{_url_host(socket.getfqdn() if is_unspecified(host) else host)}:{port}")
    if is_healthy(api_url):
        _check_reused(api_url, auth_string)
        return LocalServer(api_url, ui_url, home, None, auth_string)
    env = {k: v for k, v in os.environ.items() if k != AUTH_ENV}
    env.update({**SERVER_ENV, "PREFECT_HOME": str(home), "PREFECT_UI_URL": ui_url,
                "PREFECT_API_URL": api_url, **extra})
    if client_host != host or public_url:
        # The UI runs in the browser: it must call the API at the address the browser used.
        env["PREFECT_UI_API_URL"] = f"{ui_url}/api"
    if auth_string:
        env[AUTH_ENV] = auth_string
        env[CLIENT_AUTH_ENV] = auth_string  # the server's own CLI client (prefect server start)
    env.pop("PREFECT_SERVER_EPHEMERAL_ENABLED", None)
    log = open(log_file or home / "server.log", "ab")  # noqa: SIM115 - lives with the process
    prefect = Path(sys.executable).with_name("prefect")
    proc = subprocess.Popen(
        [str(prefect), "server", "start", "--host", host, "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see "
                               f"{log_file or home / 'server.log'}")
        if is_healthy(api_url, timeout=1):
            return LocalServer(api_url, ui_url, home, proc, auth_string)
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"prefect server did not become healthy within {timeout:.0f} s")
