"""The drift report as a small self-contained HTML page (inline CSS and SVG histograms, no
scripts, no external files)."""

from __future__ import annotations

import html

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.35em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}
th{background:#f4f4f4}.drift{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
.num{font-variant-numeric:tabular-nums;text-align:right}.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
"""


def render_html(report: dict) -> str:
    """A small self-contained HTML page (inline CSS and SVG, no scripts, no external files)."""
    e = html.escape
    rows = []
    for f in report["features"]:
        status = '<span class="drift">drift</span>' if f["drifted"] else '<span class="ok">ok</span>'
        stat = f["statistic"]
        stat_s = f"{stat:.4f}" if isinstance(stat, float) else e(str(stat))
        note = e(f.get("note", ""))
        chart = svg_histogram(f["histogram"]) if "histogram" in f else ""
        rows.append(
            f"<tr><td>{e(f['feature'])}</td><td>{e(str(f['kind']))}</td><td>{e(f['method'])}</td>"
            f'<td class="num">{stat_s}</td><td class="num">{f["threshold"]:g}</td><td>{status}</td>'
            f"<td>{chart}{note}</td></tr>"
        )
    verdict = (
        f'<p class="drift">Drift in {len(report["drifted_features"])} of {len(report["features"])} features: '
        f'{e(", ".join(report["drifted_features"]))}</p>'
        if report["drifted"]
        else f'<p class="ok">No drift in {len(report["features"])} features.</p>'
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Drift report</title>"
        f"<style>{CSS}</style></head><body>\n<h1>Drift report</h1>\n"
        f"<p>Method <b>{e(report['method'])}</b>, threshold {report['threshold']:g}; "
        f"reference {report['reference_rows']} rows, current {report['current_rows']} rows.</p>\n{verdict}\n"
        '<p class="legend"><span style="background:#8aa4c8"></span>reference'
        '<span style="background:#e08a3c"></span>current</p>\n'
        "<table><thead><tr><th>feature</th><th>kind</th><th>method</th><th>statistic</th><th>threshold</th>"
        "<th>status</th><th>distribution</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></body></html>\n"
    )


def svg_histogram(hist: dict) -> str:
    k = len(hist["bins"])
    if not k:
        return ""
    bar, gap, height = 6, 4, 40
    top = max(max(hist["reference"]), max(hist["current"]), 1e-12)
    parts = []
    for i, (label, r, c) in enumerate(zip(hist["bins"], hist["reference"], hist["current"])):
        x = i * (2 * bar + gap)
        hr, hc = height * r / top, height * c / top
        t = html.escape(f"{label}: reference {r:.3f}, current {c:.3f}")
        parts.append(
            f'<g><title>{t}</title><rect x="{x}" y="{height - hr:.1f}" width="{bar}" height="{hr:.1f}" fill="#8aa4c8"/>'
            f'<rect x="{x + bar}" y="{height - hc:.1f}" width="{bar}" height="{hc:.1f}" fill="#e08a3c"/></g>'
        )
    width = k * (2 * bar + gap)
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'
