"""Order round-trip latency and throughput against the local Kalshi simulator, over loopback HTTP.

Each order goes through the real client: RSA-PSS signing, JSON, HTTP keep-alive, the exchange's
signature check, matching (an immediate-or-cancel bid that takes one contract from the house offer),
fees and the answer. Bounded by ``--orders`` and ``--max-seconds``. ``--history`` instead times hosting a
year of past weeks and downloading every market's hourly candlesticks.

    .venv/bin/python benchmarks/simulator_bench.py --orders 400 --threads 4
    .venv/bin/python benchmarks/simulator_bench.py --history
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from datetime import date
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric import rsa

from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi_sim import EventSeed, HistorySeed, running_simulator
from tsa_bot.kalshi_sim.history import shipped_truth

TICKER = "KXTSAW-26FEB15-A2.30"


def _place_many(client: KalshiClient, count: int, deadline: float, latencies: list[float]) -> None:
    for _ in range(count):
        if time.perf_counter() > deadline:
            return
        request = OrderRequest(
            TICKER, str(uuid.uuid4()), "bid", Decimal(1), Decimal("0.52"), "immediate_or_cancel"
        )
        started = time.perf_counter()
        placed = client.create_order(request)
        latencies.append(time.perf_counter() - started)
        assert placed.fill_count == 1


def _history() -> dict:
    """Host 2025's weeks, then fetch each market's hourly candles (markets, then archived markets)."""
    import httpx

    started = time.perf_counter()
    shipped_truth()
    parsed_s = time.perf_counter() - started
    started = time.perf_counter()
    year = HistorySeed(date(2025, 1, 6), date(2025, 12, 28))
    with running_simulator(history=year, read_rate=1e9) as sim, httpx.Client(base_url=sim.base_url) as http:
        hosted_s = time.perf_counter() - started
        started = time.perf_counter()
        markets = []
        for path in ("/markets", "/historical/markets"):
            cursor = None
            while cursor != "":
                body = http.get(path, params={"limit": 1000, "cursor": cursor or ""}).json()
                markets += [(path, m["ticker"]) for m in body["markets"]]
                cursor = body["cursor"]
        candles = 0
        params = {"start_ts": 0, "end_ts": 2_000_000_000, "period_interval": 60}
        for path, ticker in markets:
            url = f"/series/KXTSAW/markets/{ticker}/candlesticks"
            if path.startswith("/historical"):
                url = f"/historical/markets/{ticker}/candlesticks"
            candles += len(http.get(url, params=params).json()["candlesticks"])
        fetched_s = time.perf_counter() - started
    return {
        "truth_parse_s": round(parsed_s, 2),
        "host_year_s": round(hosted_s, 2),
        "markets": len(markets),
        "hourly_candles": candles,
        "download_s": round(fetched_s, 2),
        "requests_per_s": round((len(markets) + 2) / fetched_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400, help="orders per phase")
    parser.add_argument("--threads", type=int, default=4, help="client threads in the throughput phase")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time bound per phase")
    parser.add_argument("--history", action="store_true", help="time a year of candlesticks instead")
    args = parser.parse_args()
    if args.history:
        print(json.dumps(_history(), indent=2))
        return

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(args.threads)]
    seed = EventSeed(depth=Decimal(1_000_000))
    # Rate limits off: this measures the simulator, not Kalshi's token buckets.
    with running_simulator(seed, read_rate=1e9, write_rate=1e9) as sim:
        for i, key in enumerate(keys):
            sim.register_key(f"bench-{i}", key.public_key(), balance=Decimal(10_000_000))
        clients = [KalshiClient(sim.base_url, f"bench-{i}", private_key=k) for i, k in enumerate(keys)]

        _place_many(clients[0], 20, time.perf_counter() + 5, [])  # warm-up: connection, caches

        latencies: list[float] = []
        started = time.perf_counter()
        _place_many(clients[0], args.orders, started + args.max_seconds, latencies)
        sequential_s = time.perf_counter() - started

        per_thread: list[list[float]] = [[] for _ in clients]
        share = args.orders // len(clients)
        deadline = time.perf_counter() + args.max_seconds
        threads = [
            threading.Thread(target=_place_many, args=(c, share, deadline, per_thread[i]))
            for i, c in enumerate(clients)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent_s = time.perf_counter() - started
        concurrent = [x for xs in per_thread for x in xs]
        for c in clients:
            c.close()

    quantiles = statistics.quantiles(latencies, n=100)
    report = {
        "sequential": {
            "orders": len(latencies),
            "p50_ms": round(quantiles[49] * 1000, 2),
            "p95_ms": round(quantiles[94] * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2),
            "orders_per_s": round(len(latencies) / sequential_s, 1),
        },
        "concurrent": {
            "threads": len(clients),
            "orders": len(concurrent),
            "p50_ms": round(statistics.median(concurrent) * 1000, 2),
            "p95_ms": round(statistics.quantiles(concurrent, n=100)[94] * 1000, 2),
            "orders_per_s": round(len(concurrent) / concurrent_s, 1),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
