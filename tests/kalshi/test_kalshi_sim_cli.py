"""``tsabot simulator`` refuses bad arguments with one line and exit code 2, before it listens anywhere."""

from __future__ import annotations

import threading

import pytest

from tsa_bot.local.cli import main


def _run_briefly(argv: list[str]) -> int | None:
    """``main(argv)`` in a thread: its exit code, or None if it was still serving after a few seconds."""
    result: list[int | None] = []

    def target() -> None:
        try:
            result.append(main(argv))
        except SystemExit as exc:
            result.append(exc.code)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=8)
    return result[0] if result else None


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--port", "99999"], "--port must be 0 to 65535"),
        (["--port", "-1"], "--port must be 0 to 65535"),
        (["--event", "NOTATICKER"], "--event must be a KXTSAW event ticker"),
        (["--event", "KXTSAW-26FOO15"], "--event must be a KXTSAW event ticker"),
        (["--event", "KXTSAW-26FEB30"], "--event must be a KXTSAW event ticker"),
        (["--event", "KXTSAW-26FEB14"], "names a Saturday"),
        (["--read-rate", "-1"], "--read-rate must be a positive number"),
        (["--read-rate", "0"], "--read-rate must be a positive number"),
        (["--read-rate", "nan"], "--read-rate must be a positive number"),
        (["--write-rate", "inf"], "--write-rate must be a positive number"),
        (["--seed-week", "9999-12-31"], "--seed-week must be in 2000 to 2098"),
        (["--seed-week", "1999-12-31"], "--seed-week must be in 2000 to 2098"),
        (["--seed-center", "0"], "--seed-center must be a positive number"),
        (["--balance", "-5"], "--balance must be positive"),
        (["--balance", "NaN"], "--balance must be positive"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(capsys, argv, says):
    code = _run_briefly(["simulator", "--port", "0", *argv])
    err = capsys.readouterr().err
    assert code == 2, f"{argv} was accepted"
    assert err.count("\n") == 1 and err.startswith("tsabot: error: ") and says in err
    assert "Traceback" not in err


def test_a_port_in_use_is_one_line(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = _run_briefly(["simulator", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err
