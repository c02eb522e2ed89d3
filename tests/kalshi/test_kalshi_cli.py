"""``tsabot kalshi ...`` against the simulator, and ``tsabot simulator`` as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from kalshi_testkit import KEY_ID
from key_testkit import write_key_file

from tsa_bot.kalshi.errors import KalshiNotFound
from tsa_bot.local.cli import main

T = "KXTSAW-26FEB15-A2.30"


@pytest.fixture
def kalshi_env(monkeypatch, tmp_path, sim, rsa_key):
    key_path = tmp_path / "kalshi.pem"  # generated for this test, deleted with tmp_path
    write_key_file(key_path, rsa_key)
    monkeypatch.setenv("KALSHI_API_BASE", sim.base_url)
    monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_path))
    return sim


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_event_orderbook_as_json(kalshi_env, capsys):
    code, out, _ = run(capsys, "kalshi", "status", "--json")
    assert code == 0 and json.loads(out) == {"exchange_active": True, "trading_active": True}
    code, out, _ = run(capsys, "kalshi", "event", "KXTSAW-26FEB15", "--json")
    assert code == 0 and len(json.loads(out)["markets"]) == 21
    code, out, _ = run(capsys, "kalshi", "orderbook", T, "--json")
    assert json.loads(out)["yes_bids"][0] == {"price": "0.4800", "count": "50.00"}
    code, out, _ = run(capsys, "kalshi", "orderbook", T)
    assert out.splitlines()[:3] == [T, "YES bids:", "  0.4800 x 50.00"]


def test_place_buy_no_then_positions_orders_balance_and_cancel(kalshi_env, capsys):
    code, out, _ = run(
        capsys, "kalshi", "place", T, "buy", "no", "5", "0.52", "--json", "--client-order-id", "cli-1"
    )
    assert code == 0 and json.loads(out)["fill_count"] == "5.00"
    code, out, _ = run(capsys, "kalshi", "positions", "--json")
    assert json.loads(out)["market_positions"][0]["position_fp"] == "-5.00"
    code, out, _ = run(capsys, "kalshi", "place", T, "buy", "yes", "3", "0.30")
    assert code == 0 and "resting 3.00" in out
    code, out, _ = run(capsys, "kalshi", "orders", "--status", "resting", "--json")
    [resting] = json.loads(out)
    code, out, _ = run(capsys, "kalshi", "cancel", resting["order_id"])
    assert code == 0 and "reduced by 3.00" in out
    code, out, _ = run(capsys, "kalshi", "balance")
    assert out.startswith("balance: $")
    # the same client_order_id again: reported as already placed, not placed twice
    code, out, _ = run(capsys, "kalshi", "place", T, "buy", "no", "5", "0.52", "--client-order-id", "cli-1")
    assert "already placed" in out
    assert len(kalshi_env.exchange.accounts[KEY_ID].orders) == 2


@pytest.mark.parametrize(
    ("action", "direction", "price", "book_side", "yes_price"),
    [
        ("buy", "yes", "0.30", "bid", "0.30"),
        ("buy", "no", "0.60", "ask", "0.40"),
        ("sell", "yes", "0.60", "ask", "0.60"),  # selling YES at p: an ask at p
        ("sell", "no", "0.60", "bid", "0.40"),  # selling NO at q: a bid at 1 - q
    ],
)
def test_place_puts_every_intent_on_the_yes_book(
    kalshi_env, capsys, action, direction, price, book_side, yes_price
):
    code, _, _ = run(
        capsys, "kalshi", "place", T, action, direction, "2", price, "--tif", "immediate_or_cancel"
    )
    assert code == 0
    [order] = kalshi_env.exchange.accounts[KEY_ID].orders
    assert (order.book_side, order.price) == (book_side, Decimal(yes_price))


def test_errors_are_one_line_with_exit_code_2(kalshi_env, capsys, monkeypatch):
    code, _, err = run(capsys, "kalshi", "cancel", "no-such-order")
    assert code == 2 and err.count("\n") == 1 and "404 not_found" in err
    code, _, err = run(capsys, "kalshi", "place", T, "buy", "yes", "1", "0.555")
    assert code == 2 and "invalid_price" in err
    code, _, err = run(capsys, "kalshi", "place", T, "buy", "yes", "1", "1.5")
    assert code == 2 and "below 1" in err
    monkeypatch.delenv("KALSHI_KEY_ID")
    code, _, err = run(capsys, "kalshi", "balance")
    assert (code, err) == (2, "tsabot: error: KALSHI_KEY_ID is not set\n")
    monkeypatch.setenv("KALSHI_API_BASE", "https://external-api.kalshi.com/trade-api/v2")
    code, _, err = run(capsys, "kalshi", "status")
    assert code == 2 and "refusing to contact the production host" in err


@pytest.mark.slow
def test_simulator_command_serves_until_interrupted(rsa_key, other_rsa_key, tmp_path):
    keys = {KEY_ID: rsa_key, "second-key": other_rsa_key}
    argv = [sys.executable, "-m", "tsa_bot.local.cli", "simulator", "--port", "0"]
    for key_id, key in keys.items():
        public = tmp_path / f"{key_id}.pem"
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        argv += ["--key-id", key_id, "--public-key", str(public)]
    argv += ["--seed-week", "2025-12-29", "--seed-center", "2450000"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        banner = proc.stdout.readline()
        base = banner.split(" on ")[1].split(" ")[0]
        assert "KXTSAW-26JAN04" in banner
        assert httpx.get(f"{base}/exchange/status").json()["trading_active"] is True
        from tsa_bot.kalshi.client import KalshiClient

        for key_id, key in keys.items():
            with KalshiClient(base, key_id, private_key=key) as c:
                assert c.balance().balance_dollars == 1000
        with KalshiClient(base) as c:
            markets = c.event("KXTSAW-26JAN04").markets
            assert len(markets) == 21 and markets[10].floor_strike == 2_450_000
            assert c.orderbook(markets[10].ticker).yes_bids[0].price == Decimal("0.48")
            with pytest.raises(KalshiNotFound):  # only the seeded week is listed
                c.event("KXTSAW-26FEB15")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) in (0, 130)


def test_simulator_command_refuses_unpaired_keys_and_bad_weeks(capsys, tmp_path):
    code, _, err = run(capsys, "simulator", "--key-id", "k1")
    assert code == 2 and "each --key-id needs its --public-key" in err
    code, _, err = run(capsys, "simulator", "--seed-week", "not-a-date")
    assert code == 2 and err.strip() == "tsabot: error: --seed-week is not a date (YYYY-MM-DD): 'not-a-date'"
