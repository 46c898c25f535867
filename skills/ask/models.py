"""The answer contract shared by the offline and LLM paths, the CLI (`kam ask --json`) and the Slack surface."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class Source(BaseModel):
    account: str
    dimension: str | None = None  # one of the six dimensions, or a record: contacts, key_dates, metrics, tier, ...
    updated: dt.date | None = None  # the "as of" date of what was used
    owner: str
    id: str  # a chunk or record id the answer was built from


class Quote(BaseModel):
    """A sentence the answer quotes from a document, note or profile text, and where it comes from."""

    text: str
    source_id: str


class Answer(BaseModel):
    answer: str  # Markdown-light text: **bold**, bullet lines, no HTML
    status: Literal["answered", "unknown", "denied"]
    language: str  # "en", "zh", ...
    sources: list[Source] = Field(default_factory=list)
    path: Literal["offline", "llm"] = "offline"
    stale: bool = False  # a cited dimension is older than KAM_STALE_DAYS
    fallback_reason: str | None = None  # set when the LLM path failed and the offline answer was used
    account_ids: list[str] = Field(default_factory=list)  # accounts the answer is about (for follow-ups, links)
    dropped_sources: list[str] = Field(default_factory=list)  # ids the LLM cited that no tool returned (removed)
    evidence: list[Quote] = Field(default_factory=list)  # sentences quoted from documents / notes, with their source
