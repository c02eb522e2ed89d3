"""``tsabot replay``: the live strategy over quote history, beside the YoY baseline and doing nothing."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from tsa_bot.core.config import get_settings
from tsa_bot.core.errors import ValidationError, parse_date
from tsa_bot.core.market import SERIES, mondays_between
from tsa_bot.forecast.cache import PointCache, default_cache
from tsa_bot.forecast.calibration import DEFAULT_CALIBRATION_WEEKS
from tsa_bot.forecast.data import load_csv
from tsa_bot.forecast.forecaster import DEFAULT_WORKERS, check_workers
from tsa_bot.pricing.execution import Execution, parse_execution
from tsa_bot.quotes.interchange import QuoteRow, read_quotes_file
from tsa_bot.quotes.sanity import check_ladders
from tsa_bot.replay import report
from tsa_bot.replay.engine import BASELINE, MODEL, NOTHING, replay
from tsa_bot.replay.forecasts import Forecaster
from tsa_bot.replay.market import event_histories
from tsa_bot.trading.config import TradingConfig, parse_policy
from tsa_bot.trading.policies import policy_names


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="replay the live strategy over quote history (P&L, Brier against the market)",
        description="Trade every day of every week whose Monday is in [start, end], point in time.",
    )
    p.add_argument(
        "--data", help="TSA CSV with date,passengers (default: the warehouse's first-published numbers)"
    )
    p.add_argument("--quotes", help="quote interchange CSV (default: the warehouse's quote history)")
    p.add_argument("--start", required=True, help="first week's Monday (or a day before it), YYYY-MM-DD")
    p.add_argument("--end", required=True, help="the last Monday may fall on this day, YYYY-MM-DD")
    p.add_argument("--json", required=True, help="write the result object here")
    p.add_argument("--plot", help="write a PNG chart (equity, Brier by day) here")
    p.add_argument(
        "--policy", default=None, help=f"one of {', '.join(policy_names())} (default: the trading config's)"
    )
    p.add_argument(
        "--execution",
        default=None,
        help="taker (buy at the offer) or maker (rest at or inside the bid until the next moment; filled "
        "only where a later candle traded through the price); default: the trading config's "
        "(TSABOT_EXECUTION, else taker)",
    )
    p.add_argument(
        "--period", type=int, choices=(60, 1440), default=60, help="warehouse candles (default 60)"
    )
    p.add_argument("--cache-dir", help="forecast point cache (default: the DAG's, under TSABOT_STATE_DIR)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="parallel forecast processes")
    p.add_argument("--calibration-weeks", type=int, default=DEFAULT_CALIBRATION_WEEKS, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_replay_command)
    _register_score(subparsers)


def _register_score(subparsers: Any) -> None:
    """``tsabot kalshi history --score``: the history parser (``tsa_bot.quotes.commands``) declares the
    flag; the scoring is the replay's, so its handler and options are added here."""
    kalshi = subparsers.choices.get("kalshi")
    if kalshi is None:
        return
    (kalshi_subparsers,) = (a for a in kalshi._actions if isinstance(a, argparse._SubParsersAction))
    history = kalshi_subparsers.choices.get("history")
    if history is None:
        return
    history.add_argument(
        "--calibration-weeks", type=int, default=DEFAULT_CALIBRATION_WEEKS, help=argparse.SUPPRESS
    )
    history.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help=argparse.SUPPRESS)
    history.set_defaults(score_handler=run_score_command)


def run_score_command(args: argparse.Namespace) -> int:
    """Score the warehouse's quote history of ``--period`` candles, as the ``tsa_market_history`` DAG does."""
    from tsa_bot.replay.scores import score_history
    from tsa_bot.warehouse.engine import get_engine
    from tsa_bot.warehouse.migrate import migrate

    if args.calibration_weeks < 1:
        raise ValidationError("--calibration-weeks must be at least 1")
    check_workers(args.workers)
    if args.series != SERIES:
        raise ValidationError(f"--score knows the {SERIES} weekly events only, not --series {args.series}")
    engine = get_engine(args.warehouse_url)
    migrate(engine)
    done = score_history(
        engine,
        period=args.period,
        calibration_weeks=args.calibration_weeks,
        workers=args.workers,
    )
    print(json.dumps(done.as_json(), indent=2) if args.json else done.line())
    return 0


