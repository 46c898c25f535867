"""The HTTP front (bot/front.py) in front of the real bot, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from bot.front import Front, serve
from bot.http import stop_waitress
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import ALICE, EMAIL_USER, SECRET, Bot, bot_settings, start_bot


class RunningFront:
    def __init__(self, backend_url: str):
        self.app = Front(backend_url, SECRET)
        self.server = serve(self.app, "127.0.0.1", 0, threads=4)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.effective_port}/slack/events"  # type: ignore[union-attr]

    def send(self, body: bytes, **kwargs: object) -> tuple[int, str]:
        return sr.send(self.url, SECRET, body, **kwargs)  # type: ignore[arg-type]

    def settle(self, bot: Bot) -> None:
        assert self.app.wait_forwarded(10)
        bot.settle()

    def stop(self) -> None:
        self.app.close()
        stop_waitress(self.server, self.thread)


@pytest.fixture()
def front(bot: Bot) -> Iterator[RunningFront]:
    f = RunningFront(bot.url)
    yield f
    f.stop()


def answers(mock: MockSlack, thread_ts: str) -> list[object]:
    return [c for c in mock.calls("chat.postMessage") if c.params.get("thread_ts") == thread_ts]


def test_mention_through_the_front_is_acked_at_once_and_answered_once(front: RunningFront, bot: Bot,
                                                                      mock: MockSlack) -> None:
    ts = sr.new_ts()
    body = sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER, ts=ts)
    status, text = front.send(body)
    assert (status, text) == (200, "")
    assert front.send(body, retry_num=1)[0] == 200  # Slack's retry: acked, not forwarded again
    front.settle(bot)
    posted = answers(mock, ts)
    assert len(posted) == 1
    assert "Acme" in json.dumps(posted[0].params)


def test_bad_requests_are_refused_by_the_front_and_never_forwarded(front: RunningFront, bot: Bot,
                                                                   mock: MockSlack) -> None:
    body = sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER)
    assert sr.post(front.url, body, sr.signed_headers("wrong-secret", body))[0] == 401
    assert front.send(body, timestamp=int(time.time()) - 600)[0] == 401  # stale
    assert front.send(b'{"type": "event_callback", "event": ')[0] == 400
    assert sr.post(front.url.replace("/slack/events", "/other"), body, sr.signed_headers(SECRET, body))[0] == 404
    front.settle(bot)
    assert front.app.forwarded == 0
    assert mock.calls("chat.postMessage") == []


def test_commands_and_unknown_events_get_the_bots_own_reply(front: RunningFront, bot: Bot) -> None:
    status, text = front.send(sr.slash_command_body(text="help", user_id=ALICE))
    assert status == 200
    assert "kam-bot help" in text  # bolt's ack body, relayed
    unknown = sr.event_body("reaction_added")
    assert front.send(unknown)[0] == 404  # bolt's verdict for an event nobody handles
    challenge = json.loads(sr.url_verification_body())["challenge"]
    status, text = front.send(sr.url_verification_body())
    assert status == 200 and challenge in text


def test_events_wait_for_a_restarting_bot_and_commands_say_it_is_down(sample_kb, mock: MockSlack) -> None:  # noqa: ANN001
    settings, store, index = sample_kb
    first = start_bot(bot_settings(settings.kam_home, mock), store, index, mock)
    port = first.server.port
    first.stop()  # the bot is down; the front keeps acking
    front = RunningFront(f"http://127.0.0.1:{port}/slack/events")
    try:
        assert front.send(sr.slash_command_body(text="dates", user_id=ALICE))[0] == 502
        ts = sr.new_ts()
        assert front.send(sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER, ts=ts))[0] == 200
        time.sleep(0.5)  # a few failed forwards
        from bot.app import create_app
        from bot.http import BotServer
        from knowledge.kb import KnowledgeBase
        from tests.slack_harness import TODAY

        app = create_app(KnowledgeBase(first.kb.settings, store, index), first.kb.settings,
                         token_verification_enabled=True, today=lambda: TODAY)
        server = BotServer(app, SECRET, "127.0.0.1", port, threads=4).start()  # back on the same port
        try:
            deadline = time.monotonic() + 15
            while not answers(mock, ts) and time.monotonic() < deadline:
                time.sleep(0.05)
            app.kam_executor.wait_idle(30)
            assert len(answers(mock, ts)) == 1
        finally:
            server.stop()
            app.kam_executor.shutdown(wait=True)
    finally:
        front.stop()
