"""A local Prefect server for the demo, ``duban serve`` and the tests.

Measured on this machine (see README): task runs are recorded at ~45/s with the server's default
batch size of 1, the ephemeral server drops task-run records still queued when the process exits,
and a SQLite server answers 503 ("database is locked", retried by the client after ~2 s) when its
background services write often.  So runs go to a real ``prefect server start`` on loopback with
larger, less frequent batch writes, and telemetry off (these machines are offline).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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


@dataclass
class LocalServer:
    api_url: str
    ui_url: str
    home: Path
    process: subprocess.Popen | None  # None when an existing server was reused

    def client_env(self) -> dict[str, str]:
        return {**CLIENT_ENV, "PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home)}

    @contextmanager
    def use(self) -> Iterator[None]:
        """Point this process's Prefect client (and its subprocesses) at the server; the
        previous settings and environment come back afterwards."""
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

        saved = {k: os.environ.get(k) for k in self.client_env()}
        os.environ.update(self.client_env())
        try:
            with temporary_settings(updates={PREFECT_API_URL: self.api_url,
                                             PREFECT_HOME: str(self.home)}):
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


def start_server(home: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 log_file: Path | None = None, timeout: float = 90,
                 extra_env: Mapping[str, str] | None = None) -> LocalServer:
    """Start ``prefect server start`` (SQLite under ``home``) and wait until it is healthy."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    api_url = f"http://{host}:{port}/api"
    ui_url = f"http://{host}:{port}"
    if is_healthy(api_url):
        return LocalServer(api_url, ui_url, home, None)
    env = {**os.environ, **SERVER_ENV, "PREFECT_HOME": str(home),
           "PREFECT_UI_URL": ui_url, "PREFECT_API_URL": api_url, **(extra_env or {})}
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
            return LocalServer(api_url, ui_url, home, proc)
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"prefect server did not become healthy within {timeout:.0f} s")
