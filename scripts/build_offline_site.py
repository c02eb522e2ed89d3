"""Render the shipped offline TSA page set from the real data in ../shared/data.

The current page shows the newest year, newest first (as tsa.gov does); each year page shows one year,
oldest first. Run: ``.venv/bin/python scripts/build_offline_site.py [CSV]``.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

from tsa_bot.core.records import DailyCount
from tsa_bot.sources.offline import OFFLINE_SITE_DIR, render_page

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "tsa_daily_2019_2025.csv"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CSV
    with source.open() as fh:
        rows = [DailyCount(date.fromisoformat(r["date"]), int(r["passengers"])) for r in csv.DictReader(fh)]
    years = sorted({r.day.year for r in rows})
    OFFLINE_SITE_DIR.mkdir(exist_ok=True)
    for old in OFFLINE_SITE_DIR.glob("passenger-volumes*.html"):
        old.unlink()
    for year in years:
        page = render_page([r for r in rows if r.day.year == year], year=year, years_linked=years)
        (OFFLINE_SITE_DIR / f"passenger-volumes-{year}.html").write_text(page)
    newest = [r for r in rows if r.day.year == years[-1]]
    current = render_page(newest, years_linked=years[:-1], newest_first=True)
    (OFFLINE_SITE_DIR / "passenger-volumes.html").write_text(current)
    print(f"wrote {len(years) + 1} pages for {years[0]}-{years[-1]} to {OFFLINE_SITE_DIR}")


if __name__ == "__main__":
    main()