def _warehouse_quotes(start: dt.date, end: dt.date, period: int) -> list[QuoteRow]:
    from tsa_bot.quotes.store import read_history
    from tsa_bot.warehouse.engine import get_engine

    with get_engine().begin() as conn:
        return read_history(conn, period=period, series="KXTSAW", start=start, end=end + dt.timedelta(days=7))


def _warehouse_series() -> pd.Series:
    """The TSA numbers in the warehouse as first published (what Kalshi settles on), by day."""
    from tsa_bot.forecast.data import to_series
    from tsa_bot.warehouse.engine import get_engine
    from tsa_bot.warehouse.tsa_daily import first_published_as_of

    days = first_published_as_of(get_engine(), dt.datetime.now(dt.UTC))
    if not days:
        raise ValidationError(
            "the warehouse holds no TSA numbers: ingest them first (tsabot ingest, or a tsa_daily run)"
        )
    index = pd.DatetimeIndex([pd.Timestamp(d.day) for d in days])
    return to_series(pd.Series([float(d.passengers) for d in days], index=index))


def run_replay(
    series: pd.Series,
    rows: Sequence[QuoteRow],
    start: dt.date,
    end: dt.date,
    *,
    config: TradingConfig,
    execution: Execution | None = None,
    workers: int = DEFAULT_WORKERS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    cache: PointCache | None = None,
) -> dict[str, Any]:
    """The whole replay as its JSON document: the strategy, the YoY baseline's and doing nothing, all with
    the same ``execution`` (else the config's)."""
    execution = execution or config.execution
    weeks = mondays_between(start, end)
    if not weeks:
        raise ValidationError(f"no Monday between {start} and {end}: nothing to replay")
    check_ladders(rows)  # before any forecast: nonsense is refused in a second, not after the fits
    histories = event_histories(rows, weeks)
    if not histories:
        raise ValidationError(f"the quotes have no KXTSAW event for the weeks of {weeks[0]} .. {weeks[-1]}")
    forecaster = Forecaster(series, calibration_weeks=calibration_weeks, workers=workers, cache=cache)
    forecaster.warm([w for w in weeks if w in histories])
    strategy, *beside = (
        replay(histories, weeks, forecaster, config, source=source, execution=execution)
        for source in (MODEL, BASELINE, NOTHING)
    )
    return report.document(strategy, beside, start=start.isoformat(), end=end.isoformat(), weeks=len(weeks))


def latest_replay_file() -> Path:
    """Where the latest replay's document is kept for the project's page to show."""
    return get_settings().state_dir / "replay" / "latest.json"


def save_latest(doc: dict[str, Any]) -> None:
    """Keep ``doc`` as the latest replay, and as the latest of its execution (``latest-maker.json``), each
    whole or not at all (written beside, then renamed)."""
    path = latest_replay_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {**doc, "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    execution = doc.get("summary", {}).get("execution", "taker")
    # The latest of each execution too, so the page can put maker beside taker.
    for target in (path, path.with_name(f"latest-{execution}.json")):
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(saved) + "\n")
        tmp.replace(target)


