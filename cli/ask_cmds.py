"""`kam ask "QUESTION" --as EMAIL [--json] [--conversation ID]`: the Ask skill from the shell."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from cli.context import console, ctx, fail, print_json
from cli.terminal import to_terminal

if TYPE_CHECKING:
    from skills.ask.models import Answer


def answer_json(answer: Answer) -> dict:
    """The `--json` contract: these fields (new ones are added, none renamed)."""
    return {
        "answer": answer.answer,
        "status": answer.status,
        "language": answer.language,
        "sources": [{"account": s.account, "dimension": s.dimension,
                     "updated": s.updated.isoformat() if s.updated else None, "owner": s.owner, "id": s.id}
                    for s in answer.sources],
        "path": answer.path,
        "fallback_reason": answer.fallback_reason,  # why the configured LLM was not used; null otherwise
        "evidence": [{"text": q.text, "source_id": q.source_id} for q in answer.evidence],
    }


def print_answer(answer: Answer) -> None:
    """Console rendering: the answer (Markdown shown as terminal text), then its sources, dimmed, framed in the
    answer's language."""
    from bot.render_answer import dimension_label
    from skills.ask.phrases import t

    lang = answer.language
    console.print(to_terminal(answer.answer), highlight=False)
    if answer.sources:
        console.print("[dim]" + escape(t(lang, "sources")) + "[/]", highlight=False)
        for s in answer.sources:
            line = t(lang, "source_line", account=s.account, dimension=dimension_label(s.dimension, lang)
                     if lang != "en" else s.dimension or "-", updated=s.updated or t(lang, "not_dated"),
                     owner=s.owner)
            console.print("[dim]" + escape(f"  - {line} [{s.id}]") + "[/]", highlight=False)
    if answer.fallback_reason:
        console.print("[dim]" + escape(t(lang, "llm_fallback", reason=answer.fallback_reason)) + "[/]",
                      highlight=False)


def ask(question: str = typer.Argument(..., help="the question, as a rep would type it"),
        as_email: str = typer.Option(..., "--as", help="who is asking (email or Slack id): access rules follow"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable answer"),
        conversation: str | None = typer.Option(None, "--conversation", help="id that links follow-up questions"),
        today: str | None = typer.Option(None, "--today", help="answer as of this date (YYYY-MM-DD)")) -> None:
    """Answer a question about your accounts, with sources."""
    from knowledge.kb import KnowledgeBase
    from skills.ask import ask as run_ask

    if not question.strip():
        fail("the question is empty")
    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        fail(f"--today must be a date YYYY-MM-DD, got {today!r}")
    c = ctx()
    if c.store.person(as_email) is None:
        fail(f"unknown person {as_email!r}: not in people.yaml")
    kb = KnowledgeBase(c.settings, c.store, c.index)
    result = run_ask(kb, question, as_email, conversation_id=conversation, today=day)
    if as_json:
        print_json(answer_json(result))
    else:
        print_answer(result)


def register(app: typer.Typer) -> None:
    app.command()(ask)
