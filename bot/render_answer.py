"""Answers as Slack messages: Markdown-light -> mrkdwn, sources, stale warning, feedback buttons, and splitting
within Slack's limits (50 blocks per message, 3,000 characters per section text)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from knowledge.profile import DIMENSIONS
from skills.ask.models import Answer
from skills.ask.phrases import DIM_LABELS, label, t

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_CONTEXT_ELEMENTS = 10
FEEDBACK_BLOCK = "kam_feedback"
FEEDBACK_UP = "kam_feedback_up"
FEEDBACK_DOWN = "kam_feedback_down"

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)")
_CODE = re.compile(r"`[^`\n]+`")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.M)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_to_mrkdwn(text: str) -> str:
    """Convert the Markdown-light of answers to Slack mrkdwn: **b** -> *b*, *i* -> _i_, [t](u) -> <u|t>,
    headings -> bold lines, "- " bullets -> "• ", and &<> escaped. Inline code is left as it is (escaped)."""
    keep: list[str] = []

    def stash(value: str) -> str:
        keep.append(value)
        return f"\x00{len(keep) - 1}\x00"

    text = _CODE.sub(lambda m: stash(escape(m.group(0))), text)
    text = _LINK.sub(lambda m: stash(f"<{m.group(2).replace('|', '%7C')}|{escape(m.group(1)).replace('|', '¦')}>"),
                     text)
    text = escape(text)
    text = _HEADING.sub(lambda m: stash("*" + _BOLD.sub(r"\2", m.group(1)).strip("*") + "*"), text)
    text = _BULLET.sub(lambda m: m.group(1) + "• ", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _BOLD.sub(lambda m: stash(f"*{m.group(2)}*"), text)
    text = _STRIKE.sub(r"~\1~", text)
    while "\x00" in text:
        text = re.sub(r"\x00(\d+)\x00", lambda m: keep[int(m.group(1))], text)
    return text


def plain_text(text: str) -> str:
    """The Markdown-light answer without markup, for notifications and clients that do not show blocks."""
    text = _LINK.sub(r"\1 (\2)", text)
    text = _HEADING.sub(r"\1", text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\1", text)
    return _STRIKE.sub(r"\1", text)


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, then line, then word boundaries."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 3:
            cut = window.rfind("\n")
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        # never cut inside an escape (&amp;) or a link (<url|text>)
        amp = window.rfind("&", 0, cut)
        if amp != -1 and ";" not in window[amp:cut] and cut - amp < 6:
            cut = amp
        lt = window.rfind("<", 0, cut)
        if lt != -1 and ">" not in window[lt:cut] and lt > 0:
            cut = lt
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return [p for p in pieces if p]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def sections(mrkdwn: str) -> list[Block]:
    return [section(p) for p in split_text(mrkdwn)]


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t[:MAX_SECTION]} for t in texts]}


def dimension_label(dimension: str | None, lang: str = "en") -> str:
    if lang != "en":
        return label(DIM_LABELS, lang, dimension or "profile")
    if not dimension:
        return "profile"
    return dimension.replace("_", " ") if dimension not in DIMENSIONS else dimension.capitalize()


def source_blocks(answer: Answer, owner_label: Callable[[str], str] = escape) -> list[Block]:
    """The sources as context blocks: account · dimension · as of date · owner (10 per block, at most 3 blocks)."""
    seen: set[tuple[str, str | None]] = set()
    items: list[str] = []
    for src in answer.sources:
        key = (src.account, src.dimension)
        if key in seen:
            continue
        seen.add(key)
        lang = answer.language
        as_of = t(lang, "as_of", date=src.updated.isoformat()) if src.updated else t(lang, "undated")
        items.append(f"*{escape(src.account)}* · {escape(dimension_label(src.dimension, lang))} · {as_of} · "
                     f"{owner_label(src.owner)}")
    if not items:
        return []
    limit = MAX_CONTEXT_ELEMENTS * 3 - 1
    if len(items) > limit + 1:
        items = items[:limit] + [t(answer.language, "more_sources", n=len(items) - limit)]
    items[0] = t(answer.language, "sources_head") + items[0]
    return [context(*items[i:i + MAX_CONTEXT_ELEMENTS]) for i in range(0, len(items), MAX_CONTEXT_ELEMENTS)]


def feedback_block(answer_id: int, lang: str = "en") -> Block:
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK,
        "elements": [
            {"type": "button", "action_id": FEEDBACK_UP, "value": str(answer_id),
             "text": {"type": "plain_text", "text": t(lang, "helpful"), "emoji": True}},
            {"type": "button", "action_id": FEEDBACK_DOWN, "value": str(answer_id),
             "text": {"type": "plain_text", "text": t(lang, "not_helpful"), "emoji": True}},
        ],
    }


def stale_block(stale_days: int, lang: str = "en") -> Block:
    return context(t(lang, "stale_warning", days=stale_days))


def chunk_messages(blocks: list[Block], fallback: str, max_blocks: int = MAX_BLOCKS) -> list[Message]:
    """Split blocks into messages of at most `max_blocks`; each message gets a plain-text fallback."""
    messages: list[Message] = []
    for i in range(0, len(blocks), max_blocks):
        part = blocks[i:i + max_blocks]
        if i == 0:
            text = fallback
        else:
            text = "\n".join(b["text"]["text"] for b in part if b.get("type") == "section" and "text" in b)
            text = text or "(continued)"
        messages.append({"text": _cap(text), "blocks": part})
    return messages or [{"text": _cap(fallback), "blocks": []}]


def _cap(text: str, limit: int = 3900) -> str:
    # chat.postMessage truncates text past 40,000 chars and Slack advises < 4,000; the blocks carry the rest
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_answer(answer: Answer, answer_id: int | None = None, *, stale_days: int = 180,
                  owner_label: Callable[[str], str] = escape, edits: Block | None = None) -> list[Message]:
    """One or more messages for an answer: text sections, stale warning, sources, Edit buttons for the parts of the
    profiles it cites (`edits`, bot/render_edit.py), then feedback buttons."""
    blocks = sections(md_to_mrkdwn(answer.answer)) or [section("_(no answer text)_")]
    if answer.status == "answered":
        if answer.stale:
            blocks.append(stale_block(stale_days, answer.language))
        blocks += source_blocks(answer, owner_label)
        if edits:
            blocks.append(edits)
    if answer_id is not None and answer.status != "denied":
        if answer.status == "answered":  # a complaint heard while asking: the service loop starts here
            from bot.render_cases import open_case_block

            about = answer.account_ids[0] if len(answer.account_ids) == 1 else None
            blocks.append(open_case_block(about, t(answer.language, "open_case")))
        blocks.append(feedback_block(answer_id, answer.language))
    return chunk_messages(blocks, plain_text(answer.answer) or "(no answer text)")
