"""Block Kit builders for KPIs (pure, no I/O): a section of KPI fields and the chart image block."""

from __future__ import annotations

from typing import Any

from skills.kpis import KpiSet, fmt, kpi_names, label

Block = dict[str, Any]


def chart_block(file_id: str, title: str, alt: str) -> Block:
    """An image block showing a file uploaded with files.getUploadURLExternal + files.completeUploadExternal."""
    return {"type": "image", "slack_file": {"id": file_id}, "alt_text": alt[:2000],
            "title": {"type": "plain_text", "text": title[:2000]}}


def kpi_blocks(title: str, kpis: KpiSet, period_days: int, *, chart_file_id: str | None = None,
               chart_title: str = "KPI trends, last 12 weeks", note: str | None = None) -> list[Block]:
    """A titled section with a line per KPI, and the trend chart when it was uploaded."""
    lines = "\n".join(f"• {label(k)}: *{fmt(kpis, k)}*" for k in kpi_names())
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*📈 {title}* · last {period_days} days · "
                                                             f"{kpis.accounts} accounts ({kpis.covered_accounts} "
                                                             f"key or strategic)\n{lines}"}},
    ]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note[:3000]}]})
    if chart_file_id:
        blocks.append(chart_block(chart_file_id, chart_title, f"{chart_title}: " + "; ".join(
            f"{label(k)} {fmt(kpis, k)}" for k in kpi_names())))
    return blocks
