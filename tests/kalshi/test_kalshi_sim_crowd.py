"""The simulator's crowd: a view built from the public YoY forecast and private information, point in time,
calibrated, and quoting in Kalshi's shapes (issue 19). Unit tests of ``kalshi_sim.crowd``; the same shapes
over HTTP are in ``test_kalshi_sim_shapes.py``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest

from tsa_bot.core.market import NEW_YORK
from tsa_bot.core.publication import publication_time
from tsa_bot.forecast.baseline import yoy_remaining_forecast
from tsa_bot.kalshi_sim.crowd import NO_ASK, NO_BID, PRESETS, CrowdParams, WeekCrowd
from tsa_bot.kalshi_sim.history import shipped_truth

MONDAY = date(2025, 3, 17)
TWO_YEARS = [date(2024, 1, 1) + timedelta(weeks=i) for i in range(103)]  # Mondays of 2024 and 2025


@pytest.fixture(scope="module")
def truth():
    return shipped_truth()


@pytest.fixture(scope="module")
def series(truth):
    return pd.Series({pd.Timestamp(d): v for d, v in truth.items()}).sort_index()


def _hour(crowd: WeekCrowd, at: datetime) -> int:
    """The index of the crowd's hour in force at ``at``."""
    return int(np.searchsorted(crowd.hours, at.timestamp(), side="right")) - 1


def test_the_public_part_is_the_yoy_baseline_of_what_was_published(truth, series):
    """At each day's evening the crowd's public forecast of each unpublished day is exactly the YoY
    baseline's from the days published by then; it changes only at the hours TSA publishes."""
    for monday in (MONDAY, date(2025, 7, 7), date(2025, 11, 24)):
        crowd = WeekCrowd(monday, truth, seed=1)
        for k in range(5):
            evening = datetime.combine(monday + timedelta(days=k), time(20), NEW_YORK)
            row = crowd.public[_hour(crowd, evening)]
            assert np.isnan(row[:k]).all()  # the published days are known, not forecast
            assert row[k:] == pytest.approx(yoy_remaining_forecast(series, monday, k), rel=1e-12)
        publications = {publication_time(monday + timedelta(days=i)).timestamp() for i in range(-3, 7)}
        for i in range(1, len(crowd.hours)):
            changed = not np.array_equal(crowd.public[i], crowd.public[i - 1], equal_nan=True)
            assert changed == (crowd.hours[i] in publications), datetime.fromtimestamp(crowd.hours[i], UTC)


def test_the_public_part_is_point_in_time(truth):
    """A day's number reaches the crowd's public view only once it is published: editing the previous
    Saturday (published Monday 09:00) leaves every quote before then as it was and moves those after."""
    strikes = WeekCrowd(MONDAY, truth, seed=5).strikes()
    before = WeekCrowd(MONDAY, truth, seed=5)
    edited = dict(truth)
    edited[MONDAY - timedelta(days=2)] += 150_000
    after = WeekCrowd(MONDAY, edited, seed=5)
    cut = _hour(before, publication_time(MONDAY - timedelta(days=2)))
    assert before.hours[cut] == publication_time(MONDAY - timedelta(days=2)).timestamp()
    assert np.array_equal(before.public[:cut], after.public[:cut], equal_nan=True)
    assert np.array_equal(before.mean[:cut], after.mean[:cut]) and np.array_equal(
        before.sd[:cut], after.sd[:cut]
    )
    assert (after.public[cut:, 6] > before.public[cut:, 6]).all()  # a busier week raises the ratio
    assert (after.mean[cut:] > before.mean[cut:]).all()
    old, new = before.tapes(strikes), after.tapes(strikes)
    for strike in strikes:
        assert np.array_equal(old[strike].bid[:cut], new[strike].bid[:cut])
        assert np.array_equal(old[strike].ask[:cut], new[strike].ask[:cut])
        early = old[strike].trade_ts < before.hours[cut]
        assert np.array_equal(old[strike].trade_price[early], new[strike].trade_price[: early.sum()])
    # A day the week never sees published (next Monday) changes nothing at all.
    later = dict(truth)
    later[MONDAY + timedelta(days=7)] += 150_000
    assert np.array_equal(WeekCrowd(MONDAY, later, seed=5).mean, before.mean)


