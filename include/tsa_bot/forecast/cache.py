"""A file cache of each week's point forecasts, keyed by the exact rows and settings they came from.

A live forecast calibrates its spread on the 52 weeks before it, each re-forecast point in time; those
past weeks are the same every day, so the daily run would refit ~100 Prophet models to get the same
numbers. The key is a hash of the model version, the forecasting code itself, the parameters, the week,
the known-days counts and every (date, value) row the week's forecast may see, so a revised or newly
filled row, or any change to the model, misses the cache and is recomputed: a hit can only ever return
what recomputing would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsa_bot.core.config import get_settings

log = logging.getLogger(__name__)

# The modules whose code decides a week's point forecasts.
_MODEL_SOURCES = ("model.py", "baseline.py", "calendar.py", "data.py", "forecaster.py")
_CODE_DIGEST = hashlib.sha256(
    b"".join((Path(__file__).with_name(name)).read_bytes() for name in _MODEL_SOURCES)
).hexdigest()


def cache_key(
    model_version: str, params: Any, week_start: dt.date, known_days: tuple[int, ...], rows: pd.Series
) -> str:
    digest = hashlib.sha256()
    digest.update(f"{model_version}|{_CODE_DIGEST}|{params!r}|{week_start.isoformat()}|{known_days}".encode())
    # Seconds since the epoch, whatever the index resolution (a CSV loads in us, the warehouse in s).
    digest.update(np.ascontiguousarray(pd.DatetimeIndex(rows.index).as_unit("s").asi8).tobytes())
    digest.update(np.ascontiguousarray(rows.to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


class PointCache:
    """JSON files under ``directory``, one per key; unreadable entries are recomputed, never trusted."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def get(self, key: str, decode: Callable[[Any], Any]) -> Any | None:
        path = self.directory / f"{key}.json"
        try:
            return decode(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable forecast cache entry %s: %s", path.name, exc)
            return None

    def put(self, key: str, payload: Any) -> None:
        """Write atomically, so a task killed mid-write leaves no half file behind."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle)
            os.replace(tmp, self.directory / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def default_cache() -> PointCache:
    """The cache every forecast of the runner and the DAGs shares: ``TSABOT_FORECAST_CACHE_DIR``, else
    ``<state dir>/forecast-cache``."""
    settings = get_settings()
    return PointCache(settings.forecast_cache_dir or settings.state_dir / "forecast-cache")
