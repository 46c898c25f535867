"""The real bolt App through its real HTTP server on 127.0.0.1, driven by requests signed exactly as Slack signs
them (bodies from Slack's real payloads), answering through the real Web API client into MockSlack."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from sqlalchemy import select

from bot.app import socket_mode_handler
from bot.render_answer import FEEDBACK_BLOCK, FEEDBACK_DOWN, FEEDBACK_UP
from bot.render_views import NOTE_BLOCK, NOTE_DIMENSION, NOTE_SAVE
from bot.state import BotAnswerRow, BotState
from knowledge.db import NoteRow
from knowledge.history import changes_of
from knowledge.retrieval import hybrid_search
from tests.conftest import backend_env
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack, assert_valid_blocks, assert_valid_view
from tests.slack_harness import ALICE, EMAIL_USER, SECRET, STRANGER, Bot, bot_settings, start_bot

try:
    import skills.ask.engine  # noqa: F401
    HAS_ASK = True
except ModuleNotFoundError:
    HAS_ASK = False
needs_ask = pytest.mark.skipif(not HAS_ASK, reason="the Ask engine (issue 3) is not installed yet")


def posts(mock: MockSlack, channel: str | None = None) -> list[Any]:
    return [c for c in mock.calls("chat.postMessage")
            if c.response.get("ok") and (channel is None or c.params["channel"] == channel)]


def all_text(call: Any) -> str:
    """Everything a user would read in a posted message: text plus every block's text."""
    return call.params.get("text", "") + "\n" + json.dumps(call.params.get("blocks", []), ensure_ascii=False)


def with_payload(body: bytes, **changes: Any) -> bytes:
    """Edit the JSON `payload` of a form-encoded interactivity body."""
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    for key, value in changes.items():
        if key == "action":
            payload["actions"][0].update(value)
        else:
            payload[key] = value
    return urlencode({"payload": json.dumps(payload)}).encode()


# ------------------------------------------------------------------ surfaces


@needs_ask
def test_mention_gets_threaded_answer_with_sources(bot: Bot, mock: MockSlack) -> None:
    ts = sr.new_ts()
    status, _ = bot.send(sr.event_body("app_mention", text="who is the economic buyer at Acme?", user=EMAIL_USER,
                                       ts=ts))
    assert status == 200
    [call] = mock.wait_for("chat.postMessage", timeout=30)
    bot.settle()
    assert call.params["channel"] == sr.CHANNEL_ID and call.params["thread_ts"] == ts
    assert_valid_blocks(call.params["blocks"])
    text = all_text(call)
    assert "Mark Ellis" in text  # bob owns Acme; identity came from users.info -> bob@example.com
    assert "Acme Industrial" in text and "as of" in text  # the sources context block
    assert any(b.get("block_id") == FEEDBACK_BLOCK for b in call.params["blocks"])
    [row] = bot.app.kam_context.state.answers()
    assert row.email == "bob@example.com" and row.surface == "mention" and row.thread_ts == ts


@needs_ask
def test_direct_message_is_answered_in_the_dm(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("message_im", text="who decides at Hanshan?", user=ALICE))
    [call] = mock.wait_for("chat.postMessage", timeout=30)
    assert call.params["channel"] == sr.DM_CHANNEL_ID and "thread_ts" not in call.params
    assert "Hanshan" in all_text(call)


