"""Block Kit builders for KPIs (pure, no I/O): a section of KPI lines and the charts' image blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skills.kpis import KpiSet, fmt, kpi_names, label

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
