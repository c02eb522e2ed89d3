import itertools
import json

import pytest

from tsa_bot.forecast.distribution import STRIKES
from tsa_bot.local.cli import main

WEEK_KEYS = {"week_start", "as_of", "known_days", "actual", "mean", "q10", "q50", "q90", "prob_above"}
SCORE_KEYS = {"mape", "coverage80", "brier", "log_loss"}


@pytest.mark.slow
def test_backtest_command_writes_one_json_object(shared_csv, tmp_path, capsys):
    out = tmp_path / "bt.json"
    png = tmp_path / "bt.png"
    code = main(
        [
            "backtest",
            "--data",
            str(shared_csv),
            "--start",
            "2025-03-01",  # a Saturday: the first week is the one starting Monday 03-03
            "--end",
            "2025-03-10",
            "--known-days",
            "2",
            "--calibration-weeks",
            "8",
            "--json",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    document = json.loads(out.read_text())
    weeks = document["weeks"]
    assert [w["week_start"] for w in weeks] == ["2025-03-03", "2025-03-10"]
    for w in weeks:
        assert set(w) >= WEEK_KEYS
        assert w["known_days"] == 2
        assert w["as_of"] == {"2025-03-03": "2025-03-05", "2025-03-10": "2025-03-12"}[w["week_start"]]
        assert [int(s) for s in w["prob_above"]] == list(STRIKES)
        probs = list(w["prob_above"].values())
        assert all(a >= b for a, b in itertools.pairwise(probs))
        assert w["q10"] <= w["q50"] <= w["q90"]
        assert abs(w["mean"] / w["actual"] - 1) < 0.1
    summary = document["summary"]
    assert set(summary) >= SCORE_KEYS
    assert set(summary["baseline"]) >= SCORE_KEYS
    assert summary["weeks"] == 2
    assert 0 <= summary["brier"] <= 1
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "2025-03-10" in printed
    assert "YoY baseline" in printed
    assert "{" not in printed  # the JSON goes to the file, the table to the terminal


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2025-13-01", "--end", "2025-03-10"], "not a date"),
        (["--start", "2025-03-10", "--end", "2025-03-01"], "is after --end"),
        (["--start", "2025-03-01", "--end", "2025-03-10", "--known-days", "7"], "--known-days must be 0..6"),
        (["--start", "2030-01-01", "--end", "2030-01-10"], "after the day following the last data point"),
        (["--start", "2025-03-04", "--end", "2025-03-05"], "no Monday"),
    ],
)
def test_backtest_command_rejects_bad_input_with_one_line(shared_csv, tmp_path, capsys, args, message):
    code = main(["backtest", "--data", str(shared_csv), "--json", str(tmp_path / "o.json"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("tsabot: error: ")
    assert message in err
    assert "\n" not in err
    assert not (tmp_path / "o.json").exists()


def test_backtest_command_reports_a_missing_data_file(tmp_path, capsys):
    code = main(
        [
            "backtest",
            "--data",
            str(tmp_path / "nope.csv"),
            "--start",
            "2025-03-03",
            "--end",
            "2025-03-09",
            "--json",
            str(tmp_path / "o.json"),
        ]
    )
    assert code == 2
    assert "data file not found" in capsys.readouterr().err


def test_backtest_command_refuses_a_cache_dir_that_is_a_file_with_one_line(shared_csv, tmp_path, capsys):
    args = ["--start", "2025-03-03", "--end", "2025-03-09", "--pool", "log", "--cache-dir", str(shared_csv)]
    code = main(["backtest", "--data", str(shared_csv), "--json", str(tmp_path / "o.json"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("tsabot: error: ") and "is not a directory" in err and "\n" not in err
    assert not (tmp_path / "o.json").exists()


def test_backtest_command_knows_only_the_linear_and_log_pools(shared_csv, tmp_path, capsys):
    args = ["--start", "2025-03-03", "--end", "2025-03-09", "--pool", "geometric"]
    with pytest.raises(SystemExit) as exit_info:
        main(["backtest", "--data", str(shared_csv), "--json", str(tmp_path / "o.json"), *args])
    assert exit_info.value.code == 2
    assert "invalid choice: 'geometric'" in capsys.readouterr().err
