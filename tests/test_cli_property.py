"""No traceback reaches a user, enforced: every ``tsabot`` subcommand, generated arguments and environment.

The subcommands are read from the argparse parser itself, so a new one is covered without touching this
file. Each example runs ``tsa_bot.local.cli.main`` in-process with captured output (and captured logging) and
must exit 0 or 2 with no ``Traceback`` anywhere; 1 is the CLI's "internal error" (a bug). Nothing leaves
the machine: the TSA site and Kalshi point at a closed loopback port or a local simulator, the warehouse
at a test database, a closed port, or a bad URL (never unset, which would start an embedded server).
Every run has a deadline; the commands that serve until Ctrl-C get one after a second.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from key_testkit import write_key_file

from tsa_bot.core.config import get_settings
from tsa_bot.local.cli import build_parser, main
from tsa_bot.quotes.interchange import HEADER
from tsa_bot.sources.offline import OFFLINE_SITE_DIR

# Commands that serve until interrupted: each example ends them with a Ctrl-C after this long.
SERVING = {("simulator",)}
SERVE_FOR_S = 1.0
# Commands whose handler is not run: `airflow up` starts Airflow itself (minutes, real processes and
# ports). Its arguments are still generated and parsed; anything argparse accepts stops there.
PARSE_ONLY = {("airflow", "up")}
DEADLINE_S = 30
EXAMPLES = 12  # per subcommand
KEY_ID = "tsabot-property-key"


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple]:
    """(path, parser) of every runnable subcommand, depth first."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
        return
    for name, sub in subparsers[0].choices.items():
        yield from leaf_commands(sub, (*path, name))


LEAVES = dict(leaf_commands(build_parser()))


class Hung(BaseException):
    """A command outlived its deadline."""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory, scratch_database) -> Iterator[dict]:
    """Everything the generated values point at: files, a warehouse, a simulator, closed and busy ports."""
    from tsa_bot.kalshi_sim import running_simulator
    from tsa_bot.warehouse.migrate import migrate

    root = tmp_path_factory.mktemp("cli-property")
    pem = root / "key.pem"
    key = write_key_file(pem)
    garbage = root / "garbage.txt"
    garbage.write_text("not a page, not a CSV, not a key\n\x01\x02")
    tiny_csv = root / "tiny.csv"
    tiny_csv.write_text("date,passengers\n2025-01-01,2000000\n2025-01-02,2100000\n")
    (root / "a-directory").mkdir()
    state_file = root / "state-is-a-file"
    state_file.write_text("")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    with (
        scratch_database("tsabot_cli_property") as url,
        running_simulator(read_rate=10_000, write_rate=10_000) as sim,
    ):
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        migrate(engine)
        engine.dispose()
        sim.register_key(KEY_ID, key.public_key(), balance=1000)
        closed = _closed_port()
        yield {
            "root": root,
            "warehouse": url,
            "closed": closed,
            "busy": busy.getsockname()[1],
            "sim": sim.base_url,
            "pem": str(pem),
            "files": [
                str(garbage),
                str(tiny_csv),
                str(root / "a-directory"),
                str(root / "missing" / "file.json"),
                str(root / "new.json"),
                str(OFFLINE_SITE_DIR / "passenger-volumes.html"),
            ],
            "state_file": str(state_file),
        }
    busy.close()


TICKERS = ["KXTSAW-26FEB15", "KXTSAW-26FEB15-A2.30", "KXTSAW-26JAN04", "NOTATICKER", "", "é☃"]
NUMBERS = ["0", "1", "2", "7", "-1", "99999", "1e9", "abc", "nan", "inf", "1.5", "0.42", "1.006", "0.02"]
DATES = ["2025-01-06", "2025-12-29", "2024-02-29", "2025-13-45", "yesterday", ""]


# Quote interchange files (``--import``, ``--quotes``): each field mostly valid (the limits of dates and
# decimals included), sometimes just past them, or an odd ticker. (valid, invalid) per field.
QUOTE_EVENTS = (
    ["KXTSAW-26FEB15", "KXTSAW-00JAN02", "KXTSAW-99DEC27"],
    ["KXTSAW-ZZZ", "KXTSAW-26FEB30", "K\nX", "é☃"],
)
QUOTE_MARKETS = (["-A2.30", "-A2.35"], ["-A2.30\n", "-A 2", "-A\x002", ""])
QUOTE_STRIKES = (["2300000", "2350000", "9223372036854775807"], ["0", "-1", "1e400", "2.3M"])
QUOTE_TIMES = (
    [
        "2026-02-10T15:00:00+00:00",
        "2026-02-11T15:00:00-05:00",
        "2000-01-01T00:00:00+00:00",
        "2099-12-31T23:59:59+00:00",
    ],
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "2026-02-10T15:00:00", "tuesday"],
)
QUOTE_PRICES = (
    ["0.47", "0.49", "0.10", "0.90", "0", "1", "0.000001", ""],
    ["0.1000000000000000000000000000001", "0.1234567", "1.0000001", "NaN", "-0", "0.4\x007", "1e-7"],
)
QUOTE_COUNTS = (["0", "1", "99999999999999.99", ""], ["1E+20", "-1", "1.005"])
QUOTE_RESULTS = (["yes", "no", ""], ["maybe"])
# --workers around the number of cores; --read-rate around Kalshi's limit, and what overflows a float.
WORKERS = ["0", "1", "2", str(os.cpu_count() or 1), str((os.cpu_count() or 1) + 1), "48", "-1", "abc"]
READ_RATES = ["1e-300", "nan", "inf", "-inf", "0", "0.01", "10", "20", "500", "1000", "1001", "1e300", "abc"]


