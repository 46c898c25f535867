"""Answers and bot messages for a terminal: Markdown-light (answers) and Slack mrkdwn (posts, nudges) as rich markup.

Nothing of the markup reaches the screen raw: `**b**` and mrkdwn `*b*` become bold, `[t](u)` and Slack's `<u|t>`
become "t (u)", Slack's escapes (&amp; &lt; &gt;) are undone, and user or channel references are shown readably.
"""

from __future__ import annotations

import re

from rich.markup import escape

_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)")
_SLACK_REF = re.compile(r"<([^<>|\n]+)(?:\|([^<>\n]*))?>")
_CODE = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_BULLET = re.compile(r"^(\s*)[-*+•]\s+", re.M)
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")
_MRKDWN_BOLD = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")
_MRKDWN_ITALIC = re.compile(r"(?<![_\w])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![_\w])")
_STRIKE = re.compile(r"~~?(?=\S)([^~\n]+?)(?<=\S)~~?")


def _link(url: str, label: str | None) -> str:
    """How a link reads in a terminal: the label, then the address unless the label already says it."""
    bare = url.removeprefix("mailto:")
    if not label or label.strip() in (url, bare):
        return bare
    return f"{label} ({bare})"


def _slack_ref(target: str, label: str | None) -> str:
    if target.startswith("@"):  # a user mention: <@U123> or <@U123|alice>
        return "@" + (label or target[1:])
    if target.startswith("#"):  # a channel: <#C123|sales>
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!date^...|fallback>
        return label or "@" + target[1:].split("^")[0]
    return _link(target, label)


def to_terminal(text: str, *, mrkdwn: bool = False) -> str:
    """Rich markup for `text`: Markdown-light (answers) or, with `mrkdwn=True`, Slack mrkdwn (what the bot posts)."""
    keep: list[str] = []

    def stash(value: str) -> str:
        keep.append(value)
        return f"\x00{len(keep) - 1}\x00"

    text = _CODE.sub(lambda m: stash(f"[bold cyan]{escape(m.group(1))}[/]"), text)
    text = _MD_LINK.sub(lambda m: stash(escape(_link(m.group(2), m.group(1)))), text)
    if mrkdwn:
        text = _SLACK_REF.sub(lambda m: stash(escape(_unescape(_slack_ref(m.group(1), m.group(2))))), text)
        text = _unescape(text)
    text = escape(text)
    text = _HEADING.sub(lambda m: stash("[bold]" + _MD_BOLD.sub(r"\2", m.group(1)).strip("*") + "[/]"), text)
    text = _BULLET.sub(lambda m: m.group(1) + "• ", text)
    text = _MD_BOLD.sub(lambda m: stash(f"[bold]{m.group(2)}[/]"), text)
    if mrkdwn:
        text = _MRKDWN_BOLD.sub(lambda m: stash(f"[bold]{m.group(1)}[/]"), text)
        text = _MRKDWN_ITALIC.sub(lambda m: stash(f"[italic]{m.group(1)}[/]"), text)
    else:
        text = _MD_ITALIC.sub(lambda m: stash(f"[italic]{m.group(1)}[/]"), text)
    text = _STRIKE.sub(lambda m: stash(f"[strike]{m.group(1)}[/]"), text)
    while "\x00" in text:
        text = re.sub(r"\x00(\d+)\x00", lambda m: keep[int(m.group(1))], text)
    return text


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