def test_the_crowd_learns_each_day_through_both_views(truth):
    """Monday's number, once published, enters the week's mean exactly and moves the public forecast of
    the other days through the ratio; the old independent crowd moves by the day alone."""
    tuesday_9 = datetime(2025, 3, 18, 9, tzinfo=NEW_YORK)
    edited = dict(truth)
    edited[MONDAY] += 70_000
    crowd, moved = WeekCrowd(MONDAY, truth, seed=3), WeekCrowd(MONDAY, edited, seed=3)
    i = _hour(crowd, tuesday_9)
    w = crowd.params.public_weight
    through_public = crowd.estimate[i, 1:] * ((moved.public[i, 1:] / crowd.public[i, 1:]) ** w - 1)
    assert moved.mean[i] - crowd.mean[i] == pytest.approx(10_000 + through_public.sum() / 7)
    assert through_public.sum() > 0
    old = CrowdParams.independent()
    plain, plain_moved = (
        WeekCrowd(MONDAY, truth, seed=3, params=old),
        WeekCrowd(MONDAY, edited, seed=3, params=old),
    )
    assert plain_moved.mean[i] - plain.mean[i] == pytest.approx(10_000)


def _open_errors(truth, params: CrowdParams, seed: int) -> tuple[list[float], list[float], list[float]]:
    """Per week and moment (the open, Wednesday, Friday): the crowd's and the public forecast's log error
    of the weekly mean, and the crowd's error in its own stated standard deviations."""
    crowd_errors, public_errors, z = [], [], []
    for monday in TWO_YEARS:
        crowd = WeekCrowd(monday, truth, seed=seed, params=params)
        public = WeekCrowd(monday, truth, seed=seed).public
        value = float(crowd.value)
        for hour in (0, 60, 110):
            unknown = ~np.isnan(public[hour])
            known = sum(truth[monday + timedelta(days=d)] for d in range(7) if not unknown[d])
            public_mean = (known + public[hour][unknown].sum()) / 7
            crowd_errors.append(np.log(crowd.mean[hour] / value))
            public_errors.append(np.log(public_mean / value))
            z.append((crowd.mean[hour] - value) / crowd.sd[hour])
    return crowd_errors, public_errors, z


def test_the_crowds_errors_share_the_public_forecasts_errors(truth):
    """Over two years the new crowd errs with the public forecast (it reads it); the old one does not.
    Both state their uncertainty honestly, and both err a good deal less than the public forecast."""
    for seed in (0, 1):
        new_errors, public_errors, new_z = _open_errors(truth, CrowdParams(), seed)
        old_errors, _, old_z = _open_errors(truth, CrowdParams.independent(), seed)
        assert np.corrcoef(new_errors, public_errors)[0, 1] > 0.3
        assert abs(np.corrcoef(old_errors, public_errors)[0, 1]) < 0.15
        for z in (new_z, old_z):
            assert 0.85 < np.std(z) < 1.2  # calibrated: errors about the size it says
            assert 0.85 < np.mean(np.abs(z) < 1.645) < 0.97  # ... and its 90% intervals hold about 90%
        assert np.std(new_errors) < 0.7 * np.std(public_errors)


def test_the_crowd_leans_on_the_public_forecast_a_little_more_than_is_efficient():
    """Above the efficient weight the public forecast's disagreements with the crowd are, on average, its
    own mistakes; only a little above, so the crowd stays mostly its own judge."""
    params = CrowdParams()
    efficient = params.day_error**2 / (params.public_error**2 + params.day_error**2)
    assert params.efficient_weight == pytest.approx(efficient)
    assert efficient < params.public_weight < efficient + 0.1
    assert CrowdParams.independent().public_weight == 0
    assert PRESETS["new"]() == params and PRESETS["old"]() == CrowdParams.independent()


def test_the_independent_preset_is_the_crowd_before_issue_19(truth):
    """The same draws, number for number, as the crowd before issue 19 (pinned from that code)."""
    crowd = WeekCrowd(MONDAY, truth, seed=3, key="KXTSAW-25MAR23", params=CrowdParams.independent())
    assert float(crowd.mean[0]) == pytest.approx(2632316.9346012645, rel=1e-12)
    assert float(crowd.mean[100]) == pytest.approx(2618329.3852626644, rel=1e-12)
    assert float(crowd.sd[0]) == pytest.approx(39809.75170485553, rel=1e-12)
    assert float(crowd.sd[100]) == pytest.approx(24739.385798795487, rel=1e-12)
    strike = crowd.strikes()[10]
    tape = crowd.tapes((strike,))[strike]
    assert strike == 2_650_000
    assert tape.bid[:8].tolist() == [31, 37, 37, 32, 38, 33, 29, 29]
    assert tape.ask[:8].tolist() == [35, 41, 41, 36, 42, 37, 33, 33]
    assert (len(tape.trade_ts), int(tape.trade_size.sum())) == (61, 682)
    assert tape.trade_price[:5].tolist() == [41, 37, 32, 42, 29] and int(tape.trade_ts[0]) == 1742192988


