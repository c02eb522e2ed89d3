"""Whether a replay's result could be luck: the weekly bootstrap, the paired comparison with the YoY
baseline, and the summary's evidence fields on a hand-made replay with known P&L."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsa_bot.core.market import NEW_YORK, Direction, event_ticker_for_week
from tsa_bot.replay import report
from tsa_bot.replay.engine import BASELINE, MODEL, NOTHING, ReplayRun, Trade
from tsa_bot.replay.evidence import (
    RESAMPLES,
    SEED,
    bootstrap_total_ci,
    paired_differences,
    rounded,
    verdict,
)

MONDAYS = [dt.date(2025, 3, 3) + dt.timedelta(weeks=i) for i in range(3)]
EVENTS = [event_ticker_for_week(m) for m in MONDAYS]

# ---- the bootstrap, a pure function -----------------------------------------------------------------------

weekly_pnl = st.lists(
    st.floats(min_value=-1_000, max_value=1_000, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
)


def test_no_weeks_no_interval_and_a_constant_week_gives_a_zero_width_interval_at_n_times_it():
    assert bootstrap_total_ci([]) is None
    assert bootstrap_total_ci([Decimal("2.5")] * 4) == (10.0, 10.0)
    assert bootstrap_total_ci([0, 0, 0]) == (0.0, 0.0)


def test_the_interval_is_of_resampled_totals_5th_to_95th_percentile():
    # Two weeks, 0 and 1: a resample's total is 0, 1 or 2 with chances 1/4, 1/2, 1/4. The 5th percentile
    # of 10,000 such totals is 0 and the 95th is 2 (each end holds about 2,500 of them).
    assert bootstrap_total_ci([0, 1]) == (0.0, 2.0)
    # One week of 7: every resample is that week.
    assert bootstrap_total_ci([7]) == (7.0, 7.0)
    # Ten weeks, one of +100 and nine of 0: a total is 100 x (times the winning week is drawn), a
    # Binomial(10, 0.1): P(0) = 0.349 > 5%, P(>= 3) = 0.070 > 5%, P(>= 4) = 0.013 < 5%: [0, 300].
    assert bootstrap_total_ci([100] + [0] * 9) == (0.0, 300.0)


def test_the_interval_is_seeded_the_same_weeks_give_the_same_interval():
    weeks = [12.5, -40.0, 3.0, 0.0, 88.0, -7.25]
    assert bootstrap_total_ci(weeks) == bootstrap_total_ci(list(weeks))
    assert bootstrap_total_ci(weeks, seed=SEED, resamples=RESAMPLES) == bootstrap_total_ci(weeks)
    assert bootstrap_total_ci(weeks, seed=SEED + 1) != bootstrap_total_ci(weeks)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_total_ci([1.0], resamples=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_total_ci([1.0], level=1.0)


@settings(max_examples=60, deadline=None)
@given(weekly_pnl)
def test_low_is_at_most_high_and_both_lie_within_the_extreme_totals(weeks):
    low, high = bootstrap_total_ci(weeks, resamples=500)
    n = len(weeks)
    assert low <= high
    assert n * min(weeks) - 1e-6 <= low and high <= n * max(weeks) + 1e-6


@settings(max_examples=60, deadline=None)
@given(weekly_pnl, st.floats(min_value=-500, max_value=500, allow_nan=False))
def test_shifting_every_week_by_c_shifts_the_interval_by_n_c(weeks, c):
    low, high = bootstrap_total_ci(weeks, resamples=500)
    shifted = bootstrap_total_ci([w + c for w in weeks], resamples=500)
    n = len(weeks)
    assert shifted == pytest.approx((low + n * c, high + n * c), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=30), st.floats(min_value=-1_000, max_value=1_000, allow_nan=False))
def test_a_constant_weekly_pnl_gives_a_zero_width_interval(n, c):
    low, high = bootstrap_total_ci([c] * n, resamples=200)
    assert low == pytest.approx(n * c, abs=1e-6) and high == pytest.approx(n * c, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(weekly_pnl, st.floats(min_value=0.01, max_value=100, allow_nan=False))
def test_scaling_every_week_scales_the_interval(weeks, k):
    low, high = bootstrap_total_ci(weeks, resamples=300)
    scaled = bootstrap_total_ci([w * k for w in weeks], resamples=300)
    assert scaled == pytest.approx((low * k, high * k), rel=1e-9, abs=1e-6)


def test_pairs_are_made_week_by_week_by_event_whatever_the_order_and_a_missing_week_is_zero():
    ours = [("A", Decimal(5)), ("B", Decimal(-1)), ("C", Decimal(0))]
    theirs = {"C": Decimal(2), "A": Decimal(1), "D": Decimal(4)}
    assert paired_differences(ours, theirs) == [
        ("A", Decimal(4)),
        ("B", Decimal(-1)),
        ("C", Decimal(-2)),
        ("D", Decimal(-4)),
    ]


def test_the_verdict_says_whether_the_interval_excludes_zero():
    assert "includes 0: no evidence of an edge" in verdict([-220.0, 430.0])
    assert "-220.00 to +430.00" in verdict([-220.0, 430.0])
    assert "lies above 0: evidence of an edge" in verdict([1.0, 430.0])
    assert "lies below 0: evidence of a loss" in verdict([-9.0, -1.0])
    assert "beats the YoY" in verdict([3.0, 3.0], versus="the YoY baseline")
    assert "the YoY baseline beats it" in verdict([-3.0, -1.0], versus="the YoY baseline")
    assert "no evidence either" in verdict([-3.0, 1.0], versus="the YoY baseline")
    assert verdict(None) == "no interval (no week replayed)"
    assert rounded((1.234, -0.005)) == [1.23, -0.01] and rounded(None) is None


# ---- the summary's fields on a hand-made replay ------------------------------------------------------------


def _trade(week: int, weekday: int, count: int, pnl: str, fee: str = "0.10") -> Trade:
    day = MONDAYS[week] + dt.timedelta(days=weekday)
    moment = dt.datetime.combine(day, dt.time(10), NEW_YORK)
    return Trade(
        moment,
        day,
        EVENTS[week],
        f"{EVENTS[week]}-T2400000",
        Direction.YES,
        Decimal(count),
        Decimal("0.40"),
        Decimal(fee),
        "yes" if Decimal(pnl) > 0 else "no",
        Decimal(pnl),
    )


def _run(source: str, trades: list[Trade], weekly: list[str]) -> ReplayRun:
    run = ReplayRun(source, "kelly", trades=trades)
    equity = Decimal(0)
    for week, (event, pnl) in enumerate(zip(EVENTS, weekly, strict=True)):
        equity += Decimal(pnl)
        run.weeks.append(
            {
                "event_ticker": event,
                "pnl": Decimal(pnl),
                "trades": sum(t.event_ticker == event for t in trades),
                "monday": MONDAYS[week],
            }
        )
        run.equity.append(
            (dt.datetime.combine(MONDAYS[week] + dt.timedelta(days=7), dt.time(14), dt.UTC), equity)
        )
    return run


@pytest.fixture
def doc() -> dict:
    """Three weeks: the model makes +3.00 (Monday +4.00, Wednesday -1.00), then -1.00 (Monday), then
    does not trade; 10 + 5 + 5 = 20 contracts. The baseline makes 2.00 less in week one, 2.00 less in week
    two and 2.00 less in week three: the model beats it by exactly 2.00 every week."""
    model = _run(
        MODEL,
        [_trade(0, 0, 10, "4.00"), _trade(0, 2, 5, "-1.00"), _trade(1, 0, 5, "-1.00")],
        ["3.00", "-1.00", "0"],
    )
    baseline = _run(
        BASELINE,
        [_trade(0, 1, 8, "1.00"), _trade(1, 1, 8, "-3.00"), _trade(2, 1, 8, "-2.00")],
        ["1.00", "-3.00", "-2.00"],
    )
    nothing = _run(NOTHING, [], ["0", "0", "0"])
    return json.loads(json.dumps(report.document(model, [baseline, nothing], start="2025-03-03")))


def test_the_summary_gives_cents_per_contract_weeks_won_and_traded_and_the_intervals(doc):
    s = doc["summary"]
    assert s["pnl"] == 2.0 and s["contracts"] == 20.0
    assert s["cents_per_contract"] == 10.0  # 2.00 / 20 contracts x 100
    assert s["weeks_traded"] == 2 and s["weeks_won"] == 1
    assert s["pnl_ci90"] == rounded(bootstrap_total_ci([3.0, -1.0, 0.0]))
    low, high = s["pnl_ci90"]
    assert -3.0 <= low < 0 < high <= 9.0  # two weeks of three at most can fall: it could be luck
    # Paired by week: +2.00 every week, so every resample totals 6.00, although each run's P&L varies.
    assert s["vs_baseline_ci90"] == [6.0, 6.0]
    assert doc["beside"]["yoy_baseline"]["pnl_ci90"][0] < doc["beside"]["yoy_baseline"]["pnl_ci90"][1]


def test_the_baseline_has_its_own_interval_but_no_comparison_with_itself_and_nothing_has_no_cents(doc):
    base, nothing = doc["beside"]["yoy_baseline"], doc["beside"]["nothing"]
    assert base["vs_baseline_ci90"] is None
    assert base["pnl_ci90"] == rounded(bootstrap_total_ci([1.0, -3.0, -2.0]))
    assert base["cents_per_contract"] == round(-4.0 / 24 * 100, 2)
    assert base["weeks_traded"] == 3 and base["weeks_won"] == 1
    assert nothing["cents_per_contract"] is None and nothing["pnl_ci90"] == [0.0, 0.0]
    assert nothing["weeks_traded"] == 0 and nothing["weeks_won"] == 0
    # Doing nothing against the baseline: minus the baseline's weeks, paired.
    assert nothing["vs_baseline_ci90"] == rounded(bootstrap_total_ci([-1.0, 3.0, 2.0]))


def test_each_day_has_the_same_fields_over_that_days_trades_with_untraded_weeks_at_zero(doc):
    by_day = doc["summary"]["by_day"]
    assert all(set(day) == set(doc["summary"]) - {"by_day"} for day in by_day.values())
    mon, wed, tue = by_day["Mon"], by_day["Wed"], by_day["Tue"]
    assert mon["pnl"] == 3.0 and mon["contracts"] == 15.0 and mon["cents_per_contract"] == 20.0
    assert mon["weeks_traded"] == 2 and mon["weeks_won"] == 1
    assert mon["pnl_ci90"] == rounded(bootstrap_total_ci([4.0, -1.0, 0.0]))
    # Monday's trades against the baseline's Monday trades (none): Monday's weeks, unchanged.
    assert mon["vs_baseline_ci90"] == mon["pnl_ci90"]
    assert wed["cents_per_contract"] == -20.0 and wed["weeks_traded"] == 1 and wed["weeks_won"] == 0
    assert wed["max_drawdown"] == 1.0
    # No model trade on Tuesday; the baseline's Tuesday trades are all of its weeks.
    assert tue["cents_per_contract"] is None and tue["weeks_traded"] == 0 and tue["pnl_ci90"] == [0.0, 0.0]
    assert tue["vs_baseline_ci90"] == rounded(bootstrap_total_ci([-1.0, 3.0, 2.0]))


def test_without_a_baseline_run_there_is_no_comparison():
    model = _run(MODEL, [_trade(0, 0, 10, "4.00")], ["4.00", "0", "0"])
    doc = report.document(model, [])
    assert doc["summary"]["vs_baseline_ci90"] is None
    assert all(d["vs_baseline_ci90"] is None for d in doc["summary"]["by_day"].values())
    assert "vs YoY" not in report.table(doc) and "YoY baseline" not in report.table(doc)


def test_the_assumptions_say_how_the_interval_is_made(doc):
    said = doc["assumptions"]["evidence"]
    assert "10,000 resamples" in said and "counts as 0" in said and "paired" in said
    assert f"default_rng({SEED})" in said


def test_the_table_shows_the_interval_columns_and_says_in_words_whether_it_could_be_luck(doc):
    text = report.table(doc)
    lines = text.splitlines()
    assert "P&L 90% CI" in lines[0] and "¢/contract" in lines[0] and "won/traded" in lines[0]
    model = next(line for line in lines if line.startswith("kelly (model)  "))
    low, high = doc["summary"]["pnl_ci90"]
    assert f"[{low:+.2f}, {high:+.2f}]" in model and "10.00" in model and " 1/2 " in model
    assert "[+6.00, +6.00]" not in model  # vs the baseline is said under the table, not as a column
    nothing = next(line for line in lines if line.startswith("nothing"))
    assert "[+0.00, +0.00]" in nothing and "  -  " in nothing and " 0/0 " in nothing
    monday = next(line for line in lines if line.startswith("  Mon"))
    assert "20.00" in monday and " 1/2 " in monday
    assert lines[-2] == (
        f"kelly (model): 90% interval of the P&L {low:+,.2f} to {high:+,.2f} includes 0: no evidence of an "
        "edge (could be luck)"
    )
    assert lines[-1] == (
        "kelly (model): 90% interval of the P&L minus the YoY baseline's +6.00 to +6.00 lies above 0: "
        "evidence it beats the YoY baseline"
    )


def test_the_plot_draws_the_interval_and_names_it(doc, tmp_path):
    import matplotlib.pyplot as plt

    report.plot(doc, tmp_path / "replay.png")
    assert (tmp_path / "replay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = report.chart(doc)
    try:
        left = fig.axes[0]
        low, high = doc["summary"]["pnl_ci90"]
        assert f"90% CI [{low:+.2f}, {high:+.2f}]" in left.get_title()
        assert "minus YoY baseline's: 90% CI [+6.00, +6.00]" in left.get_title()
        bars = {line.get_label(): line for line in left.get_lines() if "90% CI" in line.get_label()}
        model_bar = bars[f"kelly (model): 90% CI [{low:+.2f}, {high:+.2f}]"]
        assert list(model_bar.get_ydata()) == [low, high]
        assert "nothing: 90% CI [+0.00, +0.00]" not in bars  # a zero-width interval draws no bar
        legend = [t.get_text() for t in left.get_legend().get_texts()]
        assert f"kelly (model): 90% CI [{low:+.2f}, {high:+.2f}]" in legend
    finally:
        plt.close(fig)
