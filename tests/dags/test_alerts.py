"""A failing run alerts through a real local SMTP server and a real local webhook receiver."""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from airflow.utils.state import DagRunState

from tsa_bot.sources.offline import serve_pages, site_pages

pytestmark = pytest.mark.slow


class Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd checks its own port on start, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def webhook_receiver():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX", received
    server.shutdown()
    server.server_close()


def test_a_failed_task_alerts_by_email_and_slack(
    tsa_daily_dag, tsa_env, monkeypatch, smtp_server, webhook_receiver
):
    port, inbox = smtp_server
    webhook_url, posts = webhook_receiver
    monkeypatch.setenv(
        "AIRFLOW_CONN_TSA_ALERTS_SMTP",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {
                    "disable_tls": True,
                    "disable_ssl": True,
                    "from_email": "bot@tsa-kalshi-bot.local",
                    "alert_to": "ops@example.test, quant@example.test",
                },
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_TSA_ALERTS_SLACK", json.dumps({"conn_type": "slackwebhook", "password": webhook_url})
    )
    dag = tsa_daily_dag
    broken = {path: page.replace(">Numbers<", ">Volume<") for path, page in site_pages().items()}
    with serve_pages(broken) as site:
        tsa_env(site.base_url)
        run = dag.test(logical_date=None)

    assert run.state == DagRunState.FAILED
    assert len(inbox.messages) == 1
    recipients, email = inbox.messages[0]
    assert recipients == ["ops@example.test", "quant@example.test"]
    assert email["Subject"] == "[tsa-kalshi-bot] tsa_daily.ingest failed"
    body = email.get_payload()[0].get_payload(decode=True).decode()
    assert "PageLayoutError" in body and "no table with a Date column" in body
    assert len(posts) == 1
    assert posts[0]["text"].startswith("tsa_daily.ingest failed on try 1 of run ")
    assert "PageLayoutError" in posts[0]["text"]


def test_without_alert_connections_a_failure_still_fails_cleanly(tsa_daily_dag, tsa_env):
    dag = tsa_daily_dag
    with serve_pages({}) as site:  # every page 404s
        tsa_env(site.base_url)
        run = dag.test(logical_date=None)
    assert run.state == DagRunState.FAILED


def test_a_page_with_a_nul_byte_fails_once_and_the_alert_has_one_line_not_the_page(
    tsa_daily_dag, tsa_env, monkeypatch, webhook_receiver
):
    webhook_url, posts = webhook_receiver
    monkeypatch.setenv(
        "AIRFLOW_CONN_TSA_ALERTS_SLACK", json.dumps({"conn_type": "slackwebhook", "password": webhook_url})
    )
    pages = site_pages()
    current = "/travel/passenger-volumes"
    pages[current] = pages[current].replace("</h1>", "</h1>\x00", 1)
    with serve_pages(pages) as site:
        tsa_env(site.base_url)
        run = tsa_daily_dag.test(logical_date=None)

    assert run.state == DagRunState.FAILED
    ingest = next(ti for ti in run.get_task_instances() if ti.task_id == "ingest")
    assert ingest.try_number == 1  # not retried: the same page fails the same way
    assert len(posts) == 1
    text = posts[0]["text"]
    assert "NUL byte" in text and "<td" not in text and "views-field" not in text
    assert len(text.splitlines()) == 3 and len(text) < 800
