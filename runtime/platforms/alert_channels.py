"""One sender per channel kind. Each raises `Undeliverable` (not worth retrying: a setting is
missing, the receiver refused the message for good) or OSError (retried by `alerts`).

Credentials are secrets, read at run time as every `${secret:NAME}` is (the environment variable
`contract.secret_env_var(NAME)`; a target maps its secret store to it):
- `slack:#channel`: `${secret:slack-webhook}`, a Slack incoming-webhook URL;
- `pagerduty:NAME`: `${secret:NAME}`, the integration's Events API v2 routing key
  (`MLOPSC_PAGERDUTY_EVENTS_URL` overrides the events URL, for tests and EU accounts);
- `email:ADDRESS`: `${secret:smtp-host}`, `smtp-port` (default 587 with STARTTLS, else 25),
  `smtp-user` and `smtp-password` (optional, both or neither), `smtp-from`, `smtp-starttls`
  (`true`/`false`; default true when a user is set);
- `webhook:URL`: none; the message JSON is POSTed as is.
"""

from __future__ import annotations

import os
from email.message import EmailMessage

from mlopsc.contract import secret_env_var

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
TIMEOUT_SECONDS = 5.0


class Undeliverable(Exception):
    """The message cannot be delivered by retrying (missing setting, refused for good)."""


def secret(name: str, default: str | None = None) -> str:
    value = os.environ.get(secret_env_var(name), default)
    if value is None:
        raise Undeliverable(f"not configured: set ${{secret:{name}}} (environment variable {secret_env_var(name)})")
    return value


def post(url: str, payload: dict) -> int:
    from mlopsc.runtime.httpbase import Upstream

    status, answer = Upstream(timeout=TIMEOUT_SECONDS).post_json(url, payload)
    if status == 429 or status >= 500:
        raise OSError(f"{url} answered {status}")
    if not 200 <= status < 300:
        raise Undeliverable(f"answered {status}: {str(answer)[:200]}")
    return status


def send_webhook(where: str, message: dict) -> dict:
    return {"status": post(where, message)}


def send_slack(where: str, message: dict) -> dict:
    payload = {"text": message["text"], "channel": where}
    return {"status": post(secret("slack-webhook"), payload)}


def send_pagerduty(where: str, message: dict) -> dict:
    payload = {
        "routing_key": secret(where),
        "event_action": "trigger",
        "dedup_key": message.get("dedup_key"),
        "payload": {"summary": message["text"][:1024], "source": message.get("source", "mlopsc"),
                    "severity": message.get("severity", "error"), "custom_details": message},
    }
    url = os.environ.get("MLOPSC_PAGERDUTY_EVENTS_URL", PAGERDUTY_EVENTS_URL)
    return {"status": post(url, {k: v for k, v in payload.items() if v is not None})}


def send_email(where: str, message: dict) -> dict:
    import json
    import smtplib

    user = os.environ.get(secret_env_var("smtp-user"))
    starttls = secret("smtp-starttls", "true" if user else "false").lower() in ("1", "true", "yes")
    host, port = secret("smtp-host"), int(secret("smtp-port", "587" if starttls else "25"))
    mail = EmailMessage()
    mail["Subject"] = message["text"][:200]
    mail["From"], mail["To"] = secret("smtp-from"), where
    mail.set_content(message["text"] + "\n\n" + json.dumps(message, indent=2, sort_keys=True, default=str))
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS) as smtp:
            if starttls:
                smtp.starttls()
            if user:
                smtp.login(user, secret("smtp-password"))
            refused = smtp.send_message(mail)
    except smtplib.SMTPResponseException as e:
        if e.smtp_code >= 500:
            raise Undeliverable(f"SMTP {e.smtp_code}: {e.smtp_error!r}") from None
        raise OSError(f"SMTP {e.smtp_code}: {e.smtp_error!r}") from None
    except smtplib.SMTPException as e:
        raise OSError(f"SMTP: {e}") from None
    if refused:
        raise Undeliverable(f"refused: {refused}")
    return {"status": 250}


SENDERS = {"webhook": send_webhook, "slack": send_slack, "pagerduty": send_pagerduty, "email": send_email}