@needs_ask
def test_thread_follow_up_without_mention_and_never_twice(bot: Bot, mock: MockSlack) -> None:
    root = sr.new_ts()
    bot.send(sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER, ts=root))
    mock.wait_for("chat.postMessage", 1, timeout=30)
    bot.settle()
    # a follow-up in the thread, no mention: answered in the thread
    bot.send(sr.event_body("message_channel", text="and their suppliers?", user=EMAIL_USER, thread_ts=root))
    calls = mock.wait_for("chat.postMessage", 2, timeout=30)
    assert calls[1].params["thread_ts"] == root
    # a mention inside the thread arrives twice (app_mention + message, different event ids): one answer
    ts = sr.new_ts()
    text = f"<@{mock.bot_user_id}> who is their champion?"
    bot.send(sr.event_body("message_channel", text=text, user=EMAIL_USER, ts=ts, thread_ts=root))
    bot.send(sr.event_body("app_mention", text=text, user=EMAIL_USER, ts=ts, thread_ts=root))
    mock.wait_for("chat.postMessage", 3, timeout=30)
    # noise: a thread the bot never answered, a bot's message, an edit, a join
    bot.send(sr.event_body("message_channel", text="unrelated chatter", user=EMAIL_USER, thread_ts=sr.new_ts()))
    bot.send(sr.event_body("message_bot", text="beep"))
    bot.send(sr.event_body("message_channel", text="edited", user=EMAIL_USER, thread_ts=root,
                           extra={"subtype": "message_changed"}))
    bot.send(sr.event_body("message_channel", text="joined", user=EMAIL_USER, extra={"subtype": "channel_join"}))
    bot.settle()
    time.sleep(0.2)
    assert len(posts(mock)) == 3
    assert [r.surface for r in bot.app.kam_context.state.answers()] == ["mention", "thread", "mention"]


def test_unknown_user_gets_a_polite_refusal(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("app_mention", text="who decides at Acme?", user=STRANGER))
    [call] = mock.wait_for("chat.postMessage", timeout=30)
    assert "don't know who you are" in call.params["text"]
    assert "Karen" not in all_text(call) and "Acme" not in all_text(call)


@needs_ask
def test_out_of_scope_question_is_refused_with_no_data(bot: Bot, mock: MockSlack) -> None:
    # alice does not own Acme (bob does): the answer must not leak its people or numbers
    bot.send(sr.event_body("app_mention", text="who is the economic buyer at Acme Industrial?", user=ALICE))
    [call] = mock.wait_for("chat.postMessage", timeout=30)
    text = all_text(call)
    for secret in ("Mark Ellis", "Karen Doyle", "Siemens", "35M"):
        assert secret not in text
    assert "as of" not in text  # no sources
    [row] = bot.app.kam_context.state.answers()
    assert row.status in ("denied", "unknown") and row.sources == []


@needs_ask
def test_feedback_click_is_stored_with_the_question(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER))
    [call] = mock.wait_for("chat.postMessage", timeout=30)
    bot.settle()
    [row] = bot.app.kam_context.state.answers()
    message = mock.messages[sr.CHANNEL_ID][call.response["ts"]]
    body = sr.block_actions_body(FEEDBACK_DOWN, str(row.id), EMAIL_USER, block_id=FEEDBACK_BLOCK, message=message)
    assert bot.send(body)[0] == 200
    [update] = mock.wait_for("chat.update", timeout=10)
    assert "Marked not helpful" in json.dumps(update.params["blocks"])
    assert not any(b.get("block_id") == FEEDBACK_BLOCK for b in update.params["blocks"])
    stored = bot.app.kam_context.state.answer(row.id)
    assert stored.helpful is False and stored.feedback_by == EMAIL_USER and stored.question == "who decides at Acme?"
    bot.send(sr.block_actions_body(FEEDBACK_UP, str(row.id), EMAIL_USER, block_id=FEEDBACK_BLOCK, message=message))
    bot.settle()
    assert bot.app.kam_context.state.answer(row.id).helpful is True


@needs_ask
def test_slow_answer_shows_looking_it_up_then_replaces_it(sample_kb, mock: MockSlack) -> None:  # noqa: ANN001
    settings, store, index = sample_kb
    b = start_bot(bot_settings(settings.kam_home, mock, kam_slack_placeholder_after=0.0), store, index, mock)
    try:
        ts = sr.new_ts()
        b.send(sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER, ts=ts))
        [placeholder] = mock.wait_for("chat.postMessage", timeout=30)
        [update] = mock.wait_for("chat.update", timeout=30)
        assert "Looking it up" in placeholder.params["text"] and placeholder.params["thread_ts"] == ts
        assert update.params["ts"] == placeholder.response["ts"] and "Karen Doyle" in all_text(update)
        b.settle()
        assert len(posts(mock)) == 1
    finally:
        b.stop()


