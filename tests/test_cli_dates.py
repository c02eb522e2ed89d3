"""Every date on the command line is read by one parser (``errors.parse_date``): a bad one is the same
one-line error naming its option, exit code 2, whichever command it was given to."""

from __future__ import annotations

import pytest
from cli_testkit import assert_one_line_error, clean_env, run  # noqa: F401 - clean_env is a fixture


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("argv", "option", "value"),
    [
        (
            [
                "backtest",
                "--data",
                "x.csv",
                "--json",
                "o.json",
                "--start",
                "2025-13-01",
                "--end",
                "2025-03-10",
            ],
            "--start",
            "2025-13-01",
        ),
        (
            ["backtest", "--data", "x.csv", "--json", "o.json", "--start", "2025-03-01", "--end", "soon"],
            "--end",
            "soon",
        ),
        (["kalshi", "history", "--start", "2025-02-30", "--end", "2025-03-01"], "--start", "2025-02-30"),
        (["kalshi", "history", "--start", "2025-02-01", "--end", "03/01/2025"], "--end", "03/01/2025"),
        (["simulator", "--seed-week", "next week"], "--seed-week", "next week"),
        (
            ["simulator", "--history-start", "2025-1-6x", "--history-end", "2025-02-01"],
            "--history-start",
            "2025-1-6x",
        ),
        (["simulator", "--history-start", "2025-01-06", "--history-end", "Feb 1"], "--history-end", "Feb 1"),
        (["simulator", "--historical-cutoff", "yesterday"], "--historical-cutoff", "yesterday"),
    ],
)
def test_a_bad_date_is_one_line_naming_its_option(capsys, argv, option, value):
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, f"{option} is not a date (YYYY-MM-DD): '{value}'")
    assert out == ""
