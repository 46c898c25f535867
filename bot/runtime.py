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

from bot.inbox import Inbox
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
# Slack message metadata on every reply to a message: after a crash, the retry finds what was already posted for
# it in the thread (the answer: nothing more to do; only the placeholder: replace it) instead of answering twice.
ANSWER_EVENT, PLACEHOLDER_EVENT = "kam_answer", "kam_placeholder"


def reply_metadata(kind: str, asked: str) -> dict[str, Any]:
    return {"event_type": kind, "event_payload": {"asked": asked}}


def event_key(body: dict[str, Any]) -> str | None:
    event_id = body.get("event_id")
    return f"event:{event_id}" if event_id else None


COMMAND_LOST = ("Sorry, I could not answer your `{command} {text}`: I was interrupted ({why}). "
                "Please run it again.")


def command_key(body: dict[str, Any]) -> str | None:
    """A slash command's journal key: its trigger_id, which Slack makes new for every invocation."""
    trigger_id = body.get("trigger_id")
    return f"command:{trigger_id}" if body.get("command") and trigger_id else None


def journal_key(body: dict[str, Any]) -> str | None:
    return event_key(body) or command_key(body)


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
    journal: Inbox | None = None  # set by the HTTP server: acknowledged events are journalled (bot/inbox.py)
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

    # ------------------------------------------------------------------ the journal of acknowledged events
    def event_done(self, body: dict[str, Any]) -> None:
        """The event (or command) needs nothing more (answered, or nothing to answer): its journal row is closed."""
        key = journal_key(body)
        if self.journal is not None and key:
            self.journal.finish(key)

    def event_failed(self, body: dict[str, Any] | None, why: str) -> None:
        key = journal_key(body or {})
        if self.journal is not None and key:
            self.journal.fail(key, why)

    def command_done(self, body: dict[str, Any]) -> None:
        """A command was answered: close its journal row. A failure here is only logged (the answer is out, and a
        retry would answer again)."""
        try:
            self.event_done(body)
        except Exception:
            log.exception("could not mark command %s answered in the journal", command_key(body))

    def redelivered(self, body: dict[str, Any]) -> bool:
        """Whether an earlier attempt at this event may have posted something (a process died working on it)."""
        key = event_key(body)
        return bool(self.journal is not None and key and self.journal.attempts(key) > 1)

    def later(self, work: Callable[[int], Any], report: Callable[[], Any] | None = None,
              body: dict[str, Any] | None = None) -> None:
        """Run slow work (answering) in the answer pool, so the listener thread is free for the next ack.

        The request was already acknowledged, so Slack will not send it again: a failure is tried again
        (KAM_BOT_RETRIES attempts, growing pauses; `work(attempt)` must be safe to repeat), then `report` tells
        the asker and the event's journal row is marked failed."""
        attempts = max(1, self.settings.kam_bot_retries)

        def reliably() -> None:
            for attempt in range(1, attempts + 1):
                try:
                    work(attempt)
                    return
                except Exception:
                    log.exception("work after the ack failed (attempt %d of %d)", attempt, attempts)
                    if attempt < attempts:
                        time.sleep(min(30.0, 0.5 * 4 ** (attempt - 1)))
            try:
                if report is not None:
                    report()
            except Exception:
                log.exception("could not tell the asker that their request failed")
            try:
                self.event_failed(body, f"gave up after {attempts} attempts")
            except Exception:
                log.exception("could not mark a failed event in the journal")

        if self.answers is None:
            reliably()
        else:
            self.answers.submit(reliably)

    def report_failure(self, channel: str, thread_ts: str | None) -> Callable[[], Any]:
        """A `later` report: tell the asker, where they asked, that no answer is coming."""
        return lambda: self.post(channel, {"text": UNDELIVERED, "blocks": []}, thread_ts)

    def give_up(self, body: dict[str, Any], why: str) -> None:
        """An acknowledged event that kept failing before its work even started (its listener raised, or every
        process taking it on died): tell the asker where they asked, then close its journal row as failed.
        A thread reply is reported only in a thread the bot answered in (seen in Slack: the database may be what
        fails), so a failing database never makes the bot apologise in people's own threads."""
        event = body.get("event") or {}
        channel, thread_ts = event.get("channel"), event.get("thread_ts")
        if event.get("type") == "app_mention":
            thread_ts = thread_ts or event.get("ts")
        asked = event.get("type") == "app_mention" or event.get("channel_type") == "im"
        try:
            if channel and not asked and thread_ts:
                found = self.client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True,
                                                          limit=1000)
                asked = any((m.get("metadata") or {}).get("event_type") == ANSWER_EVENT
                            for m in found.get("messages") or [])
            if channel and asked:
                self.post(channel, {"text": UNDELIVERED, "blocks": []}, thread_ts)
        except Exception:
            log.exception("could not tell the asker that event %s failed", body.get("event_id"))
        log.error("gave up on event %s: %s", body.get("event_id"), why)
        self.event_failed(body, why)

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

    def give_up_command(self, body: dict[str, Any], why: str, expired: bool) -> None:
        """A journalled slash command that will not be answered (its attempts ran out, or it was taken on again
        after its response_url expired): tell the asker, then close its journal row as failed. Within the
        response_url's life at the response_url; after it, ephemerally in the channel, else in a DM."""
        message = COMMAND_LOST.format(command=body.get("command", "/kam"), text=(body.get("text") or "").strip(),
                                      why=why)
        user, channel, url = body.get("user_id"), body.get("channel_id"), body.get("response_url")
        try:
            if url and not expired:
                from slack_sdk.webhook import WebhookClient

                WebhookClient(url).send(text=message, response_type="ephemeral")
            elif user:
                try:
                    self.client.chat_postEphemeral(channel=channel or user, user=user, text=message)
                except SlackApiError as exc:  # the bot is not in that channel (a DM between people): a DM
                    log.warning("chat.postEphemeral failed (%s); telling %s in a DM", exc.response.get("error"),
                                user)
                    self.client.chat_postMessage(channel=user, text=message)
        except Exception:
            log.exception("could not tell %s that command %s failed", user, command_key(body))
        log.error("gave up on command %s: %s", command_key(body), why)
        self.event_failed(body, why)

    # ------------------------------------------------------------------ posting
    def post(self, channel: str, message: Message, thread_ts: str | None = None,
             metadata: dict[str, Any] | None = None) -> str:
        """chat.postMessage, paced per channel; the WebClient retries 429s after Retry-After."""
        self.pacer.wait(channel)
        kwargs: dict[str, Any] = {"channel": channel, "text": message["text"], "unfurl_links": False}
        if message.get("blocks"):
            kwargs["blocks"] = message["blocks"]
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata:
            kwargs["metadata"] = metadata
        return str(self.client.chat_postMessage(**kwargs)["ts"])

    def update(self, channel: str, ts: str, message: Message, metadata: dict[str, Any] | None = None) -> None:
        self.pacer.wait(channel)
        kwargs: dict[str, Any] = {"metadata": metadata} if metadata else {}
        self.client.chat_update(channel=channel, ts=ts, text=message["text"], blocks=message.get("blocks") or [],
                                **kwargs)

    def post_all(self, channel: str, messages: list[Message], thread_ts: str | None = None,
                 replace_ts: str | None = None, metadata: dict[str, Any] | None = None) -> list[str]:
        """Post (or, for the first, update `replace_ts`) the messages of one reply in order."""
        out = []
        for i, message in enumerate(messages):
            if i == 0 and replace_ts:
                try:
                    self.update(channel, replace_ts, message, metadata)
                    out.append(replace_ts)
                    continue
                except SlackApiError as exc:  # the placeholder was deleted: post instead
                    log.warning("chat.update failed (%s); posting instead", exc.response.get("error"))
            out.append(self.post(channel, message, thread_ts, metadata))
        return out

    def earlier_reply(self, channel: str, thread_ts: str | None, asked: str) -> tuple[bool, str | None]:
        """What an earlier attempt posted for the message `asked` (its "channel:ts"): (answered, placeholder ts).
        Read from Slack itself (message metadata), since a process can die right after Slack accepted a post."""
        try:
            if thread_ts:
                found = self.client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True,
                                                          limit=1000)
            else:  # a DM answered outside a thread
                found = self.client.conversations_history(channel=channel, include_all_metadata=True, limit=100)
        except SlackApiError as exc:
            if exc.response.get("error") in ("thread_not_found", "channel_not_found", "not_in_channel"):
                return False, None
            raise
        placeholder = None
        for m in found.get("messages") or []:
            meta = m.get("metadata") or {}
            if (meta.get("event_payload") or {}).get("asked") != asked:
                continue
            if meta.get("event_type") == ANSWER_EVENT:
                return True, None
            if meta.get("event_type") == PLACEHOLDER_EVENT:
                placeholder = str(m["ts"])
        return False, placeholder

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
                          surface: str, track_thread: bool, asked: str = "",
                          placeholder_ts: str | None = None) -> list[str]:
        """Answer a message: identity, ask, placeholder when slow, post the rendered answer (threaded if given).
        `asked` ("channel:ts" of the question) tags the replies; `placeholder_ts`: one an earlier attempt left."""
        answered = reply_metadata(ANSWER_EVENT, asked) if asked else None
        person = self.people.person(user_id)
        if person is None:
            return [self.post(channel, {"text": UNKNOWN_USER, "blocks": []}, thread_ts, answered)]
        conversation_id = f"{channel}:{thread_ts}" if thread_ts else channel
        placeholder = _Placeholder(self, channel, thread_ts, self.settings.kam_slack_placeholder_after,
                                   reply_metadata(PLACEHOLDER_EVENT, asked) if asked else None,
                                   shown=placeholder_ts)
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
        posted = self.post_all(channel, messages, thread_ts, replace_ts=placeholder_ts, metadata=answered)
        if track_thread and thread_ts:
            try:  # the answer is out: a failure here must not make a retry answer twice
                self.state.track_thread(channel, thread_ts, user_id)
            except Exception:
                log.exception("could not remember thread %s:%s", channel, thread_ts)
        return posted


class _Placeholder:
    """Posts "looking it up" if the answer is not ready after `after` seconds; `stop()` returns its ts (or None)."""

    def __init__(self, ctx: BotContext, channel: str, thread_ts: str | None, after: float,
                 metadata: dict[str, Any] | None = None, shown: str | None = None):
        self.ctx, self.channel, self.thread_ts, self.metadata = ctx, channel, thread_ts, metadata
        self.ts: str | None = shown  # a placeholder already in Slack (left by an attempt that died)
        self._done = shown is not None
        self._lock = threading.Lock()  # held while posting, so stop() waits for a post in flight
        self._timer = threading.Timer(max(0.0, after), self._show)
        self._timer.daemon = True
        self._timer.start()

    def _show(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                self.ts = self.ctx.post(self.channel, {"text": PLACEHOLDER, "blocks": []}, self.thread_ts,
                                        self.metadata)
            except SlackApiError as exc:
                log.warning("placeholder not posted: %s", exc.response.get("error"))

    def stop(self) -> str | None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            return self.ts
