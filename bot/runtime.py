"""What every handler shares: the knowledge base, the Web API client, persistent state, identity, pacing, and the
one answering flow (ask -> placeholder if slow -> Block Kit -> post or update, exactly once)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.render_answer import Message, escape, render_answer
from bot.slack_client import ChannelPacer, PeopleResolver
from bot.state import BotState
from knowledge.kb import KnowledgeBase
from knowledge.profile import Person
from knowledge.settings import Settings
from skills.ask.models import Answer
from skills.notes import NoteClassifier

log = logging.getLogger("kam.bot")

PLACEHOLDER = "🔎 Looking it up…"
UNKNOWN_USER = ("Sorry, I don't know who you are yet, so I can't share account information. "
                "Ask your kam-bot admin to add your Slack account (or your email) to people.yaml.")
FAILED = "Sorry, something went wrong while answering. Please try again in a moment."
UNDELIVERED = "Sorry, I could not answer this message: something kept failing on my side. Please ask again later."


@dataclass
class BotContext:
    kb: KnowledgeBase
    settings: Settings
    client: WebClient
    state: BotState
    people: PeopleResolver
    pacer: ChannelPacer
    classifier: NoteClassifier
    today: Callable[[], dt.date | None] = lambda: None  # None: the engine's own today
    answers: Executor | None = None  # where slow work runs, off bolt's listener threads (None: inline)
    index_lock: threading.Lock = field(default_factory=threading.Lock)
    _labels: dict[str, str] = field(default_factory=dict)

    @property
    def store(self):  # noqa: ANN201 - knowledge.store.Store
        return self.kb.store

    def day(self) -> dt.date:
        return self.today() or dt.date.today()

    def owner_label(self, owner: str) -> str:
        """An owner as a Slack mention when we know their Slack id (mentions in context blocks do not notify)."""
        if owner not in self._labels:
            person = self.store.person(owner)
            slack_id = person.slack_id if person and person.slack_id else (owner if owner[:1] in "UW" and
                                                                           "@" not in owner else None)
            self._labels[owner] = f"<@{slack_id}>" if slack_id else escape(owner)
        return self._labels[owner]

    def later(self, work: Callable[[], Any], report: Callable[[], Any] | None = None) -> None:
        """Run slow work (answering) in the answer pool, so the listener thread is free for the next ack.

        The request was already acknowledged, so Slack will not send it again: a failure is tried again
        (KAM_BOT_RETRIES attempts, growing pauses; `work` must be safe to repeat), then `report` tells the asker."""
        attempts = max(1, self.settings.kam_bot_retries)

        def reliably() -> None:
            for attempt in range(1, attempts + 1):
                try:
                    work()
                    return
                except Exception:
                    log.exception("work after the ack failed (attempt %d of %d)", attempt, attempts)
                    if attempt < attempts:
                        time.sleep(min(30.0, 0.5 * 4 ** (attempt - 1)))
            if report is None:
                return
            try:
                report()
            except Exception:
                log.exception("could not tell the asker that their request failed")

        if self.answers is None:
            reliably()
        else:
            self.answers.submit(reliably)

    def report_failure(self, channel: str, thread_ts: str | None) -> Callable[[], Any]:
        """A `later` report: tell the asker, where they asked, that no answer is coming."""
        return lambda: self.post(channel, {"text": UNDELIVERED, "blocks": []}, thread_ts)

    def answer_edits(self, answer: Answer) -> dict[str, Any] | None:
        """Edit buttons for the parts of profiles an answer cites (bot/render_edit.py); None when there are none."""
        from bot.render_edit import answer_edit_block
        from knowledge.profile import DIMENSIONS

        if answer.status != "answered":
            return None
        targets = {**{d: d.capitalize() for d in DIMENSIONS}, "metrics": "Metrics", "contacts": "Add contact",
                   "key_dates": "Add key date"}
        from knowledge.chunks import contact_key

        cited: list[tuple[str, str, str, str]] = []
        ids: dict[str, str | None] = {}
        contacts: dict[str, dict[str, str]] = {}  # account id -> {contact key: name}
        for src in answer.sources:
            if src.account not in ids:
                ids[src.account] = self.store.find_account(src.account)
            aid = ids[src.account]
            if not aid:
                continue
            item: tuple[str, str, str, str] | None = None
            if ":contact:" in src.id:  # a contact's chunk: edit that contact
                if aid not in contacts:
                    profile = self.store.load_profile(aid)
                    contacts[aid] = {contact_key(c.name): c.name for c in (profile.contacts if profile else [])}
                name = contacts[aid].get(src.id.rsplit(":contact:", 1)[1].rstrip("x"))
                if name:
                    item = (aid, src.account, f"contacts[{name}]", name)
            elif src.dimension in targets:
                item = (aid, src.account, str(src.dimension), targets[str(src.dimension)])
            if item and item not in cited:
                cited.append(item)
        return answer_edit_block(cited)

    # ------------------------------------------------------------------ posting
    def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        """chat.postMessage, paced per channel; the WebClient retries 429s after Retry-After."""
        self.pacer.wait(channel)
        kwargs: dict[str, Any] = {"channel": channel, "text": message["text"], "unfurl_links": False}
        if message.get("blocks"):
            kwargs["blocks"] = message["blocks"]
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        return str(self.client.chat_postMessage(**kwargs)["ts"])

    def update(self, channel: str, ts: str, message: Message) -> None:
        self.pacer.wait(channel)
        self.client.chat_update(channel=channel, ts=ts, text=message["text"], blocks=message.get("blocks") or [])

    def post_all(self, channel: str, messages: list[Message], thread_ts: str | None = None,
                 replace_ts: str | None = None) -> list[str]:
        """Post (or, for the first, update `replace_ts`) the messages of one reply in order."""
        out = []
        for i, message in enumerate(messages):
            if i == 0 and replace_ts:
                try:
                    self.update(channel, replace_ts, message)
                    out.append(replace_ts)
                    continue
                except SlackApiError as exc:  # the placeholder was deleted: post instead
                    log.warning("chat.update failed (%s); posting instead", exc.response.get("error"))
            out.append(self.post(channel, message, thread_ts))
        return out

    # ------------------------------------------------------------------ answering
    def ask(self, question: str, person: Person, conversation_id: str) -> tuple[Answer, float]:
        from skills.ask import ask  # the engine may be slow to import (LLM libraries)

        started = time.perf_counter()
        try:
            answer = ask(self.kb, question, person.email, conversation_id=conversation_id, today=self.today())
        except Exception:
            log.exception("ask failed for %s", person.email)
            answer = Answer(answer=FAILED, status="unknown", language="en")
        return answer, time.perf_counter() - started

    def answer_in_channel(self, *, user_id: str, question: str, channel: str, thread_ts: str | None,
                          surface: str, track_thread: bool) -> list[str]:
        """Answer a message: identity, ask, placeholder when slow, post the rendered answer (threaded if given)."""
        person = self.people.person(user_id)
        if person is None:
            return [self.post(channel, {"text": UNKNOWN_USER, "blocks": []}, thread_ts)]
        conversation_id = f"{channel}:{thread_ts}" if thread_ts else channel
        placeholder = _Placeholder(self, channel, thread_ts, self.settings.kam_slack_placeholder_after)
        try:
            answer, seconds = self.ask(question, person, conversation_id)
        finally:
            placeholder_ts = placeholder.stop()
        answer_id = self.state.record_answer(
            user=user_id, email=person.email, channel=channel, thread_ts=thread_ts, surface=surface,
            question=question, answer=answer.answer, status=answer.status, path=answer.path,
            sources=[s.model_dump(mode="json") for s in answer.sources], seconds=round(seconds, 4))
        messages = render_answer(answer, answer_id, stale_days=self.settings.kam_stale_days,
                                 owner_label=self.owner_label, edits=self.answer_edits(answer))
        posted = self.post_all(channel, messages, thread_ts, replace_ts=placeholder_ts)
        if track_thread and thread_ts:
            try:  # the answer is out: a failure here must not make a retry answer twice
                self.state.track_thread(channel, thread_ts, user_id)
            except Exception:
                log.exception("could not remember thread %s:%s", channel, thread_ts)
        return posted


class _Placeholder:
    """Posts "looking it up" if the answer is not ready after `after` seconds; `stop()` returns its ts (or None)."""

    def __init__(self, ctx: BotContext, channel: str, thread_ts: str | None, after: float):
        self.ctx, self.channel, self.thread_ts = ctx, channel, thread_ts
        self.ts: str | None = None
        self._done = False
        self._lock = threading.Lock()  # held while posting, so stop() waits for a post in flight
        self._timer = threading.Timer(max(0.0, after), self._show)
        self._timer.daemon = True
        self._timer.start()

    def _show(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                self.ts = self.ctx.post(self.channel, {"text": PLACEHOLDER, "blocks": []}, self.thread_ts)
            except SlackApiError as exc:
                log.warning("placeholder not posted: %s", exc.response.get("error"))

    def stop(self) -> str | None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            return self.ts