def _year_of_tapes(truth, params: CrowdParams | None = None):
    for monday in TWO_YEARS[52:]:
        crowd = WeekCrowd(monday, truth, seed=2, params=params)
        for strike, tape in crowd.tapes(crowd.strikes()).items():
            yield crowd, strike, tape


def test_quotes_have_kalshis_shapes(truth):
    """Two-sided spreads of 1 to 6 cents, varied, wider at the open than late in the week; deep strikes
    one-sided (no offer above a near-certain YES, no bid under a near-worthless one); every side in the
    middle quoted; sizes only where there is a side."""
    spreads, open_spreads, late_spreads = [], [], []
    deep_yes = deep_no = 0
    for crowd, strike, tape in _year_of_tapes(truth):
        prob = crowd.probability(strike)
        two = (tape.bid != NO_BID) & (tape.ask != NO_ASK)
        assert ((tape.bid >= 0) & (tape.bid <= 99) & (tape.ask >= 1) & (tape.ask <= 100)).all()
        assert (tape.ask > tape.bid).all()
        spread = tape.ask[two] - tape.bid[two]
        assert ((spread >= 1) & (spread <= 6)).all()
        spreads += spread.tolist()
        open_spreads += (tape.ask - tape.bid)[:24][two[:24]].tolist()
        late_spreads += (tape.ask - tape.bid)[-48:][two[-48:]].tolist()
        middle = (prob > 0.1) & (prob < 0.9)
        assert two[middle].all()
        assert (tape.bid[prob < 0.01] == NO_BID).all() and (tape.ask[prob > 0.99] == NO_ASK).all()
        deep_yes += int((tape.bid[prob > 0.99] >= 93).sum())
        deep_no += int((tape.ask[prob < 0.01] <= 7).sum())
        assert (tape.bid_size[tape.bid == NO_BID] == 0).all() and (
            tape.ask_size[tape.ask == NO_ASK] == 0
        ).all()
    assert set(spreads) == {1, 2, 3, 4, 5, 6}
    assert np.mean(open_spreads) > np.mean(late_spreads) + 0.5
    assert deep_yes > 10_000 and deep_no > 10_000  # the 0.97/1 and 0/0.03 rows of real ladders


def test_trades_come_at_the_quoted_sides_with_real_volumes(truth):
    """A day's volume runs from 0 to about 1,500 contracts a strike, most of it near the money; far from
    it most days trade nothing; a trade only ever hits a side that is quoted."""
    near, far = [], []
    for crowd, strike, tape in _year_of_tapes(truth):
        hour = np.searchsorted(crowd.hours, tape.trade_ts) - 1  # a trade at (hour, hour + 1h]
        at_bid, at_ask = tape.trade_price == tape.bid[hour], tape.trade_price == tape.ask[hour]
        assert (at_bid | at_ask).all()
        assert (tape.bid[hour][at_bid & ~at_ask] != NO_BID).all()
        assert (tape.ask[hour][at_ask & ~at_bid] != NO_ASK).all()
        assert (tape.trade_ts < crowd.close_ts).all()
        day = (tape.trade_ts - crowd.open_ts) // 86_400
        volume = np.bincount(day.astype(int), weights=tape.trade_size, minlength=7)[:7]
        prob = crowd.probability(strike)[12::24]  # noon each day
        near += volume[(prob > 0.2) & (prob < 0.8)].tolist()
        far += volume[(prob < 0.02) | (prob > 0.98)].tolist()
    assert 300 < np.mean(near) < 1_500 and max(near) < 4_000
    assert np.mean(np.array(far) == 0) > 0.6 and np.mean(far) < 30


def test_the_old_shapes_stay_two_sided(truth):
    for _, _, tape in _year_of_tapes(truth, CrowdParams.independent()):
        assert ((tape.bid >= 1) & (tape.ask <= 99) & (tape.ask - tape.bid >= 1)).all()
