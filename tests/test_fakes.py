"""The local stand-ins work with the real slack_sdk, slack_bolt, openai and langchain-openai clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import openai
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes.fake_openai import Error, FakeOpenAI, Text, ToolCalls, tool_results
from tests.fakes.mock_slack import BOT_USER_ID, MockSlack, assert_valid_blocks, block_errors
from tests.fakes.slack_requests import (
    block_actions_body,
    event_body,
    sign,
    signed_headers,
    slash_command_body,
    view_submission_body,
)

pytestmark = pytest.mark.backend_agnostic  # run once, on the embedded pass

SECRET = "test-signing-secret"
LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_account",
        "description": "Look up an account",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    },
}


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack(users={"U111": {"email": "ann@example.com", "tz": "Asia/Shanghai", "name": "ann"}}) as mock:
        yield mock


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _client(mock: MockSlack, **kwargs: Any) -> WebClient:
    return WebClient(token="xoxb-test", base_url=mock.base_url, **kwargs)


def _oa(fake: FakeOpenAI, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="x", max_retries=0, **kwargs)


# --------------------------------------------------------------------------- Slack Web API


def test_web_client_methods_are_answered_and_recorded(slack: MockSlack) -> None:
    client = _client(slack)
    assert client.auth_test()["user_id"] == BOT_USER_ID
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = client.chat_postMessage(channel="C111", text="hi", blocks=blocks, thread_ts="1.000001")
    second = client.chat_postMessage(channel="U111", text="dm")
    assert first["ok"] and float(second["ts"]) > float(first["ts"]) and second["channel"] == "DU111"
    assert first["message"]["thread_ts"] == "1.000001"
    assert client.chat_update(channel="C111", ts=first["ts"], text="edited")["message"]["text"] == "edited"
    assert client.users_info(user="U111")["user"]["profile"]["email"] == "ann@example.com"
    assert client.users_info(user="U111")["user"]["tz_offset"] == 8 * 3600
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"
    assert client.users_lookupByEmail(email="ann@example.com")["user"]["id"] == "U111"
    assert client.conversations_open(users="U111")["channel"]["id"] == "DU111"
    view = {"type": "home", "blocks": blocks}
    assert client.views_publish(user_id="U111", view=view)["view"]["id"].startswith("V")
    client.reactions_add(channel="C111", timestamp=first["ts"], name="eyes")
    client.assistant_threads_setStatus(channel_id="D111", thread_ts="1.1", status="is thinking...")
    assert client.api_call("bookmarks.list", params={"channel_id": "C111"})["ok"]

    posts = slack.calls("chat.postMessage")
    assert [c.params["text"] for c in posts] == ["hi", "dm"]
    assert posts[0].params["blocks"] == blocks and posts[0].token == "xoxb-test"
    assert slack.calls("users.info")[0].params == {"user": "U111"}  # form-encoded call
    assert slack.calls("bookmarks.list")[0].params["channel_id"] == "C111"
    slack.reset()
    assert slack.calls() == []


def test_auth_errors_failures_and_invalid_blocks(slack: MockSlack) -> None:
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=slack.base_url).auth_test()
    client = _client(slack)
    slack.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="C1", text="x")
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C1", text="x", blocks=too_many)
    slack.on("users.info", lambda p: {"ok": True, "user": {"id": p["user"], "tz": "UTC"}})
    assert client.users_info(user="UX")["user"]["id"] == "UX"


def test_rate_limit_is_retried_after_retry_after(slack: MockSlack) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    with pytest.raises(SlackApiError) as err:
        _client(slack).chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "1"

    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    client = _client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    start = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="y")["ok"]
    assert time.monotonic() - start >= 1.0
    calls = slack.calls("chat.postMessage")
    assert [c.rate_limited for c in calls] == [True, True, False]


def test_wait_for_and_response_url(slack: MockSlack) -> None:
    threading.Timer(0.1, lambda: _client(slack).chat_postMessage(channel="C1", text="late")).start()
    assert slack.wait_for("chat.postMessage", timeout=3)[0].params["text"] == "late"
    with pytest.raises(AssertionError):
        slack.wait_for("chat.delete", timeout=0.05)
    assert WebhookClient(slack.response_url()).send(text="replied").status_code == 200
    assert slack.calls("response_url")[0].params["text"] == "replied"


def test_block_kit_limits() -> None:
    assert_valid_blocks([{"type": "header", "text": {"type": "plain_text", "text": "Acme"}}])
    assert block_errors([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    assert block_errors([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    assert block_errors([{"type": "context", "elements": [{"type": "mrkdwn", "text": "a"}] * 11}])
    button = {"type": "button", "action_id": "fb", "text": {"type": "plain_text", "text": "ok"}}
    assert block_errors([{"type": "actions", "elements": [button, button]}])
    assert block_errors([{"type": "divider"}] * 51) and not block_errors([{"type": "divider"}] * 100, "home")
    with pytest.raises(AssertionError, match="not unique"):
        assert_valid_blocks([{"type": "actions", "elements": [button]}, {"type": "actions", "elements": [button]}])


# --------------------------------------------------------------------------- Slack requests


def test_signature_matches_slack_sdk_verifier() -> None:
    body = event_body("app_mention", text="hello")
    ts = str(int(time.time()))
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, ts, sign(SECRET, ts, body))
    headers = {k.lower(): v for k, v in signed_headers(SECRET, body, retry_num=2).items()}
    assert verifier.is_valid_request(body, headers)
    assert headers["x-slack-retry-num"] == "2" and headers["content-type"] == "application/json"
    assert not verifier.is_valid_request(body + b" ", headers)


def test_bodies_are_understood_by_bolt(slack: MockSlack) -> None:
    app = App(client=_client(slack), signing_secret=SECRET)
    seen: dict[str, Any] = {}

    @app.event("app_mention")
    def mention(event: dict[str, Any], say: Any) -> None:
        say(text=f"answer: {event['text']}", thread_ts=event["ts"])

    @app.command("/kam")
    def kam(ack: Any, command: dict[str, Any]) -> None:
        seen["command"] = command["text"]
        ack("ok")

    @app.action("feedback_up")
    def feedback(ack: Any, body: dict[str, Any]) -> None:
        seen["action"] = body["actions"][0]["value"]
        ack()

    @app.view("note_confirm")
    def note(ack: Any, view: dict[str, Any]) -> None:
        seen["view"] = (view["private_metadata"], view["state"]["values"]["note"]["text"]["value"])
        ack()

    def dispatch(body: bytes) -> int:
        return app.dispatch(BoltRequest(body=body.decode(), headers=signed_headers(SECRET, body))).status

    assert dispatch(event_body("app_mention", text="how is acme?", ts="1700000001.000001")) == 200
    call = slack.wait_for("chat.postMessage")[0]
    assert call.params["thread_ts"] == "1700000001.000001" and "how is acme?" in call.params["text"]
    assert dispatch(slash_command_body(text="ask acme")) == 200
    assert dispatch(block_actions_body("feedback_up", value="42")) == 200
    assert dispatch(view_submission_body("note_confirm", "acct-1", {"note": {"text": "call back"}})) == 200
    assert seen == {"command": "ask acme", "action": "42", "view": ("acct-1", "call back")}
    form = parse_qs(slash_command_body(text="a b").decode())
    assert form["command"] == ["/kam"] and form["text"] == ["a b"]
    bad = event_body("message_im", text="x")
    assert app.dispatch(BoltRequest(body=bad.decode(), headers=signed_headers("wrong", bad))).status == 401


# --------------------------------------------------------------------------- OpenAI


def test_openai_chat_with_tool_calls_and_validation(fake: FakeOpenAI) -> None:
    fake.script(
        [
            ToolCalls([("lookup_account", {"name": "Acme"})]),
            lambda req: Text(f"tools said {tool_results(req)}"),
        ]
    )
    client = _oa(fake)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "How is Acme?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[LOOKUP_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"name": "Acme"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    with pytest.raises(openai.BadRequestError, match="tool_call_ids did not have response messages"):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[LOOKUP_TOOL])
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "tier A"})
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[LOOKUP_TOOL])
    assert second.choices[0].message.content == "tools said [('lookup_account', 'tier A')]"
    assert second.usage.total_tokens > 0
    assert len(fake.chat_requests()) == 3 and fake.requests[0]["messages"][0]["content"] == "How is Acme?"


def test_openai_streaming_tool_calls_and_text(fake: FakeOpenAI) -> None:
    fake.script(
        [
            ToolCalls([("lookup_account", {"name": "Acme"}), ("lookup_account", {"name": "Beta"})]),
            Text("Acme is doing well."),
        ]
    )
    client = _oa(fake)
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "tools": [LOOKUP_TOOL],
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    calls: dict[int, dict[str, str]] = {}
    finish, usage = None, None
    for chunk in client.chat.completions.create(**kwargs):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
                entry["id"] += tc.id or ""
                entry["name"] += tc.function.name or ""
                entry["args"] += tc.function.arguments or ""
    assert finish == "tool_calls" and usage is not None and usage.total_tokens > 0
    assert [json.loads(c["args"])["name"] for c in calls.values()] == ["Acme", "Beta"]
    assert all(c["id"].startswith("call_") and c["name"] == "lookup_account" for c in calls.values())
    with client.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content == "Acme is doing well."


def test_openai_embeddings_base64_and_float(fake: FakeOpenAI) -> None:
    client = _oa(fake)
    res = client.embeddings.create(model="text-embedding-3-small", input=["acme renewal", "客户 续约"])
    assert fake.requests[-1]["encoding_format"] == "base64"
    assert res.data[0].embedding == fake.embed("acme renewal") and len(res.data[1].embedding) == 64
    floats = client.embeddings.create(model="m", input="acme renewal", encoding_format="float", dimensions=8)
    assert floats.data[0].embedding == fake.embed("acme renewal", 8)
    assert [m.id for m in client.models.list()]


def test_openai_errors_and_timeouts(fake: FakeOpenAI) -> None:
    client = _oa(fake)
    msgs = [{"role": "user", "content": "hi"}]
    fake.fail(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    fake.script([Error(429, retry_after=1)])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    fake.delay(2.0, times=1)
    with pytest.raises(openai.APITimeoutError):
        _oa(fake, timeout=0.2).chat.completions.create(model="gpt-4o-mini", messages=msgs)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=msgs).choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="preceeding message"):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "tool", "tool_call_id": "c1", "content": "x"}]
        )
    fake.script([ToolCalls([("not_offered", {})])])
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    assert fake.errors


def test_langchain_chat_tools_and_embeddings(fake: FakeOpenAI) -> None:
    fake.script(
        [
            ToolCalls([("lookup_account", {"name": "Acme"})]),
            Text("Acme: tier A"),
            ToolCalls([("lookup_account", {"name": "Beta"})]),
        ]
    )
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=fake.base_url, api_key="x", max_retries=0)
    bound = llm.bind_tools([LOOKUP_TOOL])
    ai = bound.invoke([HumanMessage("How is Acme?")])
    assert ai.tool_calls[0]["name"] == "lookup_account" and ai.tool_calls[0]["args"] == {"name": "Acme"}
    tool_msg = ToolMessage("tier A", tool_call_id=ai.tool_calls[0]["id"])
    answer = bound.invoke([HumanMessage("How is Acme?"), ai, tool_msg])
    assert answer.content == "Acme: tier A"
    chunks = list(bound.stream([HumanMessage("And Beta?")]))
    merged = chunks[0]
    for c in chunks[1:]:
        merged += c
    assert merged.tool_calls[0]["args"] == {"name": "Beta"}

    emb = OpenAIEmbeddings(
        model="text-embedding-3-small", base_url=fake.base_url, api_key="x", check_embedding_ctx_length=False
    )
    docs = emb.embed_documents(["acme renewal", "beta churn"])
    assert docs[0] == pytest.approx(fake.embed("acme renewal"))
    assert emb.embed_query("beta churn") == pytest.approx(docs[1])