@st.composite
def quote_files(draw, world: dict) -> str:
    """A quote CSV of one to four drawn rows, written under the world's folder; its path."""
    import csv

    def field(options: tuple[list[str], list[str]]) -> str:
        return draw(_setting(*options))

    rows = []
    for _ in range(draw(st.integers(1, 4))):
        event = field(QUOTE_EVENTS)
        rows.append(
            [
                event,
                event + field(QUOTE_MARKETS),
                field(QUOTE_STRIKES),
                field(QUOTE_TIMES),
                *(field(QUOTE_PRICES) for _ in range(3)),
                field(QUOTE_COUNTS),
                field(QUOTE_COUNTS),
                field(QUOTE_RESULTS),
            ]
        )
    world["quote_files"] = world.get("quote_files", 0) + 1
    path = world["root"] / f"quotes-{world['quote_files']}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


def values(world: dict, action: argparse.Action, path: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Plausible and hostile strings for one argument, picked by its type and name."""
    name = action.dest.lower()
    if name in ("import_csv", "quotes"):
        return st.one_of(quote_files(world), st.sampled_from(world["files"]))
    if name == "workers":
        return st.sampled_from(WORKERS)
    if name == "read_rate":
        return st.sampled_from(READ_RATES)
    if name == "port" and path in SERVING:
        ports = {"0", "-1", "99999", "abc", str(world["busy"])}
        return st.sampled_from(sorted(ports))
    closed = f"http://127.0.0.1:{world['closed']}"
    urls = [closed, "not-a-url", "file:///etc", "http://", "postgresql://u:s3cret@h:port/db"]
    urls.append(world["warehouse"])
    if name == "port":
        return st.sampled_from(["0", "-1", "99999", "abc", str(world["busy"])])
    if name == "host":  # never the empty host: it would listen on every interface
        return st.sampled_from(["127.0.0.1", "localhost", "not-a-host.invalid", "256.1.1.1"])
    if "url" in name:
        return st.sampled_from(urls)
    if name in ("ticker", "event", "order_id", "key_id", "client_order_id"):
        return st.sampled_from(TICKERS)
    if name in ("start", "end", "seed_week") or "date" in name:
        return st.sampled_from(DATES)
    if action.type in (int, float) or name in ("count", "price", "balance", "depth", "workers"):
        return st.sampled_from(NUMBERS)
    if action.type is Path or name in ("file", "data", "json", "plot", "public_key"):
        return st.sampled_from(world["files"])
    return st.sampled_from(NUMBERS + DATES + TICKERS + urls + world["files"])


@st.composite
def arguments(draw, world: dict, path: tuple[str, ...]) -> list[str]:
    argv: list[str] = []
    for action in LEAVES[path]._actions:
        if path in SERVING and action.dest == "port":  # always given: the default, 8765, may be in use
            argv += ["--port", draw(values(world, action, path))]
            continue
        if isinstance(action, argparse._HelpAction):
            if draw(st.integers(0, 30)) == 0:
                argv.append("--help")
            continue
        if not action.option_strings:  # positional
            if draw(st.integers(0, 20)) == 0:
                continue  # sometimes missing
            choices = [str(c) for c in action.choices or ()]
            pick = st.sampled_from(choices * 4 + ["bogus"]) if choices else values(world, action, path)
            argv.append(draw(pick))
            continue
        if not draw(st.booleans()):
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:
            argv.append(flag)
        elif action.choices:
            argv += [flag, draw(st.sampled_from([str(c) for c in action.choices] * 4 + ["bogus"]))]
        else:
            argv += [flag, draw(values(world, action, path))]
    return argv


def _setting(valid: list, invalid: list) -> st.SearchStrategy:
    """Mostly a usable value, so the commands get past their settings; sometimes a broken one."""
    return st.sampled_from(valid * 3 + invalid)


@st.composite
def environments(draw, world: dict) -> dict[str, str | None]:
    closed = f"http://127.0.0.1:{world['closed']}"
    key_id, key_path = draw(
        _setting(
            [(None, None), (KEY_ID, world["pem"])],
            [
                (KEY_ID, str(world["root"] / "missing.pem")),
                (KEY_ID, str(world["root"] / "a-directory")),
                (KEY_ID, world["files"][0]),
                ("unknown-key", world["pem"]),
            ],
        )
    )
    warehouses = [
        world["warehouse"],
        f"postgresql://postgres@127.0.0.1:{world['closed']}/x?connect_timeout=2",
    ]
    return {
        "TSA_WAREHOUSE_URL": draw(
            _setting(warehouses, ["", "::garbage::", "postgresql://u:s3cret@h:port/db", "mysql://root@h/db"])
        ),
        "TSABOT_TSA_BASE_URL": draw(_setting([closed], ["file:///etc", "not-a-url"])),
        "TSABOT_HTTP_ATTEMPTS": draw(_setting([None, "1", "2"], ["abc", "0"])),
        "TSABOT_HTTP_TIMEOUT_S": draw(_setting([None, "2"], ["0", "-1", "abc", "inf", "nan"])),
        "TSABOT_HTTP_MAX_PAGE_BYTES": draw(_setting([None, "10000000"], ["100", "abc"])),
        "TSABOT_HTTP_BACKOFF_S": "0.01",
        "TSABOT_OFFLINE": draw(_setting([None, "0", "1"], ["perhaps"])),
        "TSABOT_STATE_DIR": draw(_setting([str(world["root"] / "state")], [world["state_file"]])),
        "KALSHI_API_BASE": draw(_setting([world["sim"]], [f"{closed}/trade-api/v2", "not-a-url"])),
        "KALSHI_KEY_ID": key_id,
        "KALSHI_PRIVATE_KEY_PATH": key_path,
    }


@contextlib.contextmanager
def environment(env: dict[str, str | None]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith(("TSA_", "TSABOT_", "KALSHI_"))}
    for name in saved:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if v is not None})
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name in [n for n in os.environ if n.startswith(("TSA_", "TSABOT_", "KALSHI_"))]:
            del os.environ[name]
        os.environ.update(saved)
        get_settings.cache_clear()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _hung(signum, frame):
    raise Hung


def run_in_process(argv: list[str], path: tuple[str, ...]) -> tuple[int, str]:
    """Exit code and everything written (stdout, stderr, log records) by one run of the command."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = signal.signal(signal.SIGALRM, _interrupt if path in SERVING else _hung)
    signal.setitimer(signal.ITIMER_REAL, SERVE_FOR_S if path in SERVING else DEADLINE_S)
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            if path in PARSE_ONLY:
                build_parser().parse_args(argv)
                code = 0
            else:
                code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except Hung:
        pytest.fail(f"tsabot {' '.join(argv)} ran past {DEADLINE_S}s:\n{output.getvalue()[-2000:]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        root.removeHandler(handler)
    return code, output.getvalue()


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_subcommand_exits_0_or_2_without_a_traceback(world, path, tmp_path, monkeypatch):
    # Generated relative paths (an export to "2025-13-45") land in a scratch folder, not the checkout.
    monkeypatch.chdir(tmp_path)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def check(data):
        argv = [*path, *data.draw(arguments(world, path), label="arguments")]
        env = data.draw(environments(world), label="environment")
        with environment(env):
            code, output = run_in_process(argv, path)
        shown = f"tsabot {' '.join(argv)!s}\nenv {env}\n{output[-3000:]}"
        assert "Traceback" not in output, shown
        assert code in (0, 2), shown

    check()


def test_every_subcommand_is_covered():
    """The list is read from the parser: this only guards against the walk itself finding nothing."""
    assert {("ingest",), ("parse-tsa",), ("backtest",), ("warehouse", "status"), ("kalshi", "place")} <= set(
        LEAVES
    )
    assert set(LEAVES) >= PARSE_ONLY | SERVING


def test_quote_files_workers_and_read_rates_exit_0_or_2_without_a_traceback(world, tmp_path, monkeypatch):
    """The values of issue 18 drawn where they matter, more often than the walk over every subcommand
    reaches them: quote files imported and replayed, ``--workers`` and ``--read-rate`` at their limits."""
    monkeypatch.chdir(tmp_path)
    env = {
        "TSA_WAREHOUSE_URL": world["warehouse"],
        "KALSHI_API_BASE": world["sim"],
        "TSABOT_STATE_DIR": str(tmp_path),
    }
    env["TSABOT_HTTP_BACKOFF_S"] = "0.01"

    @settings(
        max_examples=3 * EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def check(data):
        quotes = data.draw(quote_files(world), label="quotes")
        workers = data.draw(st.sampled_from(WORKERS), label="workers")
        rate = data.draw(st.sampled_from(READ_RATES), label="read rate")
        runs = [
            ["kalshi", "history", "--import", quotes],
            [
                "replay",
                "--data",
                world["files"][1],
                "--quotes",
                quotes,
                "--start",
                "2026-02-09",
                "--end",
                "2026-02-09",
                "--json",
                str(tmp_path / "out.json"),
                f"--workers={workers}",
            ],
            ["kalshi", "history", "--start", "2026-02-09", "--end", "2026-02-10", f"--read-rate={rate}"],
        ]
        for argv in runs:
            with environment(env):
                code, output = run_in_process(argv, tuple(argv[:2]))
            shown = f"tsabot {' '.join(argv)!s}\n{Path(quotes).read_text()!r}\n{output[-3000:]}"
            assert "Traceback" not in output, shown
            assert code in (0, 2), shown

    check()
