"""The bolt App: one WebClient with retries, our answering executor, and every handler registered.

HTTP mode serves it with bot/http.py; Socket Mode wraps the same App (see `socket_mode_handler`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App

from bot import handlers_commands, handlers_edit, handlers_home, handlers_messages
from bot.notifier import Notifier
from bot.runtime import BotContext, event_key
from bot.slack_client import PeopleResolver, make_client, shared_pacer
from bot.slack_notifier import SlackNotifier
from bot.state import BotState
from knowledge.kb import KnowledgeBase
from knowledge.settings import Settings
from skills.notes import NoteClassifier

log = logging.getLogger("kam.bot")

def _lower_priority(nice: int) -> None:
    """Lower this thread's CPU priority (Linux schedules threads individually), so that when answers keep the
    CPU busy, the threads that acknowledge Slack's requests still get it first."""
    with contextlib.suppress(AttributeError, OSError):  # not on every platform
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that can tell when all submitted work is done (graceful shutdown and tests wait on it)."""

    def __init__(self, workers: int, name: str, nice: int = 0):
        super().__init__(max_workers=max(1, workers), thread_name_prefix=name,
                         initializer=_lower_priority if nice else None, initargs=(nice,) if nice else ())
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201 - Executor.submit's signature
        with self._idle:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: object) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once nothing is queued or running (False on timeout)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


class Workers:
    """The bot's two pools. bolt runs listeners in `listeners`: they ack at once (slash commands, buttons and
    modals must be acknowledged within 3 s, and bolt waits for a listener thread to call ack), so this pool is
    never filled by slow work. Answering a message, the slow part, goes to `answers`, sized for the CPU."""

    def __init__(self, listeners: int, answers: int):
        self.listeners = CountingExecutor(listeners, "kam-listener")
        self.answers = CountingExecutor(answers, "kam-answer", nice=10)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once nothing is queued or running in either pool (listeners may hand work to `answers`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if not (self.listeners.wait_idle(max(0.0, left)) and self.answers.wait_idle(max(0.0, left))):
                return False
            if self.listeners.wait_idle(0):  # nothing new arrived while waiting for the answers
                return True

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.listeners.shutdown(wait=wait, cancel_futures=cancel_futures)
        self.answers.shutdown(wait=wait, cancel_futures=cancel_futures)


# Features written elsewhere that add their own listeners with `register(app, kb)`; absent modules are skipped.
FEATURE_MODULES = ("bot.handlers_tiers", "bot.handlers_nudges", "bot.handlers_cases", "bot.handlers_handover")


def create_app(kb: KnowledgeBase, settings: Settings, notifier: Notifier | None = None, *,
               token_verification_enabled: bool | None = None,
               today: Callable[[], dt.date | None] | None = None) -> App:
    """The kam-bot Slack app. `today` pins the date answers are computed for (tests); default: the real today."""
    if not settings.slack_bot_token:
        raise ValueError("SLACK_BOT_TOKEN is not set: the bot token (xoxb-...) from your Slack app's OAuth page")
    client = make_client(settings)
    pacer = shared_pacer(settings.kam_slack_channel_interval)
    workers = Workers(listeners=max(8, settings.kam_http_threads), answers=settings.kam_bot_workers)
    verify = settings.kam_slack_verify_token if token_verification_enabled is None else token_verification_enabled
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=settings.slack_signing_secret is not None,
        token_verification_enabled=verify,
        process_before_response=False,  # ack first; listeners run in `workers.listeners`
        listener_executor=workers.listeners,
        logger=logging.getLogger("kam.bot.bolt"),
    )
    ctx = BotContext(
        kb=kb, settings=settings, client=client,
        state=BotState(kb.store, settings.kam_slack_dedup_hours, settings.kam_db_busy_seconds,
                       settings.kam_slack_event_lease),
        people=PeopleResolver(kb.store, client), pacer=pacer,
        classifier=NoteClassifier(kb.index.embedder),
        today=today or (lambda: None),
        answers=workers.answers,
    )
    app.kam_context = ctx  # type: ignore[attr-defined]  # handy for tests and feature modules
    app.kam_notifier = notifier or SlackNotifier(settings, kb.store, client=client, pacer=pacer)  # type: ignore[attr-defined]
    app.kam_executor = workers  # type: ignore[attr-defined]
    app.error(_listener_failed(ctx))
    handlers_messages.register(app, ctx)
    handlers_commands.register(app, ctx)
    handlers_home.register(app, ctx)
    handlers_edit.register(app, ctx)
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a broken import inside the feature is a real error
                raise
            log.info("feature %s not installed", name)
            continue
        module.register(app, kb)
    return app


def retry_pause(attempt: int) -> float:
    """Seconds before an acknowledged event whose listener failed is tried again: 0.5, 2, 8, ... at most 30."""
    return min(30.0, 0.5 * 4 ** max(0, attempt - 1))


def _listener_failed(ctx: BotContext) -> Callable[..., None]:
    """bolt's error handler. An exception raised by a listener (before it handed its work to `ctx.later`) would
    only be logged, and Slack never resends an acknowledged event: behind the HTTP server the event goes back to
    the journal, to be taken on again after a pause (KAM_BOT_RETRIES attempts in all, then the asker is told);
    without a journal (Socket Mode) the asker is told at once."""

    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed: %r", error, exc_info=error)
        if not isinstance(body, dict) or body.get("type") != "event_callback":
            return  # commands and buttons: bolt already answered Slack; the user sees the action did nothing
        key = event_key(body)
        if ctx.journal is None or not key:
            ctx.give_up(body, f"listener failed: {error!r}")
            return
        attempts = ctx.journal.attempts(key)
        if attempts >= ctx.settings.kam_bot_retries:
            ctx.give_up(body, f"listener failed {attempts} times: {error!r}")
        else:
            ctx.journal.retry_later(key, retry_pause(attempts))

    return on_error


def socket_mode_handler(app: App, settings: Settings):  # noqa: ANN201 - slack_bolt's SocketModeHandler
    """Socket Mode (SLACK_APP_TOKEN set): no public URL; Slack pushes over a WebSocket the app opens."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not settings.slack_app_token:
        raise ValueError("SLACK_APP_TOKEN is not set: the app-level token (xapp-...) with connections:write")
    # its own client (the app token, not the bot token) on the same SLACK_API_URL, for apps.connections.open
    return SocketModeHandler(app, settings.slack_app_token, web_client=make_client(settings, settings.slack_app_token),
                             concurrency=max(1, settings.kam_http_threads))
