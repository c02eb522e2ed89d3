"""The chart cache: a chart is drawn once per distinct input, redrawn when its input changes, and bounded."""

from __future__ import annotations

from tsa_bot.ui.chart_cache import ENTRIES, FingerprintCache, cached_chart, clear_chart_caches, fingerprint


def _counting_chart():
    drawn: list[object] = []

    @cached_chart
    def chart(rows: list[dict], title: str = "t") -> str:
        drawn.append(rows)
        return f"<svg>{title}:{len(rows)}:{sum(r['v'] for r in rows)}</svg>"

    return chart, drawn


def test_the_same_rows_are_drawn_once_and_changed_rows_again():
    chart, drawn = _counting_chart()
    rows = [{"day": "2025-01-06", "v": 1.5}, {"day": "2025-01-13", "v": 2.0}]
    assert chart(rows) == chart([dict(r) for r in rows]) == "<svg>t:2:3.5</svg>"  # equal rows, new objects
    assert len(drawn) == 1
    assert chart([*rows[:1], {"day": "2025-01-13", "v": 2.25}]) == "<svg>t:2:3.75</svg>"  # one value changed
    assert chart(rows, title="u") == "<svg>u:2:3.5</svg>"  # another argument is another chart
    assert len(drawn) == 3
    clear_chart_caches()  # as after the data changed everywhere: drawn anew
    chart(rows)
    assert len(drawn) == 4


def test_the_cache_keeps_the_latest_entries_only():
    cache: FingerprintCache[int] = FingerprintCache()
    made: list[int] = []

    def make(i: int) -> int:
        made.append(i)
        return i * i

    for i in range(ENTRIES + 3):
        assert cache.get_or_make(f"k{i}", lambda i=i: make(i)) == i * i
    assert len(cache) == ENTRIES
    assert cache.get_or_make(f"k{ENTRIES + 2}", lambda: make(-1)) == (ENTRIES + 2) ** 2  # kept
    assert cache.get_or_make("k0", lambda: make(0)) == 0  # the oldest went: made again
    assert made.count(0) == 2 and -1 not in made


def test_fingerprints_tell_values_apart_not_key_order():
    assert fingerprint({"a": 1, "b": [1.0, None]}) == fingerprint({"b": [1.0, None], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.5})
    assert fingerprint(["2025-01-06", 1]) != fingerprint(["2025-01-06", 2])
