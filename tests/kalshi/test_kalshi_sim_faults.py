"""Fault injection (from Python, over the admin API and from the command line) and the admin token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from kalshi_testkit import FAST_RETRY, KEY_ID

from tsa_bot.kalshi.client import KalshiClient
from tsa_bot.kalshi.errors import KalshiServerError, KalshiUnavailable
from tsa_bot.kalshi.models import OrderRequest
from tsa_bot.kalshi_sim import running_simulator
from tsa_bot.kalshi_sim.faults import Fault, FaultSyntaxError, parse_fault
from tsa_bot.local.cli import main

T = "KXTSAW-26FEB15-A2.30"


def _public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# ---- the syntax ---------------------------------------------------------------------------------------


def test_fault_syntax_reads_every_option():
    assert parse_fault("latency:ms=150") == Fault("*", "", "latency", times=None, delay_s=0.15)
    assert parse_fault("drop_after:method=post,path=/portfolio/events/orders,times=1") == Fault(
        "POST", "/portfolio/events/orders", "drop_after", times=1
    )
    assert parse_fault("500:method=GET,path=/portfolio/orders,rate=0.5") == Fault(
        "GET", "/portfolio/orders", "500", times=None, rate=0.5
    )
    assert parse_fault("429") == Fault("*", "", "429", times=None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("explode", "unknown fault kind 'explode'"),
        ("500:times=0", "times must be a whole number of at least 1"),
        ("500:times=two", "times must be a whole number"),
        ("500:rate=1.5", "rate must be a probability"),
        ("500:rate=nan", "rate must be a probability"),
        ("latency", "latency needs ms="),
        ("500:ms=10", "ms= goes with latency"),
        ("latency:ms=-1", "ms must be milliseconds"),
        ("500:method=PATCH", "method must be GET, POST or DELETE"),
        ("500:path=markets", "path must start with /"),
        ("500:colour=red", "bad option 'colour=red'"),
        ("500:times=1,times=2", "bad option 'times=2'"),
    ],
)
def test_bad_fault_syntax_is_named(text, says):
    with pytest.raises(FaultSyntaxError, match=says):
        parse_fault(text)


# ---- over HTTP ------------------------------------------------------------------------------------------


def test_admin_endpoints_refuse_a_missing_or_wrong_token(rsa_key):
    with running_simulator() as sim:
        body = {"key_id": "k", "public_key_pem": _public_pem(rsa_key)}
        missing = httpx.post(f"{sim.root_url}/sim/keys", json=body)
        wrong = httpx.post(f"{sim.root_url}/sim/keys", json=body, headers={"Authorization": "Bearer nope"})
        for refused in (missing, wrong):
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert "k" not in sim.exchange.accounts
        settle = httpx.post(f"{sim.root_url}/sim/settle", json={"event_ticker": "KXTSAW-26FEB15", "value": 1})
        assert settle.status_code == 401 and sim.exchange.markets[T].status == "active"
        assert httpx.post(f"{sim.root_url}/sim/faults", json={"fault": "500"}).status_code == 401
        assert sim.exchange.faults.faults == []
        assert httpx.get(f"{sim.root_url}/sim/health").json() == {"ok": True}  # open, for health checks
        assert sim.admin("POST", "/sim/keys", body).status_code == 201 and "k" in sim.exchange.accounts


def test_faults_installed_over_the_admin_api_play_then_clear(client, sim):
    bad = sim.admin("POST", "/sim/faults", {"fault": "500:times=0"})
    assert bad.status_code == 400 and "times must be" in bad.json()["msg"]
    answer = sim.admin("POST", "/sim/faults", {"faults": ["500:method=GET,path=/exchange/status,times=1"]})
    assert answer.status_code == 201
    status = httpx.get(f"{sim.base_url}/exchange/status")
    assert status.status_code == 500 and status.json()["error"]["code"] == "internal_server_error"
    assert httpx.get(f"{sim.base_url}/exchange/status").status_code == 200  # times=1: once only
    sim.admin("POST", "/sim/faults", {"fault": "500:path=/exchange"})
    assert httpx.get(f"{sim.base_url}/exchange/status").status_code == 500
    assert sim.admin("DELETE", "/sim/faults").status_code == 200
    assert httpx.get(f"{sim.base_url}/exchange/status").status_code == 200


def test_latency_delays_every_matching_answer(sim):
    sim.exchange.faults.add(parse_fault("latency:ms=600,path=/markets"))
    with httpx.Client() as http:
        started = time.perf_counter()
        assert http.get(f"{sim.base_url}/markets/{T}").status_code == 200
        slow = time.perf_counter() - started
        started = time.perf_counter()
        http.get(f"{sim.base_url}/exchange/status")
        fast = time.perf_counter() - started
    assert slow >= 0.6 and fast < 0.45  # generous: the machine's cores are shared


def test_a_rate_fails_about_that_share_of_requests_reproducibly(sim):
    sim.exchange.faults.add(parse_fault("429:rate=0.3,path=/exchange"))
    with httpx.Client() as http:
        codes = [http.get(f"{sim.base_url}/exchange/status").status_code for _ in range(200)]
    assert set(codes) == {200, 429} and 40 <= codes.count(429) <= 80
    with running_simulator(read_rate=10_000) as again:
        again.exchange.faults.add(parse_fault("429:rate=0.3,path=/exchange"))
        with httpx.Client() as http:
            assert [http.get(f"{again.base_url}/exchange/status").status_code for _ in range(200)] == codes


def test_failed_lookups_after_a_lost_answer_leave_one_order(client, sim):
    sim.exchange.faults.add(parse_fault("drop_after:method=POST,path=/portfolio/events/orders"))
    sim.exchange.faults.add(parse_fault("500:method=GET,path=/portfolio/orders"))
    with pytest.raises((KalshiUnavailable, KalshiServerError)):
        client.create_order(OrderRequest(T, "lost-1", "bid", Decimal(2), Decimal("0.52")))
    assert [o.client_order_id for o in sim.exchange.accounts[KEY_ID].orders] == ["lost-1"]


# ---- from the command line ------------------------------------------------------------------------------


def _start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsa_bot.local.cli", "simulator", "--port", "0", *argv],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )
    banner = proc.stdout.readline()
    return proc, banner.split(" on ")[1].split(" ")[0].removesuffix("/trade-api/v2")


def test_command_line_faults_and_the_admin_token_from_the_environment(rsa_key):
    proc, root = _start(
        [
            "--fault",
            "drop_after:method=POST,path=/portfolio/events/orders,times=1",
            "--fault",
            "latency:ms=120,path=/exchange",
        ],
        {"TSABOT_SIM_ADMIN_TOKEN": "s3cret-for-this-test"},
    )
    try:
        body = {"key_id": KEY_ID, "public_key_pem": _public_pem(rsa_key), "balance_dollars": "500"}
        assert httpx.post(f"{root}/sim/keys", json=body).status_code == 401
        auth = {"Authorization": "Bearer s3cret-for-this-test"}
        assert httpx.post(f"{root}/sim/keys", json=body, headers=auth).status_code == 201
        with KalshiClient(f"{root}/trade-api/v2", KEY_ID, private_key=rsa_key, retry=FAST_RETRY) as c:
            started = time.perf_counter()
            assert c.exchange_status().trading_active
            assert time.perf_counter() - started >= 0.12
            placed = c.create_order(OrderRequest(T, "cli-drop", "bid", Decimal(1), Decimal("0.52")))
            assert placed.already_existed  # the answer was lost; the lookup found it
            assert [o.client_order_id for o in c.orders()] == ["cli-drop"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_without_a_token_the_admin_endpoints_are_off():
    proc, root = _start([], {"TSABOT_SIM_ADMIN_TOKEN": ""})
    try:
        refused = httpx.post(f"{root}/sim/settle", json={"event_ticker": "KXTSAW-26FEB15", "value": 1})
        assert refused.status_code == 403 and "TSABOT_SIM_ADMIN_TOKEN" in refused.json()["error"]["message"]
        assert httpx.get(f"{root}/sim/health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_bad_fault_on_the_command_line_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulator", "--fault", "500:rate=2"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "rate must be a probability" in err and "Traceback" not in err


def test_a_slowed_exchange_still_serves_requests_side_by_side(sim, monkeypatch):
    """Tests slow every request down by wrapping ``Exchange.take_fault`` with a blocking sleep; the gate
    calls it off the event loop, so two clients still wait side by side, not one after the other."""
    import threading

    from tsa_bot.kalshi_sim import Exchange

    real = Exchange.take_fault

    def slow(self, method, path):
        time.sleep(0.4)
        return real(self, method, path)

    monkeypatch.setattr(Exchange, "take_fault", slow)
    clients = [httpx.Client(timeout=10) for _ in range(4)]  # made beforehand: making one takes a while
    ready = threading.Barrier(5)
    codes: list[int] = []

    def get(client: httpx.Client) -> None:
        ready.wait()
        codes.append(client.get(f"{sim.base_url}/exchange/status").status_code)

    threads = [threading.Thread(target=get, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for c in clients:
        c.close()
    assert codes == [200] * 4 and elapsed < 1.2  # one after the other: 1.6 s


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_admin_token_turns_admin_off_like_an_empty_variable(token):
    """Issue 18: ``--admin-token ""`` accepted ``Authorization: Bearer `` and opened /sim/faults."""
    import http.client
    import json
    from urllib.parse import urlsplit

    proc, root = _start(["--admin-token", token], {"TSABOT_SIM_ADMIN_TOKEN": ""})
    try:
        where = urlsplit(root)
        for header in ("Bearer ", "Bearer", f"Bearer {token}", ""):
            # http.client sends the header as given (httpx refuses a trailing space).
            conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
            conn.request("POST", "/sim/faults", body='{"fault": "500"}', headers={"Authorization": header})
            answer = conn.getresponse()
            status, body = answer.status, json.loads(answer.read())
            conn.close()
            assert status == 403, (header, status)
            assert "TSABOT_SIM_ADMIN_TOKEN" in body["error"]["message"]
        assert httpx.get(f"{root}/trade-api/v2/exchange/status").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_gate_treats_a_blank_token_as_no_token():
    from starlette.testclient import TestClient

    from tsa_bot.kalshi_sim import Exchange
    from tsa_bot.kalshi_sim.app import build_app

    for blank in ("", " ", "\t"):
        with TestClient(build_app(Exchange(), blank)) as http:
            answer = http.post(
                "/sim/faults", json={"fault": "500"}, headers={"Authorization": f"Bearer {blank}"}
            )
            assert answer.status_code == 403, repr(blank)
