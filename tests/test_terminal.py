"""What the console shows of answers (Markdown-light) and of bot posts (Slack mrkdwn): no raw markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bot.notifier import ConsoleNotifier
from cli.terminal import to_terminal

pytestmark = pytest.mark.backend_agnostic  # run once, on the embedded pass


def shown(markup: str) -> str:
    """What a terminal (without colours) displays for rich markup."""
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(markup, highlight=False)
    return out.getvalue().strip()


@pytest.mark.parametrize(("text", "expected"), [
    ("Decision maker at Acme: **Li Wei** (Director).", "Decision maker at Acme: Li Wei (Director)."),
    ("- **Acme**: renewal\n- __Beta__: visit", "• Acme: renewal\n• Beta: visit"),
    ("see [the 10-K](https://sec.gov/x) and *this*", "see the 10-K (https://sec.gov/x) and this"),
    ("run `kam tiers review` [now]", "run kam tiers review [now]"),
    ("## Suppliers\nTetra Pak", "Suppliers\nTetra Pak"),
])
def test_markdown_answers_read_plainly(text, expected):
    assert shown(to_terminal(text)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("*Acme* &amp; Co: <https://crm.example.com/a/1|open in CRM>", "Acme & Co: open in CRM (https://crm.example.com/a/1)"),
    ("mail <mailto:li@acme.com|li@acme.com> or <https://acme.com>", "mail li@acme.com or https://acme.com"),
    ("ask <@U123|alice> in <#C9|sales> &lt;now&gt; _soon_", "ask @alice in #sales <now> soon"),
    (":zzz: *Escalated to your manager's digest.*", "💤 Escalated to your manager's digest."),
])
def test_slack_mrkdwn_reads_plainly(text, expected):
    assert shown(to_terminal(text, mrkdwn=True)) == expected


def test_console_notifier_shows_posts_without_slack_markup(capsys):
    ConsoleNotifier().post_channel("kam-tiers", "*Acme*: maintenance → *key* <https://x.example/a|profile>")
    out = capsys.readouterr().out
    assert "Acme: maintenance → key profile (https://x.example/a)" in out
    assert "*" not in out and "<" not in out