# ------------------------------------------------------------------ delivery model


@needs_ask
def test_retried_event_is_answered_once(bot: Bot, mock: MockSlack) -> None:
    body = sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER)
    statuses = [bot.send(body, retry_num=n, retry_reason="http_timeout" if n else None)[0] for n in (None, 1, 2, 3)]
    assert statuses == [200, 200, 200, 200]
    mock.wait_for("chat.postMessage", timeout=30)
    bot.settle()
    time.sleep(0.2)
    assert len(posts(mock)) == 1


@needs_ask
def test_restart_between_delivery_and_retry_answers_once(sample_kb, mock: MockSlack) -> None:  # noqa: ANN001
    settings, store, index = sample_kb
    s = bot_settings(settings.kam_home, mock)
    body = sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER)
    first = start_bot(s, store, index, mock)
    first.send(body)
    mock.wait_for("chat.postMessage", timeout=30)
    first.stop()
    second = start_bot(s, store, index, mock)  # a new process: its own boot id, same database
    try:
        assert second.send(body, retry_num=1, retry_reason="http_timeout")[0] == 200
        second.settle()
        time.sleep(0.2)
        assert len(posts(mock)) == 1
    finally:
        second.stop()


def test_claim_left_unfinished_by_a_dead_process_is_taken_over(store) -> None:  # noqa: ANN001
    before_crash = BotState(store)
    assert before_crash.claim("event:Ev1") and not before_crash.claim("event:Ev1")
    assert not BotState(store).claim("event:Ev1")  # within its lease the first process may still be working
    after_restart = BotState(store, lease_seconds=0)  # its lease has run out: the first process is dead
    assert after_restart.claim("event:Ev1")  # never finished: the retry is answered
    after_restart.finish("event:Ev1")
    assert not BotState(store).claim("event:Ev1")  # finished: never again within the TTL
    expired = BotState(store, dedup_hours=0)
    assert expired.claim("event:Ev1")


@needs_ask
def test_rate_limited_post_is_delivered_after_retry_after(bot: Bot, mock: MockSlack) -> None:
    mock.rate_limit("chat.postMessage", times=1, retry_after=1)
    bot.send(sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER))
    calls = mock.wait_for("chat.postMessage", 2, timeout=30)
    assert calls[0].status == 429 and calls[1].status == 200 and calls[1].response["ok"]
    assert calls[1].time - calls[0].time >= 0.95


@needs_ask
def test_posts_to_one_channel_are_paced(sample_kb, mock: MockSlack) -> None:  # noqa: ANN001
    settings, store, index = sample_kb
    b = start_bot(bot_settings(settings.kam_home, mock, kam_slack_channel_interval=0.5), store, index, mock)
    try:
        for q in ("who decides at Acme?", "who decides at Lakeside?", "who decides at Bayview?"):
            b.send(sr.event_body("app_mention", text=q, user=EMAIL_USER))
        calls = mock.wait_for("chat.postMessage", 3, timeout=30)
        gaps = [b2.time - a.time for a, b2 in zip(calls, calls[1:], strict=False)]
        # the pacer spaces the sends 0.5 s apart; arrival at the mock jitters by tens of ms on a loaded machine
        assert all(g >= 0.4 for g in gaps), gaps
    finally:
        b.stop()


