"""Alerts received by real local receivers: an SMTP server (aiosmtpd, with STARTTLS and AUTH) and
HTTP receivers on 127.0.0.1 standing in for Slack, PagerDuty and a webhook; a dead receiver is
retried, then reported, and the monitor's verdict is unchanged."""

import json
import socket
import subprocess
import time
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from mlopsc.runtime.platforms import alerts

SPEC = Path(__file__).resolve().parents[2] / "specs" / "churn-local.yaml"
MESSAGE = {"text": "churn: monitoring violations: drift", "violations": ["drift"]}


class Inbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_context(tmp_path):
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def test_email_over_starttls_with_login(monkeypatch, tls_context):
    inbox, logins = Inbox(), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=tls_context,
                            require_starttls=True, authenticator=authenticator)
    controller.start()
    try:
        for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_USER": "mlops",
                            "SMTP_PASSWORD": "s3cret", "SMTP_FROM": "mlopsc@acme.example"}.items():
            monkeypatch.setenv(name, value)
        sent = alerts.send_alerts(["email:oncall@acme.example"], MESSAGE, log=lambda _m: None)
    finally:
        controller.stop()
    assert sent[0]["delivered"] is True, sent
    assert logins == [(b"mlops", b"s3cret")]
    (sender, to, mail), = inbox.mails
    assert (sender, to, mail["Subject"]) == ("mlopsc@acme.example", ["oncall@acme.example"], MESSAGE["text"])
    assert '"violations": [' in mail.get_payload()


def test_email_without_settings_is_reported_not_retried(monkeypatch):
    monkeypatch.delenv("SMTP_HOST", raising=False)
    sent = alerts.send_alert("email:oncall@acme.example", MESSAGE, log=lambda _m: None)
    assert sent["delivered"] is False and sent["attempts"] == 1
    assert "${secret:smtp-host}" in sent["error"] and "SMTP_HOST" in sent["error"]


def test_slack_pagerduty_and_webhook_receive_the_message(monkeypatch, httpserver):
    for path in ("/slack", "/pagerduty", "/hook"):
        httpserver.expect_request(path, method="POST").respond_with_data("ok", status=202 if path == "/pagerduty" else 200)
    monkeypatch.setenv("SLACK_WEBHOOK", httpserver.url_for("/slack"))
    monkeypatch.setenv("ML_ONCALL", "routing-key-1")
    monkeypatch.setenv("MLOPSC_PAGERDUTY_EVENTS_URL", httpserver.url_for("/pagerduty"))
    channels = ["slack:#ml-alerts", "pagerduty:ml-oncall", f"webhook:{httpserver.url_for('/hook')}"]
    sent = alerts.send_alerts(channels, MESSAGE, log=lambda _m: None)
    assert [s["delivered"] for s in sent] == [True, True, True], sent
    got = {req.path: json.loads(req.data) for req, _ in httpserver.log}
    assert got["/slack"] == {"text": MESSAGE["text"], "channel": "#ml-alerts"}
    assert got["/hook"] == MESSAGE
    event = got["/pagerduty"]
    assert (event["routing_key"], event["event_action"]) == ("routing-key-1", "trigger")
    assert event["payload"]["summary"] == MESSAGE["text"] and event["payload"]["custom_details"] == MESSAGE
    assert event["payload"]["severity"] in ("critical", "error", "warning", "info")


def test_a_failing_receiver_is_retried_until_it_answers(httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok", status=200)
    sent = alerts.send_alert(f"webhook:{httpserver.url_for('/hook')}", MESSAGE, log=lambda _m: None)
    assert sent["delivered"] is True and sent["attempts"] == 2


def test_a_dead_receiver_is_retried_then_reported_and_the_verdict_is_unchanged(tmp_path, monkeypatch):
    from mlopsc.api import load_project
    from mlopsc.runtime.steps import StepContext, run_step

    dead = f"webhook:http://127.0.0.1:{free_port()}/hook"
    logged = []
    ctx = StepContext(project=load_project(str(SPEC)), spec_dir=SPEC.parent, workdir=tmp_path, log=logged.append,
                      args={"on_violation": "alert", "alerts": dead}, inputs={"drift_violated": "true"}, outputs={})
    started = time.monotonic()
    result = run_step("act", ctx)
    assert time.monotonic() - started < 10
    assert result["violated"] == ["drift"]
    (sent,) = result["actions"][0]["sent"]
    assert sent["delivered"] is False and sent["attempts"] == alerts.ATTEMPTS
    assert any(f"alert -> {dead}: NOT delivered after {alerts.ATTEMPTS} attempt(s)" in line for line in logged)
