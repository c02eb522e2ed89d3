"""Whether a history of quotes can be a KXTSAW ladder at all, before anything is replayed on it.

Each market pays if the weekly mean ends above its strike, so within one event:

- no two markets share a strike;
- the YES price falls as the strike rises: at most moments the lowest quoted strike's mid is above the
  highest's (a moment or two against it is noise in a thin book; most of them is a reversed ladder);
- the results agree: a strike that settled YES means every lower one did too.

A history breaking any of these would replay without a word into a meaningless P&L, so it is refused with
one line naming the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from tsa_bot.quotes.interchange import QuoteFormatError, QuoteRow

TWO = Decimal(2)


class NonsenseQuotes(QuoteFormatError):
    """Quotes that cannot be one event's ladder of strikes: nothing was replayed."""


def _mid(row: QuoteRow) -> Decimal | None:
    """The mid of a two-sided book; None with a side empty (its 0 or 1 says nothing of the ladder)."""
    if row.bid is None or row.ask is None:
        return None
    return (row.bid + row.ask) / TWO


def _check_event(event: str, rows: list[QuoteRow]) -> None:
    strike_of: dict[str, int] = {}
    holder: dict[int, str] = {}
    results: dict[str, str] = {}
    at: dict[datetime, list[tuple[int, Decimal]]] = {}
    for row in rows:
        if row.floor_strike is None:
            continue
        if row.ticker not in strike_of:
            strike_of[row.ticker] = row.floor_strike
            other = holder.setdefault(row.floor_strike, row.ticker)
            if other != row.ticker:
                raise NonsenseQuotes(
                    f"{event}: {row.ticker} and {other} have the same strike {row.floor_strike}"
                )
        if row.result:
            results[row.ticker] = row.result
        mid = _mid(row)
        if mid is not None:
            at.setdefault(row.end_ts, []).append((row.floor_strike, mid))
    rising = falling = 0
    for quotes in at.values():
        if len(quotes) < 2:
            continue
        (_, low), (_, high) = min(quotes), max(quotes)
        rising += low < high
        falling += low > high
    if rising > falling:
        raise NonsenseQuotes(
            f"{event}: its YES prices rise with the strike (reversed strikes?) at {rising} of "
            f"{rising + falling} moments; not replayed"
        )
    lowest_no: str | None = None
    for ticker in sorted(results, key=strike_of.__getitem__):
        if results[ticker] == "no" and lowest_no is None:
            lowest_no = ticker
        elif results[ticker] == "yes" and lowest_no is not None:
            raise NonsenseQuotes(
                f"{event}: {ticker} (strike {strike_of[ticker]}) settled yes but {lowest_no} "
                f"(strike {strike_of[lowest_no]}) no"
            )


def check_ladders(rows: Iterable[QuoteRow]) -> None:
    """Refuse (``NonsenseQuotes``, one line) quotes that cannot be a ladder of strikes; see the module."""
    by_event: dict[str, list[QuoteRow]] = {}
    for row in rows:
        by_event.setdefault(row.event_ticker, []).append(row)
    for event in sorted(by_event):
        _check_event(event, by_event[event])
