"""Bad input on the command line gives one line and exit code 2, never a traceback (issue 13's attacks).

In-process (``tsa_bot.local.cli.main``) for speed; test_cli.py runs the command as a real process.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cli_testkit import assert_one_line_error, clean_env, run  # noqa: F401 - clean_env is a fixture

SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "tsa_daily_2019_2025.csv"


@pytest.mark.parametrize("base_url", ["not-a-url", "file:///etc", "http://", "ftp://example.com"])
def test_ingest_refuses_a_base_url_that_is_not_http(capsys, monkeypatch, warehouse_url, base_url):
    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    code, out, err = run(capsys, "ingest", "--base-url", base_url)
    assert_one_line_error(code, err, "--base-url", "http")
    assert out == ""


def test_a_bad_tsa_base_url_setting_is_one_line(capsys, monkeypatch, warehouse_url):
    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("TSABOT_TSA_BASE_URL", "file:///etc")
    code, _, err = run(capsys, "ingest")
    assert_one_line_error(code, err, "TSABOT_TSA_BASE_URL")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TSABOT_HTTP_ATTEMPTS", "abc"),
        ("TSABOT_HTTP_ATTEMPTS", "0"),
        ("TSABOT_HTTP_TIMEOUT_S", "-1"),
        ("TSABOT_HTTP_MAX_PAGE_BYTES", "lots"),
        ("TSABOT_OFFLINE", "perhaps"),
        ("TSABOT_FORECAST_POOL", "maybe"),
        ("TSABOT_STATE_DIR", "/etc/hostname"),
        ("TSABOT_STATE_DIR", "/etc/hostname/state"),
    ],
)
def test_an_unreadable_setting_names_the_variable(capsys, monkeypatch, warehouse_url, name, value):
    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv(name, value)
    code, _, err = run(capsys, "ingest", "--offline")
    assert_one_line_error(code, err, name)


@pytest.mark.parametrize(
    "url", ["::garbage::", "postgresql://u:s3cret@host:notaport/db", "postgresql://u:s3cret@[::1/db"]
)
def test_an_unparseable_warehouse_url_is_one_line_without_the_password(capsys, monkeypatch, url):
    monkeypatch.setenv("TSA_WAREHOUSE_URL", url)
    code, out, err = run(capsys, "warehouse", "status")
    assert_one_line_error(code, err, "TSA_WAREHOUSE_URL")
    assert "s3cret" not in out + err


def test_an_unparseable_warehouse_url_option_is_one_line(capsys):
    code, _, err = run(capsys, "ingest", "--offline", "--warehouse-url", "postgresql://u@h:port/db")
    assert_one_line_error(code, err, "--warehouse-url")


@pytest.mark.parametrize("how", ["TSA_WAREHOUSE_URL", "TSABOT_WAREHOUSE_URL", "--warehouse-url"])
def test_an_empty_warehouse_url_is_an_error_not_the_embedded_warehouse(capsys, monkeypatch, tmp_path, how):
    from tsa_bot.warehouse.engine import stop_embedded

    args = ["warehouse", "status"]
    if how.startswith("--"):
        args += [how, ""]
    else:
        monkeypatch.setenv(how, "")
    try:
        code, _, err = run(capsys, *args)
    finally:
        stop_embedded(tmp_path / "state")  # today's code silently started one here
    assert_one_line_error(code, err, how, "empty")
    assert not (tmp_path / "state" / "pgdata").exists()


@pytest.mark.timeout(60)
def test_backtest_refuses_a_directory_as_json_before_computing(capsys, tmp_path):
    if not SHARED_CSV.exists():
        pytest.skip("../shared/data is not beside the project")
    began = time.monotonic()
    code, out, err = run(
        capsys,
        "backtest", "--data", str(SHARED_CSV), "--start", "2025-01-06", "--end", "2025-01-06",
        "--json", str(tmp_path), "--workers", "1",
    )  # fmt: skip
    assert_one_line_error(code, err, "--json", "is a directory")
    assert time.monotonic() - began < 10 and out == ""


@pytest.mark.timeout(60)
def test_backtest_refuses_a_plot_in_a_missing_folder_before_computing(capsys, tmp_path):
    if not SHARED_CSV.exists():
        pytest.skip("../shared/data is not beside the project")
    began = time.monotonic()
    code, out, err = run(
        capsys,
        "backtest", "--data", str(SHARED_CSV), "--start", "2025-01-06", "--end", "2025-01-06",
        "--json", str(tmp_path / "out.json"), "--plot", str(tmp_path / "missing" / "chart.png"),
        "--workers", "1",
    )  # fmt: skip
    assert_one_line_error(code, err, "--plot", "does not exist")
    assert time.monotonic() - began < 10 and out == ""
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("count", ["1.006", "1.5", "0", "-3", "1e9", "NaN", "Infinity", "1000001"])
def test_kalshi_place_refuses_a_count_that_is_not_a_whole_number_in_range(capsys, count):
    code, out, err = run(capsys, "kalshi", "place", "KXTSAW-26FEB15-A2.30", "buy", "yes", count, "0.02")
    assert_one_line_error(code, err, "count")
    assert "whole number" in err, err
    assert out == ""


def _page_file(tmp_path: Path, html: str) -> str:
    path = tmp_path / "page.html"
    path.write_text(html)
    return str(path)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("23,000,000", "values outside 50,000-4,000,000"),
        ("2330", "values outside"),
        (None, "dates after today"),
    ],
)
def test_parse_tsa_validates_as_load_does_and_raw_opts_out(capsys, tmp_path, value, needle):
    from datetime import date, timedelta

    from tsa_bot.core.records import DailyCount
    from tsa_bot.sources.offline import render_page

    start = date.today() - timedelta(days=10) if value is None else date(2025, 3, 3)
    rows = [DailyCount(start + timedelta(days=k), 2_300_000 + 1_000 * k) for k in range(30)]
    if value is not None:
        rows[5] = DailyCount(rows[5].day, int(value.replace(",", "")))
    page = _page_file(tmp_path, render_page(rows))

    code, out, err = run(capsys, "parse-tsa", page)
    assert_one_line_error(code, err, needle)
    assert out == ""

    code, out, err = run(capsys, "parse-tsa", "--raw", page)
    assert (code, err) == (0, "")
    assert out.splitlines() == ["date,passengers"] + [f"{r.day.isoformat()},{r.passengers}" for r in rows]


def test_parse_tsa_refuses_a_page_with_a_decoy_table(capsys, tmp_path):
    from tsa_bot.sources.offline import OFFLINE_SITE_DIR

    real = (OFFLINE_SITE_DIR / "passenger-volumes.html").read_text()
    decoy = (
        "<table><tr><th>Date</th><th>Numbers</th></tr>"
        "<tr><td>1/1/2099</td><td>23,000,000</td></tr><tr><td>1/2/2099</td><td>2330</td></tr></table>"
    )
    code, out, err = run(
        capsys, "parse-tsa", _page_file(tmp_path, real.replace("<table", decoy + "<table", 1))
    )
    assert_one_line_error(code, err, "2 tables")
    assert out == ""


# ---- issue 18: --workers and --read-rate -------------------------------------------------------------


def test_replay_workers_above_the_number_of_cores_is_one_line(capsys, tmp_path):
    import os

    too_many = str((os.cpu_count() or 1) + 46)
    code, out, err = run(
        capsys,
        "replay", "--data", str(tmp_path / "none.csv"), "--start", "2025-03-03", "--end", "2025-03-10",
        "--json", str(tmp_path / "out.json"), "--workers", too_many,
    )  # fmt: skip
    assert_one_line_error(code, err, "--workers", "cores")
    assert out == ""


def test_backtest_workers_above_the_number_of_cores_is_one_line(capsys, tmp_path, shared_csv):
    import os

    too_many = str((os.cpu_count() or 1) + 46)
    code, out, err = run(
        capsys,
        "backtest", "--data", str(shared_csv), "--start", "2025-03-03", "--end", "2025-03-10",
        "--json", str(tmp_path / "out.json"), "--workers", too_many,
    )  # fmt: skip
    assert_one_line_error(code, err, "--workers", "cores")
    assert out == "" and not (tmp_path / "out.json").exists()


def test_history_score_workers_above_the_number_of_cores_is_one_line(capsys, monkeypatch, warehouse_url):
    import os

    monkeypatch.setenv("TSA_WAREHOUSE_URL", warehouse_url)
    too_many = str((os.cpu_count() or 1) + 46)
    code, out, err = run(capsys, "kalshi", "history", "--score", "--workers", too_many)
    assert_one_line_error(code, err, "--workers", "cores")
    assert out == ""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rate", ["1e-300", "nan", "inf", "-inf", "0", "21", "1e300"])
def test_history_read_rate_must_be_positive_finite_and_within_kalshis_limit(capsys, monkeypatch, rate):
    monkeypatch.setenv("TSA_WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:1/never?connect_timeout=1")
    monkeypatch.setenv("KALSHI_API_BASE", "https://external-api.demo.kalshi.co/trade-api/v2")
    code, out, err = run(
        capsys, "kalshi", "history", "--start", "2026-02-01", "--end", "2026-02-15", f"--read-rate={rate}"
    )
    assert_one_line_error(code, err, "--read-rate", "20")
    assert out == ""
