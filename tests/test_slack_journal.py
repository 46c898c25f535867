"""Acknowledged events survive crashes (bot/inbox.py): journalled before the 200, taken on again after a kill -9
(of `kam run --http` or of `kam front`), retried when their listener fails, given up and reported after
KAM_BOT_RETRIES attempts, never answered twice. Real processes, real HTTP, the mock Slack."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.inbox import DONE, FAILED, PENDING, Inbox, SlackInboxRow
from bot.runtime import ANSWER_EVENT, UNDELIVERED
from knowledge.db import utcnow
from tests.deployed import Proc, free_port, kam_env, replies_per_thread, wait_replies
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import EMAIL_USER, SECRET, Bot, bot_settings, start_bot

QUESTION = "who decides at Acme?"


def inbox_row(engine: Any, event_id: str) -> SlackInboxRow | None:
    with engine.connect() as c:
        return c.execute(select(SlackInboxRow).where(SlackInboxRow.key == f"event:{event_id}")).first()


def mention(ts: str, **kwargs: Any) -> tuple[bytes, str]:
    body = sr.event_body("app_mention", text=QUESTION, user=EMAIL_USER, ts=ts, **kwargs)
    return body, json.loads(body)["event_id"]


class HeldPosts:
    """chat.postMessage held in the mock until released, so a kill lands at a known moment. `accept`: Slack takes
    the message before holding the reply (a crash after Slack accepted), else it is refused once released."""

    def __init__(self, mock: MockSlack, accept: bool):
        self.mock, self.accept = mock, accept
        self.entered, self.release = threading.Event(), threading.Event()
        mock.on("chat.postMessage", self._hold)

    def _hold(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.mock._m_chat_postMessage(params) if self.accept else {"ok": False, "error": "internal_error"}
        self.entered.set()
        self.release.wait(60)
        return stored

    def done(self) -> None:
        self.mock.on("chat.postMessage", None)
        self.release.set()


@pytest.fixture()
def home(sample_kb):  # noqa: ANN001, ANN201
    settings, store, index = sample_kb
    index.close()  # the subprocesses own the data directory
    store.engine.dispose()
    return settings.home, store


def _bot(home_dir: Any, mock: MockSlack, port: int, **extra: str) -> Proc:
    env = kam_env(home_dir, mock, KAM_HTTP_FRONT="false", KAM_SLACK_EVENT_LEASE="2",
                  KAM_SLACK_PLACEHOLDER_AFTER="60", **extra)
    return Proc("bot", ["run", "--http", "--port", str(port)], env, home_dir.parent,
                url=f"http://127.0.0.1:{port}/slack/events")


@pytest.mark.slow
@pytest.mark.parametrize("accepted", [False, True], ids=["before-slack-took-the-answer", "after-slack-took-it"])
def test_kill9_between_ack_and_answer_answers_once_after_restart(home, mock: MockSlack, accepted: bool) -> None:  # noqa: ANN001
    home_dir, store = home
    port = free_port()
    bot = _bot(home_dir, mock, port).start()
    try:
        held = HeldPosts(mock, accept=accepted)
        ts = sr.new_ts()
        body, event_id = mention(ts)
        assert sr.send(bot.url, SECRET, body)[0] == 200  # acknowledged: Slack will never send it again
        assert held.entered.wait(90), bot.log()
        bot.kill9()  # the answer is on its way to Slack (or already there) and not marked done
        held.done()
        assert inbox_row(store.engine, event_id).status == PENDING
        bot.start()
        per = wait_replies(mock, [ts], timeout=90, quiet=3.0)
        assert per[ts] == 1, (per, bot.log())
        assert inbox_row(store.engine, event_id).status == DONE
        answers = [c for c in mock.calls("chat.postMessage") if c.response.get("ok")]
        assert all(c.params["text"] != UNDELIVERED for c in answers)
        assert all(c.params["metadata"]["event_type"] == ANSWER_EVENT for c in answers)
    finally:
        bot.kill9()


@pytest.mark.slow
def test_front_killed_before_forwarding_the_event_is_answered_from_the_journal(home, mock: MockSlack) -> None:  # noqa: ANN001
    home_dir, store = home
    bot_port, front_port = free_port(), free_port()  # nothing listens on bot_port yet: the forward keeps failing
    front = Proc("front", ["front", "--port", str(front_port), "--backend",
                           f"http://127.0.0.1:{bot_port}/slack/events"], kam_env(home_dir, mock), home_dir.parent,
                 url=f"http://127.0.0.1:{front_port}/slack/events").start()
    bot = _bot(home_dir, mock, bot_port)
    try:
        ts = sr.new_ts()
        body, event_id = mention(ts)
        assert sr.send(front.url, SECRET, body)[0] == 200
        front.kill9()  # acknowledged, never forwarded
        assert inbox_row(store.engine, event_id).status == PENDING
        bot.start()  # takes it from the journal once its lease (2 s) says nobody is working on it
        per = wait_replies(mock, [ts], timeout=90, quiet=2.0)
        assert per[ts] == 1, (per, bot.log())
        assert inbox_row(store.engine, event_id).status == DONE
    finally:
        front.kill9()
        bot.kill9()


# ------------------------------------------------------------------ in one process: listener failures, poison
@pytest.fixture()
def quick_bot(sample_kb, mock: MockSlack) -> Iterator[Bot]:  # noqa: ANN001
    settings, store, index = sample_kb
    b = start_bot(bot_settings(settings.kam_home, mock, kam_slack_event_lease=1.0, kam_bot_retries=3), store,
                  index, mock)
    yield b
    b.stop()


def _answered_thread(bot: Bot, mock: MockSlack) -> str:
    ts = sr.new_ts()
    bot.send(mention(ts)[0])
    assert wait_replies(mock, [ts], timeout=60, quiet=0)[ts] == 1
    return ts


def _rename(bot: Bot, old: str, new: str) -> None:
    with bot.kb.store.engine.begin() as c:
        c.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def _wait(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.05)
    assert check()


def test_a_listener_that_fails_is_retried_and_answers_once(quick_bot: Bot, mock: MockSlack) -> None:
    thread = _answered_thread(quick_bot, mock)
    _rename(quick_bot, "slack_threads", "slack_threads_away")  # the follow-up's listener fails reading it
    follow_up = sr.event_body("message_channel", text="and what about their suppliers?", user=EMAIL_USER,
                              thread_ts=thread)
    event_id = json.loads(follow_up)["event_id"]
    try:
        assert quick_bot.send(follow_up)[0] == 200
        engine = quick_bot.kb.store.engine
        _wait(lambda: (r := inbox_row(engine, event_id)) is not None and r.attempts == 1 and r.owner is None, 30)
    finally:
        _rename(quick_bot, "slack_threads_away", "slack_threads")
    per = wait_replies(mock, [thread], timeout=60, quiet=2.0)
    assert per[thread] == 2, per  # the first answer and the follow-up's, once
    assert inbox_row(engine, event_id).status == DONE
    assert inbox_row(engine, event_id).attempts == 2


def test_a_listener_that_keeps_failing_is_reported_to_the_asker_once(quick_bot: Bot, mock: MockSlack) -> None:
    thread = _answered_thread(quick_bot, mock)
    _rename(quick_bot, "slack_threads", "slack_threads_away")
    try:
        follow_up = sr.event_body("message_channel", text="and their suppliers?", user=EMAIL_USER, thread_ts=thread)
        event_id = json.loads(follow_up)["event_id"]
        assert quick_bot.send(follow_up)[0] == 200
        engine = quick_bot.kb.store.engine
        _wait(lambda: inbox_row(engine, event_id).status == FAILED, 60)  # 3 attempts: 0.5 s and 2 s apart
        time.sleep(2.0)  # nothing more comes
        quick_bot.settle()
    finally:
        _rename(quick_bot, "slack_threads_away", "slack_threads")
    row = inbox_row(engine, event_id)
    assert row.attempts == 3 and "listener failed" in row.error
    sorry = [c for c in mock.calls("chat.postMessage") if c.params["text"] == UNDELIVERED]
    assert len(sorry) == 1 and sorry[0].params["thread_ts"] == thread


def test_chatter_in_other_threads_gets_no_apology_when_the_listener_keeps_failing(quick_bot: Bot,
                                                                                  mock: MockSlack) -> None:
    _rename(quick_bot, "slack_threads", "slack_threads_away")
    try:
        chatter = sr.event_body("message_channel", text="lunch?", user=EMAIL_USER, thread_ts=sr.new_ts())
        event_id = json.loads(chatter)["event_id"]
        assert quick_bot.send(chatter)[0] == 200
        engine = quick_bot.kb.store.engine
        _wait(lambda: inbox_row(engine, event_id).status == FAILED, 60)
        quick_bot.settle()
    finally:
        _rename(quick_bot, "slack_threads_away", "slack_threads")
    assert mock.calls("chat.postMessage") == []


def test_a_poison_event_is_given_up_after_its_attempts_and_reported(sample_kb, mock: MockSlack) -> None:  # noqa: ANN001
    settings, store, index = sample_kb
    ts = sr.new_ts()
    body, event_id = mention(ts)
    # as processes that died on it three times left it: taken on 3 times, the last lease run out
    with store.engine.begin() as c:
        c.execute(SlackInboxRow.__table__.insert().values(
            key=f"event:{event_id}", body=body.decode(), received_at=utcnow(), status=PENDING, attempts=3,
            owner="dead", claimed_at=utcnow(), lease_until=utcnow() - dt.timedelta(seconds=1)))
    b = start_bot(bot_settings(settings.kam_home, mock, kam_bot_retries=3), store, index, mock)
    try:
        _wait(lambda: inbox_row(store.engine, event_id).status == FAILED, 30)
        b.settle()
        assert sr.send(b.url, SECRET, body, retry_num=1)[0] == 200  # a late resend changes nothing
        b.settle()
        time.sleep(0.5)
    finally:
        b.stop()
    assert [c.params["text"] for c in mock.calls("chat.postMessage")] == [UNDELIVERED]
    assert replies_per_thread(mock)[ts] == 1


def test_finished_events_are_pruned_and_pending_ones_kept(store) -> None:  # noqa: ANN001
    inbox = Inbox(store.engine, lease_seconds=5)
    for key in ("event:done", "event:failed", "event:pending"):
        assert inbox.add(key, "{}") and not inbox.add(key, "{}")
    assert inbox.claim("event:done") == 1 and inbox.claim("event:done") is None  # leased: nobody else
    inbox.finish("event:done")
    inbox.fail("event:failed", "no")
    assert inbox.claim("event:done") is None and inbox.claim("event:failed") is None
    assert inbox.prune(dt.timedelta(hours=1)) == 0
    assert inbox.prune(dt.timedelta(seconds=-1)) == 2
    assert inbox.status("event:pending") == PENDING and inbox.status("event:done") is None


def test_a_message_claimed_by_a_process_that_died_is_answered_once_its_claim_runs_out(sample_kb,  # noqa: ANN001
                                                                                      mock: MockSlack) -> None:
    """The message's claim (shared by its app_mention and message events) was taken by another process that died
    before answering: the event is not dropped as "answered elsewhere", it is looked at again after the lease."""
    from bot.state import SeenEventRow

    settings, store, index = sample_kb
    ts = sr.new_ts()
    body, event_id = mention(ts)
    with store.engine.begin() as c:  # what the other process left: claimed just now, never finished
        c.execute(SeenEventRow.__table__.insert().values(key=f"msg:{sr.CHANNEL_ID}:{ts}", at=utcnow(), boot="dead",
                                                          done=False))
    b = start_bot(bot_settings(settings.kam_home, mock, kam_slack_event_lease=2.0), store, index, mock)
    try:
        assert b.send(body)[0] == 200
        time.sleep(1.0)
        assert replies_per_thread(mock)[ts] == 0  # within the claim's lease: perhaps being answered
        assert inbox_row(store.engine, event_id).status == PENDING
        per = wait_replies(mock, [ts], timeout=60, quiet=2.0)
        b.settle()
    finally:
        b.stop()
    assert per[ts] == 1
    assert inbox_row(store.engine, event_id).status == DONE
