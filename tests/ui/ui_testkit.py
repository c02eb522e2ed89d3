"""Helpers for the UI tests: a real ``airflow api-server`` in its own process group, and headless Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT_DIR = PROJECT_DIR / "test-output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_api_server(
    airflow_home: Path, warehouse_url: str, log_file: Path, *, all_admins: bool = True, timeout_s: float = 120
) -> Iterator[str]:
    """``airflow api-server`` with the project's plugins on a free loopback port; yields its base URL.

    It runs in its own session (process group) and the whole group is stopped on exit.
    """
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(all_admins),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "TSA_WAREHOUSE_URL": warehouse_url,
    }
    airflow = Path(sys.executable).with_name("airflow")
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"api-server exited with {proc.returncode}: {log_file.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api-server not up in {timeout_s}s: {log_file.read_text()[-3000:]}")
            time.sleep(1)
        yield base
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the process's whole group, then SIGKILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def chromium(url: str, profile: Path, *extra: str, timeout_s: float = 90) -> subprocess.CompletedProcess:
    """Headless Chromium on one URL (``--dump-dom`` and/or ``--screenshot=FILE`` in ``extra``)."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
        *extra,
        url,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        stop_group(proc, grace_s=5)  # Chromium's helper processes share its group
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
