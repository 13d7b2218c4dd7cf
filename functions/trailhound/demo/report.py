"""The incident report: one self-contained HTML file with inline SVG charts.

Every value that came from logs is attacker-controlled (user agents, request parameters, even
ARNs): it is HTML-escaped, always, through :func:`e`.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trailhound.output import to_jsonable

SEVERITY_COLOURS = {"critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825", "info": "#607d8b"}


def e(value: Any) -> str:
    if value is None:
        return ""
    v = to_jsonable(value)
    if isinstance(v, (list, tuple)):
        v = ", ".join(str(x) for x in v)
    return html.escape(str(v), quote=True)


def _ts(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def timeline_svg(buckets: Sequence[tuple[dt.datetime, int, int]], markers: Iterable[tuple[dt.datetime, str, str]],
                 *, width: int = 920, height: int = 220) -> str:
    """Stacked bars (benign grey, attacker red) per bucket, with vertical markers."""
    if not buckets:
        return "<p>(no events)</p>"
    pad_l, pad_b, pad_t = 40, 30, 20
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    t0, t1 = buckets[0][0], buckets[-1][0] + (buckets[-1][0] - buckets[0][0]) / max(1, len(buckets) - 1)
    span = max(1.0, (t1 - t0).total_seconds())
    peak = max(b + a for _, b, a in buckets) or 1
    bar_w = max(1.0, plot_w / len(buckets) - 1)

    def x(t: dt.datetime) -> float:
        return pad_l + (t - t0).total_seconds() / span * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             'aria-label="events over time">',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 10}" y2="{pad_t + plot_h}" stroke="#999"/>',
             f'<text x="4" y="{pad_t + 8}" font-size="10">{peak}</text>']
    for t, benign, attack in buckets:
        bx = x(t)
        hb = benign / peak * plot_h
        ha = attack / peak * plot_h
        parts.append(f'<rect x="{bx:.1f}" y="{pad_t + plot_h - hb:.1f}" width="{bar_w:.1f}" height="{hb:.1f}" '
                     f'fill="#b0bec5"><title>{e(t)}: {benign} benign</title></rect>')
        if attack:
            parts.append(f'<rect x="{bx:.1f}" y="{pad_t + plot_h - hb - ha:.1f}" width="{bar_w:.1f}" '
                         f'height="{ha:.1f}" fill="#c62828"><title>{e(t)}: {attack} attacker</title></rect>')
    for i, (t, label, colour) in enumerate(markers):
        mx = x(t)
        parts.append(f'<line x1="{mx:.1f}" y1="{pad_t}" x2="{mx:.1f}" y2="{pad_t + plot_h}" stroke="{colour}" '
                     f'stroke-dasharray="3,2"><title>{e(label)}</title></line>')
        parts.append(f'<text x="{mx + 2:.1f}" y="{pad_t - 6 + (i % 3) * 10:.1f}" font-size="9" fill="{colour}">'
                     f'{e(label[:28])}</text>')
    for k in range(0, len(buckets), max(1, len(buckets) // 8)):
        t = buckets[k][0]
        parts.append(f'<text x="{x(t):.1f}" y="{height - 10}" font-size="10">{t:%H:%M}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(items: Sequence[tuple[str, int]], *, width: int = 440, bar: int = 16) -> str:
    """Horizontal bars, e.g. the actor's calls by service."""
    if not items:
        return "<p>(none)</p>"
    peak = max(v for _, v in items) or 1
    height = bar * len(items) + 10
    label_w = 200
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = 5 + i * bar
        w = (width - label_w - 40) * value / peak
        parts.append(f'<text x="0" y="{y + bar - 5}" font-size="11">{e(label[:32])}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar - 4}" fill="#1565c0"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 5}" font-size="11">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[Mapping[str, Any]], cols: Sequence[str]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{e(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(path: Path, *, title: str, summary: Mapping[str, Any], timeline: Sequence[tuple[dt.datetime, int, int]],
                 findings: Sequence[Mapping[str, Any]], investigations: Sequence[Mapping[str, Any]],
                 before: Mapping[str, Any], after: Mapping[str, Any]) -> Path:
    markers = [(_ts(f["first_seen"]), f["detection_id"], SEVERITY_COLOURS.get(f["severity"], "#333"))
               for f in findings]
    finding_rows = [{**f, "events": len(f.get("event_ids") or [])} for f in findings]
    inv_rows = []
    rollbacks = []
    actor_charts = []
    seen_actors: set[str] = set()
    for inv in investigations:
        f = inv.get("finding") or {}
        c = inv.get("containment") or {}
        v = inv.get("verification") or {}
        inv_rows.append({"investigation": inv.get("investigation_id"), "detection": f.get("detection_id"),
                         "disposition": inv.get("disposition"), "reason": inv.get("reason"),
                         "action": c.get("action") or (inv.get("decision") or {}).get("action"),
                         "containment": c.get("status"), "containment_id": inv.get("containment_id"),
                         "verification": v.get("reason"), "outcome": inv.get("outcome")})
        if inv.get("containment_id"):
            rollbacks.append({"containment_id": inv["containment_id"], "action": c.get("action"),
                              "target": ", ".join(f"{k}={v}" for k, v in (c.get("params") or {}).items()),
                              "command": f"trailhound rollback {inv['containment_id']}"})
        actor = f.get("actor_arn")
        if actor and actor not in seen_actors:
            seen_actors.add(actor)
            per_service: Counter[str] = Counter()
            for row in (inv.get("enrichment") or {}).get("tables", {}).get("activity_summary", []):
                per_service[str(row.get("service", "")).removesuffix(".amazonaws.com")] += int(row.get("events", 0))
            s = (inv.get("enrichment") or {}).get("summary", {})
            actor_charts.append(
                f"<div class='actor'><h3>{e(actor)}</h3><p>{e(s.get('events'))} calls, error rate "
                f"{e(s.get('error_rate'))}, regions {e(s.get('regions'))}, source IPs {e(s.get('source_ips'))}</p>"
                + bars_svg(per_service.most_common(10)) + "</div>")
    state_rows = []
    for key in sorted(set(before) | set(after)):
        state_rows.append({"resource": key, "before": before.get(key), "after": after.get(key)})
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:1100px}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:13px}}
th,td{{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;max-width:320px;overflow-wrap:anywhere}}
th{{background:#f5f5f5}} code{{background:#f5f5f5;padding:1px 4px}}
.kpi{{display:inline-block;margin-right:2rem}} .kpi b{{font-size:1.6rem;display:block}}
.actor{{display:inline-block;vertical-align:top;margin-right:2rem}}
</style></head><body>
<h1>{e(title)}</h1>
<p>{"".join(f"<span class='kpi'><b>{e(v)}</b>{e(k)}</span>" for k, v in summary.items())}</p>
<h2>Timeline</h2>
<p>Events per five minutes (grey: everyday activity, red: the attacker); dashed lines: findings.</p>
{timeline_svg(timeline, markers)}
<h2>Findings</h2>
{_table(finding_rows, ["detection_id", "severity", "actor_arn", "source_ip", "target", "first_seen", "last_seen", "events"])}
<h2>What the actors did</h2>
{"".join(actor_charts) or "<p>(no investigations)</p>"}
<h2>Decisions and containment</h2>
{_table(inv_rows, ["investigation", "detection", "disposition", "reason", "action", "containment", "verification", "outcome"])}
<h2>What changed in the account</h2>
{_table(state_rows, ["resource", "before", "after"])}
<h2>How to roll back</h2>
<p>Each containment saved the state it changed; a rollback restores it from the record.</p>
{_table(rollbacks, ["containment_id", "action", "target", "command"])}
<p><small>Generated by TrailHound on {e(dt.datetime.now(dt.UTC).replace(microsecond=0))}.</small></p>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path