def replay_range(
    start: dt.date,
    end: dt.date,
    *,
    policy: str | None = None,
    execution: Execution | None = None,
    period: int = 60,
    data: Path | None = None,
    quotes: Path | None = None,
    cache_dir: Path | None = None,
    workers: int = DEFAULT_WORKERS,
    calibration_weeks: int = DEFAULT_CALIBRATION_WEEKS,
    keep_latest: bool = True,
) -> dict[str, Any]:
    """``tsabot replay`` and the ``tsa_replay`` DAG: the replay of the weeks from ``start`` to ``end``,
    kept as the latest for the page (unless ``keep_latest`` is false: the caller keeps it once its own
    outputs are written), as its JSON document.

    TSA numbers from ``data`` (a CSV), else the warehouse's; quotes from ``quotes`` (an interchange CSV),
    else the warehouse's candles of ``period`` minutes; forecasts through the shared point cache
    (`default_cache()` unless ``cache_dir``). ``policy`` and ``execution``: else the trading config's.
    """
    config = TradingConfig.from_env()
    if policy is not None:
        config = replace(config, policy=policy)
    series = load_csv(data) if data else _warehouse_series()
    rows = read_quotes_file(quotes) if quotes else _warehouse_quotes(start, end, period)
    doc = run_replay(
        series,
        rows,
        start,
        end,
        config=config,
        execution=execution,
        workers=workers,
        calibration_weeks=calibration_weeks,
        cache=PointCache(cache_dir) if cache_dir else default_cache(),
    )
    if keep_latest:
        save_latest(doc)
    return doc


def _plot_formats() -> set[str]:
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


def output_path(text: str, flag: str, *, formats: set[str] | None = None) -> Path:
    """Where ``flag`` writes, checked before anything is computed: a new or regular file in a folder this
    process may create files in (and, for a chart, a format matplotlib draws); else one line."""
    path = Path(text)
    if path.is_dir():
        raise ValidationError(f"{flag} {path} is a directory")
    if path.exists() and not path.is_file():
        raise ValidationError(f"{flag} {path} is not a regular file")
    if not path.parent.is_dir():
        raise ValidationError(f"directory for {flag} does not exist: {path.parent}")
    if formats is not None:
        suffix = path.suffix.lower().lstrip(".") or "png"
        if suffix not in formats:
            raise ValidationError(
                f"{flag} {path}: cannot draw a .{suffix} file; use one of .{', .'.join(sorted(formats))}"
            )
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise ValidationError(f"cannot write {flag} {path}: {exc.strerror}") from None
    return path


def _write_beside(path: Path, write: Any) -> Path:
    """``write(temp)`` into a new file beside ``path`` (same suffix, for matplotlib); the file's path."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".png")
    os.close(fd)
    try:
        write(Path(name))
        # mkstemp's file is private (0600): give it the mode the output had, or a plain file's.
        os.chmod(name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def run_replay_command(args: argparse.Namespace) -> int:
    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if start > end:
        raise ValidationError(f"--start {start} is after --end {end}")
    check_workers(args.workers)
    out = output_path(args.json, "--json")
    plot = output_path(args.plot, "--plot", formats=_plot_formats()) if args.plot else None
    policy = parse_policy(args.policy, "--policy") if args.policy else None
    execution = parse_execution(args.execution) if args.execution else None
    began, cpu = time.monotonic(), time.process_time()
    doc = replay_range(
        start,
        end,
        policy=policy,
        execution=execution,
        period=args.period,
        data=Path(args.data) if args.data else None,
        quotes=Path(args.quotes) if args.quotes else None,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        workers=args.workers,
        calibration_weeks=args.calibration_weeks,
        keep_latest=False,
    )
    # Every output written beside its place first; then each put in place, and only then is the run the
    # page's latest: a run that fails to write leaves the earlier latest replay where it was.
    written = [(_write_beside(out, lambda p: p.write_text(json.dumps(doc, indent=1) + "\n")), out)]
    try:
        if plot is not None:
            written.append((_write_beside(plot, lambda p: report.plot(doc, p)), plot))
    except BaseException:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
        raise
    for temp, final in written:
        temp.replace(final)
    save_latest(doc)
    print(report.table(doc))
    print(
        f"{doc['run']['weeks']} weeks in {time.monotonic() - began:.0f}s "
        f"({time.process_time() - cpu:.0f}s CPU in this process); JSON written to {out}"
    )
    if plot is not None:
        print(f"chart written to {plot}")
    return 0
