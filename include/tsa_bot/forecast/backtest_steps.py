"""The backtest in three steps for a DAG that maps over weeks: plan the weeks, forecast one, summarise.

A multi-year backtest is hundreds of Prophet fits, one per week; mapped one task per week, they spread over
as many Celery workers as there are. Each step runs without Airflow and passes only small JSON. The
result is `run_backtest`'s on the same range: the same weeks (`calibration_pool`), each forecast by the
same `points_for_week`, calibrated by the same `calibrate_weeks` and scored by the same `BacktestResult`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsa_bot.core.errors import ValidationError, parse_date
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS, MIN_CALIBRATION_WEEKS


@dataclass(frozen=True)
class BacktestSpec:
    """What one backtest run scores: the data, its range and the known-days count."""

    data: Path
    start: dt.date
    end: dt.date
    known_days: int
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS
    output: Path | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> BacktestSpec:
        """The spec from a DAG run's params; a bad value is a one-line `ValidationError`."""
        data = str(params.get("data") or "")
        if not data:
            raise ValidationError("the data param is required: a CSV with date,passengers")
        spec = cls(
            Path(data),
            parse_date(params.get("start"), "start"),
            parse_date(params.get("end"), "end"),
            _int(params.get("known_days", 0), "known_days"),
            _int(params.get("calibration_weeks", DEFAULT_CALIBRATION_WEEKS), "calibration_weeks"),
            Path(params["output"]) if params.get("output") else None,
        )
        if spec.calibration_weeks < MIN_CALIBRATION_WEEKS:
            raise ValidationError(
                f"calibration_weeks must be at least {MIN_CALIBRATION_WEEKS}, got {spec.calibration_weeks}"
            )
        return spec

    def weeks(self) -> list[dt.date]:
        """The Mondays scored (the range is checked here, before any fit)."""
        from tsa_bot.forecast.backtest import backtest_weeks

        return backtest_weeks(self.start, self.end, [self.known_days])

    def output_path(self) -> Path:
        """Where the result goes: the ``output`` param, else a file named for the range in the state dir."""
        from tsa_bot.core.config import get_settings

        name = f"backtest_{self.start}_{self.end}_k{self.known_days}.json"
        return self.output or get_settings().state_dir / "backtests" / name


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"{name} is not a whole number: {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{name} is not a whole number: {value!r}") from None


def plan(params: Mapping[str, Any]) -> list[str]:
    """Every week to forecast, as ISO Mondays: the scored weeks and the calibration weeks before them."""
    from tsa_bot.forecast.data import load_csv
    from tsa_bot.forecast.forecaster import calibration_pool

    spec = BacktestSpec.from_params(params)
    load_csv(spec.data)  # an unreadable file fails here, once, not in every mapped task
    return [w.isoformat() for w in calibration_pool(spec.weeks(), spec.calibration_weeks)]


def forecast_week(params: Mapping[str, Any], week: str) -> dict[str, Any]:
    """One week's point forecasts (or why it has none), as JSON: what one mapped task computes."""
    from tsa_bot.forecast.data import load_csv
    from tsa_bot.forecast.forecaster import encode_points, points_for_week

    spec = BacktestSpec.from_params(params)
    week_start = parse_date(week, "week")
    found = points_for_week(load_csv(spec.data), week_start, [spec.known_days])
    return {"week": week_start.isoformat(), "points": encode_points(found)}


def summarise(params: Mapping[str, Any], forecasts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Score the range's weeks from every week's points; write `tsabot backtest`'s JSON document.

    Returns the summary and the file's path: small enough for an XCom.
    """
    from tsa_bot.forecast.backtest import BacktestResult
    from tsa_bot.forecast.forecaster import calibrate_weeks, calibration_pool, decode_points

    spec = BacktestSpec.from_params(params)
    points = {dt.date.fromisoformat(f["week"]): decode_points(f["points"]) for f in forecasts}
    weeks = spec.weeks()
    missing = sorted(set(calibration_pool(weeks, spec.calibration_weeks)) - set(points))
    if missing:
        raise ValidationError(f"{len(missing)} week(s) were not forecast, first {missing[0]}")
    calibrated = calibrate_weeks(points, weeks, [spec.known_days], spec.calibration_weeks)
    result = BacktestResult(spec.known_days, calibrated[spec.known_days])
    output = spec.output_path()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result.to_json(), indent=1) + "\n")
    except OSError as exc:
        raise ValidationError(f"cannot write the backtest to {output}: {exc.strerror or exc}") from None
    return {"json": str(output), **result.summary()}
