"""The tsabot command as a user runs it: a real process, real HTTP, a real PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tsa_bot.sources.offline import OFFLINE_SITE_DIR

TSABOT = [sys.executable, "-m", "tsa_bot.local.cli"]


def tsabot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TSA_", "TSABOT_", "AIRFLOW"))}
    full_env.update(env or {})
    return subprocess.run([*TSABOT, *args], capture_output=True, text=True, env=full_env, timeout=300)


def test_parse_tsa_prints_ascending_csv():
    result = tsabot("parse-tsa", str(OFFLINE_SITE_DIR / "passenger-volumes.html"))
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert lines[0] == "date,passengers"
    assert lines[1] == "2025-01-01,2317817" and lines[-1] == "2025-12-31,2291360"
    assert len(lines) == 366 and lines[1:] == sorted(lines[1:])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("<html><head><title>Access Denied</title></head></html>", "no table on the page"),
        (
            "<table><tr><th>Date</th><th>Numbers</th></tr><tr><td>1/2/2024</td><td>lots</td></tr></table>",
            "row 1",
        ),
    ],
)
def test_parse_tsa_bad_page_exits_non_zero_with_one_line(tmp_path: Path, content: str, reason: str):
    page = tmp_path / "page.html"
    page.write_text(content)
    result = tsabot("parse-tsa", str(page))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tsabot: error: ")
    assert reason in result.stderr


def test_parse_tsa_missing_file():
    result = tsabot("parse-tsa", "/nonexistent/page.html")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_ingest_offline_into_a_configured_warehouse_prints_a_summary(warehouse_url):
    env = {"TSA_WAREHOUSE_URL": warehouse_url}
    first = tsabot("ingest", "--offline", env=env)
    second = tsabot("ingest", "--offline", env=env)
    assert first.returncode == 0, first.stderr
    assert "Loaded 2,557 rows from 8 pages: 2,557 new, 0 revised, 0 unchanged." in first.stdout
    assert "Newest date: 2025-12-31. Revisions seen: 0 in this run, 0 on record." in first.stdout
    assert "Loaded 365 rows from 1 pages: 0 new, 0 revised, 365 unchanged." in second.stdout, second.stderr
    assert "postgres:***@" in first.stdout or "@127.0.0.1" in first.stdout  # never a password


def test_without_network_the_error_names_the_host_and_the_offline_demo(warehouse_url):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = tsabot(
        "ingest",
        "--base-url",
        f"http://127.0.0.1:{port}",
        env={"TSA_WAREHOUSE_URL": warehouse_url, "TSABOT_HTTP_BACKOFF_S": "0.01"},
    )
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("tsabot: error:")]
    assert len(error_lines) == 1
    assert f"cannot reach 127.0.0.1:{port}" in error_lines[0] and "tsabot ingest --offline" in error_lines[0]


@pytest.mark.slow
def test_embedded_warehouse_is_the_default_and_persists(tmp_path: Path):
    env = {"TSABOT_STATE_DIR": str(tmp_path / "state")}
    try:
        first = tsabot("ingest", "--offline", env=env)
        assert first.returncode == 0, first.stderr
        assert "2,557 new" in first.stdout and "host=" in first.stdout  # a unix-socket, embedded server
        stopped = tsabot("warehouse", "stop", env=env)
        assert stopped.stdout.strip() == "stopped the embedded warehouse"
        # Restarted from the same state folder, the data is still there.
        status = tsabot("warehouse", "status", env=env)
        assert "tsa_daily: 2,557 days, 2019-01-01 to 2025-12-31" in status.stdout, status.stderr
    finally:
        tsabot("warehouse", "stop", env=env)
    assert (tmp_path / "state" / "pgdata" / "PG_VERSION").exists()
    assert not (tmp_path / "state" / "pgdata" / "postmaster.pid").exists()
    url = f"postgresql+psycopg://postgres@/postgres?host={tmp_path / 'state' / 'pgdata'}"
    with pytest.raises(sa.exc.OperationalError):
        sa.create_engine(url).connect()
