"""What every command needs: settings, the store, and (only when asked for) the index, opened once."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:  # loaded by the commands that use them, not at start-up (`kam --help` stays fast)
    from knowledge.index import Index
    from knowledge.settings import Settings
    from knowledge.store import Store

console = Console()
err_console = Console(stderr=True)


class Context:
    def __init__(self, settings: Settings | None = None):
        if settings is None:
            from knowledge.settings import Settings

            settings = Settings()
        self.settings = settings
        self._store: Store | None = None
        self._index: Index | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            from knowledge.store import Store

            self._store = Store(self.settings)
        return self._store

    @property
    def index(self) -> Index:
        """The index for reading: owned when free, else read-only beside the process that owns it (`kam run`, the
        demo, an ingest), so questions and searches work while the bot runs."""
        if self._index is None:
            from knowledge.index import Index, IndexBusy

            try:
                self._index = Index(self.settings)
            except IndexBusy:
                self._index = Index(self.settings, read_only=True)
        return self._index

    def lock_for_writing(self) -> Index:
        """Writers (ingest, imports, `kam run`, the demo) own the index, taken before they write anything: a second
        writer is refused with the busy message (exit 3) while nothing of its input is stored yet."""
        if self._index is not None and self._index.read_only:
            self._index.close()
            self._index = None
        if self._index is None:
            from knowledge.index import Index, IndexBusy

            try:
                self._index = Index(self.settings)
            except IndexBusy as exc:
                fail(str(exc), code=3)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


_ctx: Context | None = None


def ctx() -> Context:
    global _ctx
    if _ctx is None:
        _ctx = Context()
    return _ctx


def reset_context(settings: Settings | None = None) -> Context:
    """Used by tests and `kam demo` to start over with other settings."""
    global _ctx
    if _ctx is not None:
        _ctx.close()
    _ctx = Context(settings)
    return _ctx


def notifier() -> Any:
    """Where proactive messages go: Slack when a bot token is configured, else the console.

    The one factory for every command that sends (scheduler, tier posts), so none builds the Slack notifier with
    different arguments."""
    settings = ctx().settings
    if settings.slack_bot_token:
        try:
            from bot.slack_notifier import SlackNotifier
        except ImportError:
            fail("SLACK_BOT_TOKEN is set but the Slack notifier (bot/slack_notifier.py) is not installed")
        return SlackNotifier(settings, ctx().store)
    from bot.notifier import ConsoleNotifier

    return ConsoleNotifier()


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    """Strict JSON: a non-finite number (stored before it was refused, or computed) is written as null, never as
    `Infinity`/`NaN`, which JSON parsers reject."""
    sys.stdout.write(json.dumps(_finite(data), ensure_ascii=False, indent=2, default=str, allow_nan=False) + "\n")


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr; yields a callback(done, total)."""
    if not enabled or not err_console.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