def test_bad_requests_get_4xx_and_the_server_keeps_serving(bot: Bot, mock: MockSlack) -> None:
    body = sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER)
    bad_sig = sr.signed_headers("wrong-secret", body)
    assert sr.post(bot.url, body, bad_sig)[0] == 401
    assert sr.send(bot.url, SECRET, body, timestamp=int(time.time()) - 600)[0] == 401  # stale
    assert sr.post(bot.url, body, {"Content-Type": "application/json"})[0] == 401  # unsigned
    tampered = sr.signed_headers(SECRET, body)
    assert sr.post(bot.url, body.replace(b"Acme", b"Acmf"), tampered)[0] == 401
    assert bot.send(b'{"type": "event_callback", "event": ')[0] == 400  # malformed JSON
    assert bot.send(b"[1, 2]")[0] == 400  # JSON, but not an object
    assert bot.send(b"payload=%7Bnot-json")[0] == 400  # malformed interactivity form
    assert bot.send(b"%%%=&&")[0] == 400  # malformed form
    assert sr.post(bot.url, b"\xff\xfe", sr.signed_headers(SECRET, b"\xff\xfe", content_type="text/plain"))[0] == 400
    unknown = json.loads(sr.event_body("reaction_added"))  # a type nobody listens to
    assert bot.send(json.dumps(unknown).encode())[0] == 404
    assert sr.post(bot.url.replace("/slack/events", "/other"), body, sr.signed_headers(SECRET, body))[0] == 404
    assert bot.send(sr.url_verification_body("abc"))[0] == 200
    assert posts(mock) == []
    assert bot.send(sr.slash_command_body(text="help"))[0] == 200  # still up


# ------------------------------------------------------------------ /kam


def _respond_calls(mock: MockSlack, n: int) -> list[Any]:
    return mock.wait_for("response_url", n, timeout=30)


def test_kam_help_account_dates_tiers(bot: Bot, mock: MockSlack) -> None:
    status, text = bot.send(sr.slash_command_body(text="help", user_id=ALICE))
    assert status == 200 and "/kam note" in text and json.loads(text)["response_type"] == "ephemeral"

    bot.send(sr.slash_command_body(text="account acme suppliers", user_id=EMAIL_USER,
                                   response_url=mock.response_url()))
    [acct] = _respond_calls(mock, 1)
    assert acct.params["response_type"] == "ephemeral"
    assert_valid_blocks(acct.params["blocks"])
    assert "Siemens" in all_text(acct) and "Karen Doyle" not in all_text(acct)  # one dimension only

    bot.send(sr.slash_command_body(text="account acme", user_id=ALICE, response_url=mock.response_url()))
    denied = _respond_calls(mock, 2)[1]
    assert "couldn't find" in denied.params["text"] and "Siemens" not in all_text(denied)

    bot.send(sr.slash_command_body(text="dates 60", user_id=ALICE, response_url=mock.response_url()))
    dates = _respond_calls(mock, 3)[2]
    assert "next 60 days" in all_text(dates) and "2026-12-02" in all_text(dates)
    assert "Acme" not in all_text(dates)

    bot.send(sr.slash_command_body(text="share tiers", user_id=ALICE, response_url=mock.response_url()))
    tiers = _respond_calls(mock, 4)[3]
    assert tiers.params["response_type"] == "in_channel" and "Hanshan Packaging Co." in all_text(tiers)


@needs_ask
def test_kam_ask_is_ephemeral_unless_shared(bot: Bot, mock: MockSlack) -> None:
    status, ack = bot.send(sr.slash_command_body(text="ask who decides at Acme?", user_id=EMAIL_USER,
                                                 response_url=mock.response_url()))
    assert status == 200 and "Looking it up" in ack
    [answer] = _respond_calls(mock, 1)
    assert answer.params["response_type"] == "ephemeral" and answer.params["replace_original"] is True
    assert "Karen Doyle" in all_text(answer)
    bot.send(sr.slash_command_body(text="share who decides at Acme?", user_id=EMAIL_USER,
                                   response_url=mock.response_url()))
    shared = _respond_calls(mock, 2)[1]
    assert shared.params["response_type"] == "in_channel"


def test_kam_from_unknown_user_is_refused(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.slash_command_body(text="account acme", user_id=STRANGER, response_url=mock.response_url()))
    [call] = _respond_calls(mock, 1)
    assert "don't know who you are" in call.params["text"] and "blocks" not in call.params


