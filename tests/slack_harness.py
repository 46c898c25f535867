"""The real bolt App behind its real HTTP server on 127.0.0.1, talking to MockSlack: shared by the Slack tests
and bench/slack_http.py."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from bot.app import create_app
from bot.http import BotServer
from knowledge.index import Index
from knowledge.kb import KnowledgeBase
from knowledge.settings import Settings
from knowledge.store import Store
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TODAY = dt.date(2026, 11, 23)
ALICE = "U0ALICE001"  # in people.yaml by slack_id
EMAIL_USER = "U111"  # not in people.yaml by id; users.info gives bob's email
STRANGER = "U0STRANGER"  # unknown to Slack's users.info and to people.yaml


def mock_users() -> dict[str, dict[str, Any]]:
    return {
        EMAIL_USER: {"email": "bob@example.com", "tz": "America/Los_Angeles"},
        ALICE: {"email": "alice@example.com", "tz": "Asia/Shanghai"},
        "U0CAROL001": {"email": "carol@example.com"},
        "U0ADA00001": {"email": "ada@example.com"},
        STRANGER: {"email": "stranger@elsewhere.example"},
    }


def bot_settings(home: Any, mock: MockSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=mock.base_url,
        kam_slack_channel_interval=0.0, kam_slack_placeholder_after=5.0, kam_bot_workers=8, kam_http_threads=8,
        kam_slack_retries=3,
    )
    values.update(overrides)
    from tests.conftest import make_settings

    return make_settings(home, **values)


@dataclass
class Bot:
    """One running bot: `send()` signs and posts like Slack; `settle()` waits until every answer is out."""

    mock: MockSlack
    kb: KnowledgeBase
    app: Any
    server: BotServer

    @property
    def url(self) -> str:
        return self.server.url

    def send(self, body: bytes, **kwargs: Any) -> tuple[int, str]:
        return sr.send(self.url, SECRET, body, **kwargs)

    def settle(self, timeout: float = 60.0) -> None:
        assert self.app.kam_executor.wait_idle(timeout), "answers still running"

    def stop(self) -> None:
        self.server.stop()
        self.settle()
        self.app.kam_executor.shutdown(wait=True)


def start_bot(settings: Settings, store: Store, index: Index, mock: MockSlack, **app_kwargs: Any) -> Bot:
    kb = KnowledgeBase(settings, store, index)
    app = create_app(kb, settings, token_verification_enabled=app_kwargs.pop("token_verification_enabled", True),
                     today=app_kwargs.pop("today", lambda: TODAY), **app_kwargs)
    server = BotServer(app, SECRET, "127.0.0.1", 0, threads=settings.kam_http_threads).start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the listener is up once /healthz answers
        status, _ = sr.post(server.url.replace("/slack/events", "/healthz"), b"")
        if status in (200, 405):
            break
        time.sleep(0.02)
    return Bot(mock, kb, app, server)
