"""How proactive messages leave kam-bot: the Notifier protocol, and the console notifier used by `kam demo`.

The scheduler hands a Notifier plain text plus optional Block Kit blocks; the Slack implementation lives in
`bot/slack_notifier.py` and adds pacing and retries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Sent:
    channel: str  # Slack channel/DM id, or the console's label
    ts: str  # message timestamp (Slack's message id)


class Notifier(Protocol):
    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        """Direct message to a person, given by email or Slack user id."""
        ...

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        """A post in a channel (by id)."""
        ...


@dataclass
class ConsoleNotifier:
    """Prints what would be sent; keeps a copy for tests and the demo."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    echo: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _emit(self, where: str, text: str) -> Sent:
        with self._lock:
            self.sent.append((where, text))
            if self.echo:
                from rich.console import Console
                from rich.markup import escape

                from cli.terminal import to_terminal  # what would be posted is Slack mrkdwn: shown readably

                Console().print(f"[bold magenta]-> {escape(where)}[/]\n{to_terminal(text, mrkdwn=True)}",
                                highlight=False)
            return Sent(where, str(len(self.sent)))

    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        return self._emit(f"DM {person}", text)

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        return self._emit(f"#{channel}", text)