def test_note_capture_with_confirm_and_change_of_dimension(bot: Bot, mock: MockSlack) -> None:
    text = "Siemens offered them an 8% discount on drives"
    bot.send(sr.slash_command_body(text=f"note Acme: {text}", user_id=EMAIL_USER, response_url=mock.response_url()))
    [confirm] = _respond_calls(mock, 1)
    blocks = confirm.params["blocks"]
    assert_valid_blocks(blocks)
    select_block = next(b for b in blocks if str(b.get("block_id", "")).startswith(NOTE_BLOCK))
    assert select_block["accessory"]["initial_option"]["value"] == "suppliers"
    note_id = select_block["block_id"].split(":", 1)[1]
    with bot.kb.store.session() as s:
        assert s.scalars(select(NoteRow).where(NoteRow.text == text)).first() is None  # nothing saved yet

    # the rep changes the dimension, then saves (Slack sends the select's state with the click)
    option = {"text": {"type": "plain_text", "text": "Competitors"}, "value": "competitors"}
    change = with_payload(sr.block_actions_body(NOTE_DIMENSION, "", EMAIL_USER, block_id=select_block["block_id"],
                                                response_url=mock.response_url("actions"),
                                                action_type="static_select"),
                          action={"selected_option": option})
    assert bot.send(change)[0] == 200
    state = {"values": {select_block["block_id"]: {NOTE_DIMENSION: {"type": "static_select",
                                                                    "selected_option": option}}}}
    actions_url = mock.response_url("actions")
    save = with_payload(sr.block_actions_body(NOTE_SAVE, note_id, EMAIL_USER, response_url=actions_url), state=state)
    other = with_payload(sr.block_actions_body(NOTE_SAVE, note_id, ALICE, response_url=actions_url), state=state)
    assert bot.send(other)[0] == 200  # not the author: refused
    assert bot.send(save)[0] == 200
    # a double click saves once (Slack sends each click with its own trigger_id and action_ts; the very same signed
    # bytes again would be a replay, refused with 401)
    again = with_payload(sr.block_actions_body(NOTE_SAVE, note_id, EMAIL_USER, response_url=actions_url), state=state)
    assert bot.send(again)[0] == 200
    bot.settle()
    with bot.kb.store.session() as s:
        notes = list(s.scalars(select(NoteRow).where(NoteRow.text == text)))
    assert len(notes) == 1
    assert (notes[0].dimension, notes[0].by, notes[0].source, notes[0].date.isoformat()) == (
        "competitors", "bob@example.com", "slack", "2026-11-23")
    with bot.kb.store.session() as s:  # and it is in the account's history: who, from Slack, the note
        history = [c for c in changes_of(s, notes[0].account_id) if c.source == "slack"]
    assert [(c.path, c.old, c.new["text"], c.actor) for c in history] == [
        ("notes[2026-11-23 competitors by bob@example.com]", None, text, "bob@example.com")]
    replies = [c for c in mock.calls("response_url") if c.params.get("replace_original")]
    assert any("Saved to *Acme Industrial*" in all_text(c) for c in replies)
    assert any("Only the person" in c.params.get("text", "") for c in mock.calls("response_url"))
    hits = hybrid_search(bot.kb.index, "8% discount on drives", {notes[0].account_id}, k=5)
    assert any(":note:" in h.chunk_id and "discount" in h.text for h in hits)  # indexed right away


# ------------------------------------------------------------------ App Home


def test_app_home_publish_paginate_and_open_account(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("app_home_opened", user=ALICE))
    [pub] = mock.wait_for("views.publish", timeout=30)
    view = pub.params["view"]
    assert_valid_view(view)
    assert pub.response["ok"] and pub.params["user_id"] == ALICE
    text = json.dumps(view, ensure_ascii=False)
    assert "My portfolio" in text and "Hanshan Packaging Co." in text and "Acme Industrial" not in text
    assert "Next key dates" in text and "Profile gaps" in text
    open_buttons = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("type") == "button"]
    hanshan = next(a for a in open_buttons if a["value"] == "hanshan-packaging-co")

    home = mock.views[pub.response["view"]["id"]]
    click = sr.block_actions_body(hanshan["action_id"], hanshan["value"], ALICE, view=home)
    assert bot.send(click)[0] == 200
    [modal] = mock.wait_for("views.open", timeout=30)
    assert modal.response["ok"] and "Hanshan Packaging Co." in json.dumps(modal.params["view"], ensure_ascii=False)

    forged = sr.block_actions_body(hanshan["action_id"], "acme-industrial", ALICE, view=pub.response["view"])
    bot.send(forged)
    page = sr.block_actions_body("kam_home_page_next", "0", ALICE, view=pub.response["view"])
    bot.send(page)
    mock.wait_for("views.publish", 2, timeout=30)
    bot.settle()
    assert len(mock.calls("views.open")) == 1  # nothing for an account alice may not see

    bot.send(sr.event_body("app_home_opened", user=STRANGER))
    pubs = mock.wait_for("views.publish", 3, timeout=30)
    assert "don't know you" in json.dumps(pubs[2].params["view"])


