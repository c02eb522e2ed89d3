"""Running ``tsabot`` in-process, as the tests of one-line errors do: clean environment, captured output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tsa_bot.core.config import get_settings
from tsa_bot.local.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No inherited bot settings; a private state folder, so nothing can reach the checkout's .state."""
    for name in list(os.environ):
        if name.startswith(("TSA_", "TSABOT_", "KALSHI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TSABOT_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("tsabot: error: "), err
    for needle in needles:
        assert needle in err, err
