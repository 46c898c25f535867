"""Mentions, direct messages, follow-ups in answered threads, and the feedback buttons under answers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk.errors import SlackApiError

from bot.render_answer import FEEDBACK_BLOCK, FEEDBACK_DOWN, FEEDBACK_UP, context
from bot.runtime import ANSWER_EVENT, BotContext, event_key, reply_metadata

log = logging.getLogger("kam.bot")

# Message subtypes that carry a person's new text; everything else (bot_message, message_changed,
# message_deleted, channel_join, ...) is ignored.
ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share"}
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def dedupe_events(ctx: BotContext) -> Callable[..., Any]:
    """Listener middleware: a delivery this process has already seen (a retry, a double delivery) is acknowledged
    with 200 and dropped, so Slack stops retrying. This check is in memory to keep acks fast; the persistent,
    cross-restart check is `claim_event` in the worker."""

    def middleware(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002
        key = event_key(body)
        # behind the HTTP server the journal already let exactly one delivery through (and a recovered event
        # must pass again in the same process)
        if key and ctx.journal is None and not ctx.state.first_delivery(key):
            return BoltResponse(status=200, body="")
        next()
        return None

    return middleware


def claim_event(ctx: BotContext, body: dict[str, Any]) -> bool:
    """The persistent claim of an event id (survives restarts); False if it was already handled."""
    key = event_key(body)
    return ctx.state.claim(key) if key else True


def finish_event(ctx: BotContext, body: dict[str, Any]) -> None:
    key = event_key(body)
    if key:
        ctx.state.finish(key)


class AnsweringElsewhere(Exception):  # noqa: N818 - not an error: another process holds the message's claim
    """The message is claimed by another process that has not finished it (it may be answering it, or dead)."""


def handle_event(ctx: BotContext, body: dict[str, Any], work: Callable[[], None]) -> None:
    """Claim an acknowledged event, do its work, mark it done (also in the journal); on failure give the claim back
    so the retry in `ctx.later` (or a later delivery) can handle it. Behind the journal its lease already makes
    this process the only one working on the event, so only the message claim (below) can be contended."""
    if ctx.journal is None and not claim_event(ctx, body):
        return  # handled already
    try:
        work()
    except AnsweringElsewhere:
        # look again once that claim's lease has run out: answered by then (done), or its process died (taken over)
        key = event_key(body)
        if ctx.journal is not None and key:
            ctx.journal.retry_later(key, ctx.state.lease.total_seconds())
        return
    except Exception:
        key = event_key(body)
        if key:
            ctx.state.release(key)
        raise
    finish_event(ctx, body)
    ctx.event_done(body)


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def mentions_bot(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and any(m == bot_user_id for m in _MENTION.findall(text or ""))


def _ignored(event: dict[str, Any]) -> bool:
    return event.get("subtype") not in ANSWERED_SUBTYPES or bool(event.get("bot_id")) or not event.get("user")


def _answer_message(ctx: BotContext, event: dict[str, Any], bot_user_id: str | None, *, thread_ts: str | None,
                    surface: str, track_thread: bool, recheck: bool = False) -> None:
    """Answer one message once. `recheck`: an earlier attempt may have posted before it died or failed, so look
    in Slack first for a reply tagged with this message."""
    channel, ts = event["channel"], event["ts"]
    # app_mention and message.channels both arrive for a mention in a channel the bot is in (different
    # event ids): one claim per message makes sure it is answered once
    key = f"msg:{channel}:{ts}"
    if not ctx.state.claim(key):
        if ctx.journal is not None and not ctx.state.finished(key):
            raise AnsweringElsewhere(key)
        return
    asked = f"{channel}:{ts}"
    question = strip_mentions(event.get("text") or "", bot_user_id)
    try:
        answered, placeholder_ts = ctx.earlier_reply(channel, thread_ts, asked) if recheck else (False, None)
        if answered:
            log.info("message %s was answered before a restart; not answering again", asked)
        elif not question:
            ctx.post(channel, {"text": "Ask me about your accounts, e.g. “who decides at Acme?” (`/kam help`).",
                               "blocks": []}, thread_ts, reply_metadata(ANSWER_EVENT, asked))
        else:
            ctx.answer_in_channel(user_id=event["user"], question=question, channel=channel, thread_ts=thread_ts,
                                  surface=surface, track_thread=track_thread, asked=asked,
                                  placeholder_ts=placeholder_ts)
    except Exception:
        ctx.state.release(key)  # nothing was delivered: the retry may answer
        raise
    ctx.state.finish(key)


def register(app: App, ctx: BotContext) -> None:
    dedupe = [dedupe_events(ctx)]

    @app.event("app_mention", middleware=dedupe)
    def on_mention(event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]) -> None:
        if _ignored(event):
            ctx.event_done(body)
            return
        bot_user_id, thread_ts = context.get("bot_user_id"), event.get("thread_ts") or event["ts"]

        def run(attempt: int) -> None:
            recheck = attempt > 1 or ctx.redelivered(body)
            handle_event(ctx, body, lambda: _answer_message(ctx, event, bot_user_id, thread_ts=thread_ts,
                                                            surface="mention", track_thread=True, recheck=recheck))

        ctx.later(run, ctx.report_failure(event["channel"], thread_ts), body)

    @app.event("message", middleware=dedupe)
    def on_message(event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]) -> None:
        bot_user_id = context.get("bot_user_id")
        if _ignored(event):
            ctx.event_done(body)
            return
        if event.get("channel_type") == "im":
            surface, thread_ts, track = "dm", event.get("thread_ts"), False
        elif (event.get("thread_ts") and not mentions_bot(event.get("text", ""), bot_user_id)
              and ctx.state.is_bot_thread(event["channel"], event["thread_ts"])):
            surface, thread_ts, track = "thread", event["thread_ts"], True
        else:
            ctx.event_done(body)
            return  # channel chatter: nothing to answer, nothing to remember

        def run(attempt: int) -> None:
            recheck = attempt > 1 or ctx.redelivered(body)
            handle_event(ctx, body, lambda: _answer_message(ctx, event, bot_user_id, thread_ts=thread_ts,
                                                            surface=surface, track_thread=track, recheck=recheck))

        ctx.later(run, ctx.report_failure(event["channel"], thread_ts), body)

    def on_feedback(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any],
                    respond: Callable[..., Any]) -> None:
        ack()
        helpful = action["action_id"] == FEEDBACK_UP
        user = body["user"]["id"]
        try:
            answer_id = int(action.get("value") or "")
        except ValueError:
            return
        if not ctx.state.record_feedback(answer_id, helpful, user):
            return
        thanks = context(("👍 Marked helpful" if helpful else "👎 Marked not helpful") + f" by <@{user}>. Thanks!")
        message = body.get("message")
        container = body.get("container") or {}
        if message and not container.get("is_ephemeral"):
            blocks = [thanks if b.get("block_id") == FEEDBACK_BLOCK else b for b in message.get("blocks") or []]
            try:
                ctx.update(container.get("channel_id") or body["channel"]["id"], message["ts"],
                           {"text": message.get("text") or "answer", "blocks": blocks})
            except SlackApiError as exc:
                log.warning("feedback: chat.update failed: %s", exc.response.get("error"))
        elif body.get("response_url"):
            respond(text="Thanks for the feedback!", response_type="ephemeral", replace_original=False)

    app.action(FEEDBACK_UP)(on_feedback)
    app.action(FEEDBACK_DOWN)(on_feedback)
