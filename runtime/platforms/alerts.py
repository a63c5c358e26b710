"""Alerts delivered: Slack, email, PagerDuty (Events API v2) and generic webhooks, on every
platform (the step sends them from wherever it runs; see `alert_channels` for each channel's
secrets).

One message format, a JSON object: `text` (one line a human reads) plus details (`violations`,
`pipeline`, `status`, ...); a webhook receives it as is, Slack its text, PagerDuty it as
`custom_details`, email as the body. Each channel is tried `ATTEMPTS` times with a short
backoff, all channels at once, so a dead receiver costs at most a few seconds; what happened is
returned (and logged) per channel, never raised: the caller's verdict does not depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mlopsc.runtime.platforms.alert_channels import SENDERS, Undeliverable

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt: 0.5 s, 1 s


def send_alert(channel: str, message: dict, log: Callable[[str], None] = print) -> dict:
    kind, _, where = channel.partition(":")
    sender, text = SENDERS.get(kind), message["text"]
    if sender is None:
        return _report(log, text, {"channel": channel, "delivered": False, "error": f"unknown channel kind {kind!r}"})
    error = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            done = sender(where, message)
            return _report(log, text, {"channel": channel, "delivered": True, "attempts": attempt, **done})
        except Undeliverable as e:
            return _report(log, text, {"channel": channel, "delivered": False, "attempts": attempt, "error": str(e)})
        except OSError as e:
            error = str(e) or type(e).__name__
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    return _report(log, text, {"channel": channel, "delivered": False, "attempts": ATTEMPTS, "error": error})


def _report(log: Callable[[str], None], text: str, sent: dict) -> dict:
    if sent["delivered"]:
        log(f"alert -> {sent['channel']}: delivered: {text}")
    else:
        tries = f" after {sent['attempts']} attempt(s)" if sent.get("attempts", 0) > 1 else ""
        log(f"alert -> {sent['channel']}: NOT delivered{tries}: {sent['error']}; the alert: {text}")
    return sent


def send_alerts(channels: list[str], message: dict, log: Callable[[str], None] = print) -> list[dict]:
    """Send to every channel at once; one result per channel, in order."""
    if not channels:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(channels))) as pool:
        return list(pool.map(lambda c: send_alert(c, message, log), channels))
