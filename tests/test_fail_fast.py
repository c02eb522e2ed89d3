"""fail_fast: Airflow retries only what a retry can fix; everything else fails at once with one line."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from tsa_bot.core.errors import PageLayoutError, SourceUnavailable, WarehouseUnavailable
from tsa_bot.orchestration.alerts import failure_text
from tsa_bot.orchestration.context import fail_fast

PAGE = (
    "<html><body><table>" + "<tr><td>1/1/2025</td><td>2,000,000</td></tr>" * 2000 + "</table></body></html>"
)


def _data_error() -> sa.exc.DataError:
    """What inserting a page with a NUL byte raised: sqlalchemy's message carries the page as a parameter."""
    orig = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return sa.exc.DataError("insert into tsa_raw_pages (html) values (%(html)s)", {"html": PAGE}, orig)


def _raising(error: BaseException):
    @fail_fast
    def task():
        raise error

    return task


@pytest.mark.parametrize(
    "error",
    [
        SourceUnavailable("cannot reach www.tsa.gov"),
        WarehouseUnavailable("warehouse connection failed"),
        TimeoutError("timed out"),
        ConnectionRefusedError(111, "Connection refused"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        sa.exc.OperationalError("select 1", {}, psycopg.OperationalError("server closed the connection")),
        AirflowSkipException("nothing to do"),
    ],
    ids=type,
)
def test_what_a_retry_can_fix_is_raised_for_airflow_to_retry(error):
    with pytest.raises(type(error)):
        _raising(error)()


@pytest.mark.parametrize(
    "error",
    [
        PageLayoutError("no table"),
        _data_error(),
        ValueError("a bug\nwith a second line"),
        KeyError("page_ids"),
        httpx.UnsupportedProtocol("file:// is not http"),
        sa.exc.ProgrammingError(
            "create table x ()", {}, psycopg.errors.InsufficientPrivilege("permission denied")
        ),
    ],
    ids=type,
)
def test_everything_else_fails_at_once_with_one_line(error):
    with pytest.raises(AirflowFailException) as info:
        _raising(error)()
    message = str(info.value)
    assert message.startswith(type(error).__name__ + ": ")
    assert "\n" not in message and len(message) < 400 and "<td>" not in message
    assert info.value.__cause__ is error  # the log keeps the whole chain


def test_the_alert_carries_one_line_and_never_the_page():
    ti = SimpleNamespace(dag_id="tsa_daily", task_id="ingest", try_number=1, run_id="manual__1", log_url="L")
    subject, text = failure_text({"ti": ti, "exception": _data_error()})
    assert subject == "[tsa-kalshi-bot] tsa_daily.ingest failed"
    lines = text.splitlines()
    assert len(lines) == 3 and "<td>" not in text and len(text) < 600
    assert lines[1] == "DataError: (psycopg.DataError) PostgreSQL text fields cannot contain NUL (0x00) bytes"
