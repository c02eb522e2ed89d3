"""The replay writes its latest result under the state folder (the page's equity chart reads it): keep
each test's out of the checkout."""

from __future__ import annotations

import pytest

from tsa_bot.core.config import get_settings


@pytest.fixture(autouse=True)
def scratch_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TSABOT_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
