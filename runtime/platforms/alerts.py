"""Alerts as every platform sends them today: `webhook:<url>` channels get an HTTP POST of the
JSON message; `slack:`, `email:` and other channels are printed (the runtime holds no
credentials for them; the compiled cloud pipelines route them through their own services)."""

from __future__ import annotations

from collections.abc import Callable


def send_alert(channel: str, message: dict, log: Callable[[str], None] = print) -> dict:
    from mlopsc.runtime.httpbase import Upstream

    kind, _, where = channel.partition(":")
    if kind != "webhook":
        log(f"alert -> {channel} (printed; a local run does not send {kind} messages): {message['text']}")
        return {"channel": channel, "delivered": False, "printed": True}
    try:
        status, _ = Upstream(timeout=10).post_json(where, message)
        sent = {"channel": channel, "status": status, "delivered": 200 <= status < 300}
    except OSError as e:
        sent = {"channel": channel, "delivered": False, "error": str(e)}
    log(f"alert -> {channel}: {'delivered' if sent['delivered'] else 'NOT delivered'}")
    return sent


def send_alerts(channels: list[str], message: dict, log: Callable[[str], None] = print) -> list[dict]:
    return [send_alert(channel, message, log) for channel in channels]