def test_app_home_manager_sees_reports_accounts(bot: Bot, mock: MockSlack) -> None:
    mock.add_user("U0MIA00001", email="mia@example.com")
    bot.send(sr.event_body("app_home_opened", user="U0MIA00001"))
    [pub] = mock.wait_for("views.publish", timeout=30)
    text = json.dumps(pub.params["view"], ensure_ascii=False)
    assert "Acme Industrial" in text and "Hanshan Packaging Co." in text
    assert_valid_view(pub.params["view"])


# ------------------------------------------------------------------ modes


def test_socket_mode_handler_is_built_but_not_connected(bot: Bot) -> None:
    # construction only; the Socket Mode round trips are in tests/test_socket_mode.py (the mock speaks it)
    settings = bot.kb.settings.model_copy(update={"slack_app_token": "xapp-1-test"})
    handler = socket_mode_handler(bot.app, settings)
    assert handler.app is bot.app and handler.client.app_token == "xapp-1-test"
    assert handler.client.web_client.base_url == settings.slack_api_url


@needs_ask
def test_answers_table_keeps_question_answer_and_sources(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("message_im", text="what does Hanshan's budget look like?", user=ALICE))
    mock.wait_for("chat.postMessage", timeout=30)
    bot.settle()
    with bot.kb.store.session() as s:
        [row] = list(s.scalars(select(BotAnswerRow)))
    assert row.question == "what does Hanshan's budget look like?" and row.answer and row.seconds is not None
    assert row.sources and all("account" in src for src in row.sources)


def test_kam_run_refuses_to_start_without_tokens(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from cli.context import reset_context
    from cli.main import app as cli_app
    from tests.conftest import make_settings

    reset_context(make_settings(tmp_path / "kam"))
    result = CliRunner().invoke(cli_app, ["run", "--http"])
    assert result.exit_code == 1 and "SLACK_BOT_TOKEN" in result.output
    reset_context(make_settings(tmp_path / "kam", slack_bot_token="xoxb-test"))
    result = CliRunner().invoke(cli_app, ["run", "--http"])
    assert result.exit_code == 1 and "SLACK_SIGNING_SECRET" in result.output
    reset_context(None)


@needs_ask
@pytest.mark.slow
def test_kam_run_http_subprocess_answers_a_mention(sample_kb, mock: MockSlack) -> None:  # noqa: ANN001
    import os
    import signal
    import socket
    import subprocess
    import sys

    settings, store, index = sample_kb
    index.close()  # the subprocess owns the embedded index now
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_"))}
    env.update(KAM_HOME=str(settings.kam_home), SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=mock.base_url, KAM_SLACK_CHANNEL_INTERVAL="0", KAM_SLACK_PLACEHOLDER_AFTER="0",
               KAM_RUN_SCHEDULER="false", **backend_env(settings.kam_home))  # no nudge DMs in this test's mock
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--http", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if sr.post(url.replace("/slack/events", "/healthz"), b"", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("kam run did not start")
        ts = sr.new_ts()
        assert sr.send(url, SECRET, sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER,
                                                  ts=ts))[0] == 200
        [placeholder] = mock.wait_for("chat.postMessage", timeout=60)
        [answer] = mock.wait_for("chat.update", timeout=60)
        assert placeholder.params["thread_ts"] == ts and answer.params["ts"] == placeholder.response["ts"]
        assert "Karen Doyle" in all_text(answer)
        assert sr.post(url, b"{}", {"Content-Type": "application/json"})[0] == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "HTTP mode" in out
