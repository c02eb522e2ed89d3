"""``tsabot replay`` on the command line: one-line errors, and two real weeks end to end (CSV, warehouse)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tsa_bot.core.market import NEW_YORK, event_ticker_for_week
from tsa_bot.forecast.data import load_csv
from tsa_bot.kalshi_sim import HistorySeed, history_quote_rows, truth_of
from tsa_bot.local.cli import main
from tsa_bot.quotes.interchange import read_quotes_file, write_quotes_file

START, END = dt.date(2025, 3, 3), dt.date(2025, 3, 10)


@pytest.fixture(scope="module")
def quotes_csv(shared_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "quotes.csv"
    write_quotes_file(history_quote_rows(HistorySeed(START, END, truth=truth_of(load_csv(shared_csv)))), path)
    return path


def _replay(*args: str) -> int:
    return main(["replay", *args])


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, text: str) -> None:
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tsabot: error: ") and text in err, err
    assert err.count("\n") == 1, err


# Each bad input: the options that differ from a good run (MISSING: a file that does not exist;
# MISSING_FOLDER: one in a folder that does not) and what the one-line error says.
MISSING, MISSING_FOLDER = "<missing>", "<missing folder>"
BAD_INPUTS = [
    pytest.param(
        {"--execution": "patient"}, "--execution must be taker or maker, not 'patient'", id="execution"
    ),
    pytest.param({"--data": MISSING}, "data file not found", id="data-not-found"),
    pytest.param({"--quotes": MISSING}, "cannot read", id="quotes-not-found"),
    pytest.param(
        {"--start": "2025-02-30"}, "--start is not a date (YYYY-MM-DD): '2025-02-30'", id="start-not-a-date"
    ),
    pytest.param(
        {"--start": "2025-03-10", "--end": "2025-03-03"},
        "--start 2025-03-10 is after --end 2025-03-03",
        id="start-after-end",
    ),
    pytest.param(
        {"--start": "2025-03-04", "--end": "2025-03-09"},
        "no Monday between 2025-03-04 and 2025-03-09: nothing to replay",
        id="no-monday",
    ),
    pytest.param(
        {"--start": "2025-06-02", "--end": "2025-06-09"},
        "the quotes have no KXTSAW event for the weeks of 2025-06-02 .. 2025-06-09",
        id="no-quotes-for-the-weeks",
    ),
    pytest.param(
        {"--policy": "martingale"},
        "--policy must be one of kelly, ladder, blend, guarded, recorded, not 'martingale'",
        id="unknown-policy",
    ),
    pytest.param({"--json": MISSING_FOLDER}, "directory for --json does not exist", id="json-folder-missing"),
]


@pytest.mark.parametrize(("options", "message"), BAD_INPUTS)
def test_bad_input_gets_one_line(options, message, shared_csv, quotes_csv, tmp_path, capsys):
    paths = {MISSING: str(tmp_path / "none.csv"), MISSING_FOLDER: str(tmp_path / "missing" / "out.json")}
    given = {
        "--data": str(shared_csv),
        "--quotes": str(quotes_csv),
        "--start": "2025-03-03",
        "--end": "2025-03-10",
        "--json": str(tmp_path / "out.json"),
        **{name: paths.get(value, value) for name, value in options.items()},
    }
    code = _replay(*[part for option in given.items() for part in option])
    _one_line_error(capsys, code, message)
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_replay_end_to_end_from_csv_and_from_the_warehouse(
    shared_csv, quotes_csv, tsa_env, tmp_path, capsys, forecast_cache_dir
):
    cache = str(forecast_cache_dir)  # the run's, named explicitly: the option is what this test exercises
    args = [
        "--data",
        str(shared_csv),
        "--start",
        "2025-03-03",
        "--end",
        "2025-03-10",
        "--cache-dir",
        cache,
        "--calibration-weeks",
        "8",
        "--policy",
        "ladder",
    ]
    out, png = tmp_path / "replay.json", tmp_path / "replay.png"
    assert _replay(*args, "--quotes", str(quotes_csv), "--json", str(out), "--plot", str(png)) == 0
    printed = capsys.readouterr().out
    assert "ladder (model)" in printed and "yoy_baseline" in printed and "nothing" in printed
    assert "  Mon" in printed and "  Sun" in printed
    assert "P&L 90% CI" in printed and "ladder (model): 90% interval of the P&L " in printed
    assert "ladder (model): 90% interval of the P&L minus the YoY baseline's " in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(out.read_text())
    assert [w["event_ticker"] for w in doc["weeks"]] == ["KXTSAW-25MAR09", "KXTSAW-25MAR16"]
    assert doc["summary"]["trades"] == len(doc["trades"]) == sum(w["trades"] for w in doc["weeks"])
    assert doc["summary"]["pnl"] == pytest.approx(sum(w["pnl"] for w in doc["weeks"]))
    assert doc["summary"]["weeks_traded"] == sum(w["trades"] > 0 for w in doc["weeks"])
    assert doc["summary"]["weeks_won"] == sum(w["pnl"] > 0 for w in doc["weeks"])
    low, high = doc["summary"]["pnl_ci90"]
    assert min(2 * w["pnl"] for w in doc["weeks"]) - 0.01 <= low <= high
    assert high <= max(2 * w["pnl"] for w in doc["weeks"]) + 0.01
    assert doc["beside"]["yoy_baseline"]["vs_baseline_ci90"] is None
    s = doc["summary"]
    assert s["cents_per_contract"] == pytest.approx(s["pnl"] / s["contracts"] * 100, abs=0.005)
    # Every day is a moment (daily candles), so each two-sided quote of the week's days is scored once;
    # a market's last daily candle ends the evening after the Sunday close, outside the week: not a moment.
    sundays = {event_ticker_for_week(m): m + dt.timedelta(days=6) for m in (START, END)}
    rows = [
        r
        for r in read_quotes_file(quotes_csv)
        if r.end_ts.astimezone(NEW_YORK).date() <= sundays[r.event_ticker]
    ]
    assert len(rows) == 2 * 21 * 7
    assert doc["summary"]["strikes_scored"] == sum(r.two_sided for r in rows)
    assert all(t["result"] in ("yes", "no") and t["pnl"] is not None for t in doc["trades"])
    assert doc["run"]["policy"] == "ladder"

    # The same history from the warehouse (imported as daily candles) replays to the same trades.
    assert main(["kalshi", "history", "--import", str(quotes_csv), "--period", "1440"]) == 0
    capsys.readouterr()
    from_warehouse = tmp_path / "warehouse.json"
    assert _replay(*args, "--period", "1440", "--json", str(from_warehouse)) == 0
    assert json.loads(from_warehouse.read_text())["trades"] == doc["trades"]

    # Maker execution on the same history: every fill from a later candle than its order's moment.
    maker = tmp_path / "maker.json"
    assert _replay(*args, "--quotes", str(quotes_csv), "--execution", "maker", "--json", str(maker)) == 0
    made = json.loads(maker.read_text())
    assert made["trades"] and all(t["liquidity"] == "maker" for t in made["trades"])
    assert all(t["posted"] < t["moment"] for t in made["trades"])
    assert made["summary"]["execution"] == "maker" and 0 < made["summary"]["fill_rate"] <= 1
    assert made["beside"]["yoy_baseline"]["execution"] == "maker"


# ---- issue 18: outputs checked before computing, latest.json replaced only on success; nonsense refused


def _latest() -> Path:
    from tsa_bot.replay.commands import latest_replay_file

    return latest_replay_file()


def _keep_a_latest() -> bytes:
    latest = _latest()
    latest.parent.mkdir(parents=True, exist_ok=True)
    latest.write_text('{"an": "earlier replay"}\n')
    return latest.read_bytes()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("where", "says"),
    [
        (["--json", "/proc/x.json"], "--json"),
        (["--json", "{tmp}"], "--json"),
        (["--json", "{tmp}/out.json", "--plot", "/sys/x.png"], "--plot"),
        (["--json", "{tmp}/out.json", "--plot", "{tmp}/p.xyz"], "--plot"),
    ],
)
def test_output_that_cannot_be_written_is_refused_before_computing(
    shared_csv, quotes_csv, tmp_path, capsys, where, says
):
    import time

    earlier = _keep_a_latest()
    began = time.monotonic()
    outputs = [w.replace("{tmp}", str(tmp_path)) for w in where]
    code = _replay(
        "--data", str(shared_csv), "--quotes", str(quotes_csv), "--start", "2025-03-03", "--end",
        "2025-03-10", "--calibration-weeks", "8", "--workers", "1", *outputs,
    )  # fmt: skip
    _one_line_error(capsys, code, says)
    assert time.monotonic() - began < 10, "it computed the replay first"
    assert _latest().read_bytes() == earlier
    assert not (tmp_path / "out.json").exists()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("nonsense", ["reversed strikes", "equal strikes", "contradicting results"])
def test_nonsense_quotes_are_refused_with_one_line_and_keep_the_latest_replay(
    shared_csv, quotes_csv, tmp_path, capsys, nonsense
):
    from dataclasses import replace

    rows = read_quotes_file(quotes_csv)
    strikes = sorted({r.floor_strike for r in rows})
    if nonsense == "reversed strikes":
        flipped = dict(zip(strikes, reversed(strikes), strict=True))
        changed = [replace(r, floor_strike=flipped[r.floor_strike]) for r in rows]
        says = "rise with the strike"
    elif nonsense == "equal strikes":
        changed = [replace(r, floor_strike=strikes[0]) for r in rows]
        says = "strike"
    else:
        lowest = {
            min((r.floor_strike, r.ticker) for r in rows if r.event_ticker == e)[1]
            for e in {r.event_ticker for r in rows}
        }
        changed = [replace(r, result="no" if r.ticker in lowest else "yes") for r in rows]
        says = "settled yes but"
    path = tmp_path / "nonsense.csv"
    with path.open("w") as f:
        from tsa_bot.quotes.interchange import write_quotes

        write_quotes(changed, f)
    earlier = _keep_a_latest()
    code = _replay(
        "--data", str(shared_csv), "--quotes", str(path), "--start", "2025-03-03", "--end", "2025-03-10",
        "--calibration-weeks", "8", "--workers", "1", "--json", str(tmp_path / "out.json"),
    )  # fmt: skip
    _one_line_error(capsys, code, says)
    assert _latest().read_bytes() == earlier
    assert not (tmp_path / "out.json").exists()
