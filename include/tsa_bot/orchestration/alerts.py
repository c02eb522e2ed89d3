"""Alerts through Airflow's own notifiers: SmtpNotifier and the Slack provider's SlackWebhookNotifier.

Each channel is configured by an Airflow connection and either can be left out:
- ``tsa_alerts_smtp``: an SMTP connection; its extra ``alert_to`` lists the recipients (comma-separated);
- ``tsa_alerts_slack``: a Slack incoming-webhook connection (the webhook URL in the password field).
A channel that fails is logged and does not stop the other. An alert carries the error's one line, never
the content of a page.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

from tsa_bot.core.errors import one_line

log = logging.getLogger(__name__)

SMTP_CONN_ID = "tsa_alerts_smtp"
SLACK_CONN_ID = "tsa_alerts_slack"


def _connection(conn_id: str):
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # not defined (AirflowNotFoundException) or no way to look it up here
        return None


def _notifiers(subject: str, text: str) -> list[tuple[str, Any]]:
    notifiers: list[tuple[str, Any]] = []
    smtp = _connection(SMTP_CONN_ID)
    if smtp is not None:
        recipients = [a.strip() for a in str(smtp.extra_dejson.get("alert_to", "")).split(",") if a.strip()]
        if recipients:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            notifiers.append(
                (
                    "email",
                    SmtpNotifier(
                        to=recipients,
                        subject=subject,
                        html_content=f"<pre>{html.escape(text)}</pre>",
                        smtp_conn_id=SMTP_CONN_ID,
                    ),
                )
            )
        else:
            log.warning("connection %s has no alert_to in its extra; no e-mail sent", SMTP_CONN_ID)
    if _connection(SLACK_CONN_ID) is not None:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifiers.append(("slack", SlackWebhookNotifier(slack_webhook_conn_id=SLACK_CONN_ID, text=text)))
    return notifiers


def send_alert(subject: str, text: str, context: Mapping[str, Any]) -> list[str]:
    """Send through every configured channel; returns the channels that delivered."""
    delivered = []
    for channel, notifier in _notifiers(subject, text):
        try:
            notifier.notify(context)
        except Exception:
            log.exception("alert through %s failed", channel)
        else:
            delivered.append(channel)
    if not delivered:
        log.warning("alert not delivered anywhere (no alert connection works): %s", subject)
    return delivered


def failure_text(context: Mapping[str, Any]) -> tuple[str, str]:
    ti = context["ti"]
    error = context.get("exception")
    # One line, cut short: an exception's message can carry a whole page (a failed INSERT's parameters).
    reason = f"{type(error).__name__}: {one_line(error)}" if error is not None else "unknown error"
    subject = f"[tsa-kalshi-bot] {ti.dag_id}.{ti.task_id} failed"
    text = (
        f"{ti.dag_id}.{ti.task_id} failed on try {ti.try_number} of run {ti.run_id}.\n"
        f"{reason}\n"
        f"Log: {getattr(ti, 'log_url', 'see the Airflow UI')}"
    )
    return subject, text


def on_task_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` for every task: say which task failed, why, and where its log is."""
    send_alert(*failure_text(context), context)
