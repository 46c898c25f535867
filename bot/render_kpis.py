"""Block Kit builders for KPIs (pure, no I/O): a section of KPI lines and the charts' image blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.render_answer import escape
from skills.kpis import KpiReport, KpiSet, fmt, kpi_names, label

Block = dict[str, Any]


@dataclass
class UploadedChart:
    file_id: str  # from files.getUploadURLExternal, completed with files.completeUploadExternal
    title: str
    alt: str


def chart_block(chart: UploadedChart) -> Block:
    """An image block showing an uploaded file (slack_file by id: no public URL needed)."""
    return {"type": "image", "slack_file": {"id": chart.file_id}, "alt_text": chart.alt[:2000],
            "title": {"type": "plain_text", "text": chart.title[:2000]}}


def kpi_blocks(title: str, kpis: KpiSet, period_days: int, *,
               charts: list[UploadedChart] | None = None) -> list[Block]:
    """A titled section with a line per KPI, then the charts that were uploaded."""
    lines = "\n".join(f"• {label(k)}: *{fmt(kpis, k)}*" for k in kpi_names())
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*📈 {title}* · last {period_days} days · "
                                                             f"{kpis.accounts} accounts ({kpis.covered_accounts} "
                                                             f"key or strategic)\n{lines}"}},
    ]
    return blocks + [chart_block(c) for c in charts or []]


def rep_lines(report: KpiReport, limit: int = 40) -> list[Block]:
    """A line per rep with the KPIs a manager scans first (cadence, multi-threading, freshness, follow-through),
    weakest cadence first; sections of at most 3000 characters."""
    def key(r: Any) -> tuple[float, str]:
        v = r.kpis.cadence.value
        return (v if v is not None else 2.0, r.rep)

    lines = [f"• *{escape(r.name or r.rep)}*: cadence {fmt(r.kpis, 'cadence')}, multi-threading "
             f"{fmt(r.kpis, 'multithreading')}, freshness {fmt(r.kpis, 'freshness')}, follow-through "
             f"{fmt(r.kpis, 'follow_through')}" for r in sorted(report.reps, key=key)]
    if len(lines) > limit:
        lines = lines[:limit] + [f"_…and {len(lines) - limit} more: `kam kpis --manager`_"]
    blocks, text = [], "*Per rep* (weakest cadence first)"
    for line in lines:
        if len(text) + len(line) + 1 > 2900:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            text = ""
        text = f"{text}\n{line}" if text else line
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks
