"""SlackNotifier through the real WebClient against MockSlack: DMs by email or Slack id, channel posts, pacing,
rate-limit retries, long block lists."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.slack_client import ChannelPacer, make_client
from bot.slack_notifier import NotDeliverable, SlackNotifier
from knowledge.profile import Person
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import bot_settings


@pytest.fixture()
def mock() -> Iterator[MockSlack]:
    with MockSlack(users={"U0LOOKUP01": {"email": "lookup@example.com"}}) as m:
        yield m


@pytest.fixture()
def notifier(store, mock: MockSlack) -> SlackNotifier:  # noqa: ANN001
    store.save_people([Person(email="alice@example.com", slack_id="U0ALICE001"),
                       Person(email="nobody@example.com")], source="test")
    settings = bot_settings(store.settings.kam_home, mock, kam_slack_channel_interval=0.0)
    return SlackNotifier(settings, store, client=make_client(settings), pacer=ChannelPacer(0.0))


def test_dm_by_email_opens_the_conversation_once(notifier: SlackNotifier, mock: MockSlack) -> None:
    sent = notifier.send_dm("alice@example.com", "Renewal in 7 days", [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Hanshan*: renewal in 7 days"}}])
    notifier.send_dm("alice@example.com", "again")
    [opened] = mock.calls("conversations.open")
    assert opened.params["users"] == "U0ALICE001"
    posts = mock.calls("chat.postMessage")
    assert [p.params["channel"] for p in posts] == ["DU0ALICE001", "DU0ALICE001"]
    assert sent.channel == "DU0ALICE001" and sent.ts == posts[0].response["ts"]
    assert posts[0].params["blocks"][0]["text"]["text"] == "*Hanshan*: renewal in 7 days"


def test_dm_falls_back_to_lookup_by_email_and_by_slack_id(notifier: SlackNotifier, mock: MockSlack) -> None:
    notifier.send_dm("lookup@example.com", "hi")
    notifier.send_dm("U0BOB00001", "hi")
    assert [c.params["users"] for c in mock.calls("conversations.open")] == ["U0LOOKUP01", "U0BOB00001"]
    assert len(mock.calls("users.lookupByEmail")) == 1
    with pytest.raises(NotDeliverable):
        notifier.send_dm("nobody@example.com", "hi")


def test_channel_post_is_retried_after_rate_limit(notifier: SlackNotifier, mock: MockSlack) -> None:
    mock.rate_limit("chat.postMessage", times=2, retry_after=1)
    started = time.monotonic()
    sent = notifier.post_channel("C0MANAGERS", "Tier changes")
    assert time.monotonic() - started >= 1.9
    calls = mock.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 429, 200] and sent.ts == calls[-1].response["ts"]


def test_more_than_50_blocks_go_out_as_several_messages(notifier: SlackNotifier, mock: MockSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(120)]
    notifier.post_channel("C1", "digest", blocks)
    calls = mock.calls("chat.postMessage")
    assert [len(c.params["blocks"]) for c in calls] == [50, 50, 20]
    assert all(c.response["ok"] for c in calls)


def test_posts_to_one_channel_are_paced(store, mock: MockSlack) -> None:  # noqa: ANN001
    settings = bot_settings(store.settings.kam_home, mock)
    notifier = SlackNotifier(settings, store, client=make_client(settings), pacer=ChannelPacer(0.3))
    for i in range(3):
        notifier.post_channel("C1", f"post {i}")
    notifier.post_channel("C2", "elsewhere")
    calls = mock.calls("chat.postMessage")
    c1 = [c.time for c in calls if c.params["channel"] == "C1"]
    assert all(b - a >= 0.27 for a, b in zip(c1, c1[1:], strict=False))
    c2 = next(c.time for c in calls if c.params["channel"] == "C2")
    assert c2 - c1[-1] < 0.25  # another channel is not held back
