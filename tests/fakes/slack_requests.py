"""Build and sign requests exactly as Slack sends them to an app's HTTP endpoint.

Bodies start from Slack's real payloads in ``shared/data/slack_payloads`` (a sibling of
the repo root, or ``$KAM_SHARED_DATA/slack_payloads``) with the fields under test replaced.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.fakes.mock_slack import APP_ID, BOT_USER_ID, TEAM_ID

REPO_ROOT = Path(__file__).resolve().parents[2]
USER_ID = "U111"
CHANNEL_ID = "C111"
DM_CHANNEL_ID = "D111"

EVENT_FILES = {
    "app_mention": "events/app_mention.bolt_python.json",
    "message_channel": "events/message_channel.bolt_python.json",
    "message_im": "events/message_im_assistant_thread.bolt_python.json",
    "message_bot": "events/message_bot_message.bolt_python.json",
    "app_home_opened": "events/app_home_opened.bolt_python.json",
    "assistant_thread_started": "events/assistant_thread_started.bolt_python.json",
    "reaction_added": "events/reaction_added.python_slack_events_api.json",
}

_lock = threading.Lock()
_last_ts = 0.0
_ids = itertools.count(1)


def payload_dir() -> Path:
    """The ``slack_payloads`` folder (``$KAM_SHARED_DATA`` overrides the ``shared/data`` dir)."""
    shared = os.environ.get("KAM_SHARED_DATA")
    base = Path(shared) if shared else REPO_ROOT.parent / "shared" / "data"
    return base / "slack_payloads"


@cache
def _read(relpath: str) -> str:
    return (payload_dir() / relpath).read_text(encoding="utf-8")


def load_payload(relpath: str) -> Any:
    """A fresh copy of a payload file: parsed JSON for ``*.json``, text otherwise."""
    text = _read(relpath)
    return json.loads(text) if relpath.endswith(".json") else text


def new_ts() -> str:
    """A unique, strictly increasing Slack ts (``seconds.micros``) near the current time."""
    global _last_ts
    with _lock:
        _last_ts = max(time.time(), _last_ts + 0.000001)
        return f"{_last_ts:.6f}"


def new_event_id() -> str:
    """A unique event id like ``Ev0000012AB34CD``."""
    return f"Ev{next(_ids):06d}{uuid.uuid4().hex[:8].upper()}"


# --------------------------------------------------------------------------- signing


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: bytes,
    timestamp: int | str | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends with ``body``; ``content_type`` defaults to JSON for ``{...}`` bodies, else form."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    if content_type is None:
        json_body = body.lstrip()[:1] == b"{"
        content_type = "application/json" if json_body else "application/x-www-form-urlencoded"
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    elif retry_reason is not None:
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


# --------------------------------------------------------------------------- bodies


def _rich_text(text: str) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    for i, part in enumerate(re.split(r"<@([A-Z0-9]+)>", text)):
        if i % 2:
            elements.append({"type": "user", "user_id": part})
        elif part:
            elements.append({"type": "text", "text": part})
    block_id = hashlib.md5(text.encode()).hexdigest()[:4]  # noqa: S324 - not security
    return [
        {"type": "rich_text", "block_id": block_id, "elements": [{"type": "rich_text_section", "elements": elements}]}
    ]


def event_body(
    kind: str = "app_mention",
    *,
    text: str | None = None,
    user: str = USER_ID,
    channel: str | None = None,
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """An ``event_callback`` JSON body for ``kind`` (a key of ``EVENT_FILES``).

    For ``app_mention`` the bot mention ``<@bot_user_id>`` is prefixed to ``text`` if
    missing. For ``reaction_added`` ``ts``/``channel`` address the reacted message and
    ``extra={"reaction": ...}`` sets the emoji. ``extra`` is merged into ``event``.
    """
    if kind not in EVENT_FILES:
        raise ValueError(f"unknown event kind {kind!r}; known: {sorted(EVENT_FILES)}")
    body = load_payload(EVENT_FILES[kind])
    event = body["event"]
    ts = ts or new_ts()
    dm_kinds = ("message_im", "app_home_opened", "assistant_thread_started")
    channel = channel or (DM_CHANNEL_ID if kind in dm_kinds else CHANNEL_ID)

    body.update(team_id=team_id, api_app_id=app_id, event_id=event_id or new_event_id(), event_time=int(float(ts)))
    body["token"] = "verification_token"
    if "authed_users" in body:
        body["authed_users"] = [bot_user_id]
    body["authorizations"] = [
        {
            "enterprise_id": body.get("enterprise_id"),
            "team_id": team_id,
            "user_id": bot_user_id,
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    if "team" in event:
        event["team"] = team_id

    if kind == "reaction_added":
        event["user"] = user
        event["item"] = {"type": "message", "channel": channel, "ts": ts}
        event["item_user"] = bot_user_id
        event["event_ts"] = new_ts()
    elif kind == "app_home_opened":
        event.update(user=user, channel=channel, tab="home", event_ts=ts)
    elif kind == "assistant_thread_started":
        thread = event["assistant_thread"]
        thread.update(user_id=user, channel_id=channel, thread_ts=thread_ts or ts)
        thread["context"]["team_id"] = team_id
        event["event_ts"] = ts
    else:  # message-like events
        if text is None:
            text = event["text"].replace("<@W111>", f"<@{bot_user_id}>")
        if kind == "app_mention" and f"<@{bot_user_id}>" not in text:
            text = f"<@{bot_user_id}> {text}"
        event.update(text=text, user=user, channel=channel, ts=ts, event_ts=ts)
        if "client_msg_id" in event:
            event["client_msg_id"] = str(uuid.uuid4())
        if "blocks" in event:
            event["blocks"] = _rich_text(text)
        if thread_ts:
            event["thread_ts"] = thread_ts
            if "parent_user_id" in event:
                event["parent_user_id"] = user
        else:
            event.pop("thread_ts", None)
            event.pop("parent_user_id", None)
        if "source_team" in event:
            event["source_team"] = event["user_team"] = team_id
    if extra:
        event.update(copy.deepcopy(extra))
    return json.dumps(body).encode()


def url_verification_body(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> bytes:
    """A ``url_verification`` JSON body."""
    body = load_payload("events/url_verification.bolt_python.json")
    body["challenge"] = challenge
    return json.dumps(body).encode()


def slash_command_body(
    command: str = "/kam",
    text: str = "",
    *,
    user_id: str = USER_ID,
    channel_id: str = CHANNEL_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    app_id: str = APP_ID,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> bytes:
    """A form-encoded slash command body built from ``commands/slash_command.form.txt``."""
    fields = dict(parse_qsl(load_payload("commands/slash_command.form.txt").strip(), keep_blank_values=True))
    fields.update(
        team_id=team_id,
        channel_id=channel_id,
        user_id=user_id,
        command=command,
        text=text,
        api_app_id=app_id,
        is_enterprise_install="false",
        trigger_id=trigger_id or f"{next(_ids)}.{next(_ids)}.{uuid.uuid4().hex}",
    )
    if response_url:
        fields["response_url"] = response_url
    if user_name:
        fields["user_name"] = user_name
    if channel_name:
        fields["channel_name"] = channel_name
    return urlencode(fields).encode()


def _form_payload(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _user(payload: dict[str, Any], user_id: str, team_id: str) -> None:
    payload["user"].update(id=user_id, username=user_id.lower(), name=user_id.lower(), team_id=team_id)
    payload["team"]["id"] = team_id


def block_actions_body(
    action_id: str,
    value: str = "",
    user_id: str = USER_ID,
    *,
    block_id: str = "b",
    channel_id: str = CHANNEL_ID,
    message_ts: str | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    action_type: str = "button",
    button_text: str = "Button",
) -> bytes:
    """A form-encoded ``payload=<json>`` block_actions body from ``interactivity/block_actions.bolt_python.json``.

    With ``message`` the click comes from that (non-ephemeral) message; with ``view`` it
    comes from a Home tab / modal (no channel, no response_url), as Slack sends them.
    """
    payload = load_payload("interactivity/block_actions.bolt_python.json")
    _user(payload, user_id, team_id)
    payload["trigger_id"] = trigger_id or f"{next(_ids)}.{next(_ids)}.{uuid.uuid4().hex}"
    action = payload["actions"][0]
    action.update(action_id=action_id, block_id=block_id, value=value, type=action_type, action_ts=new_ts())
    action["text"]["text"] = button_text
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V111")}
        payload["view"] = view
        payload.pop("channel", None)
        payload.pop("response_url", None)
    else:
        ts = message_ts or (message or {}).get("ts") or new_ts()
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": message is None,
        }
        payload["channel"]["id"] = channel_id
        if message is not None:
            payload["message"] = {"type": "message", "ts": ts, **message}
        if response_url:
            payload["response_url"] = response_url
    return _form_payload(payload)


def view_submission_body(
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, dict[str, Any]] | None = None,
    user_id: str = USER_ID,
    *,
    view_id: str = "V111",
    blocks: list[dict[str, Any]] | None = None,
    title: str = "KAM",
    team_id: str = TEAM_ID,
    response_urls: list[dict[str, Any]] | None = None,
) -> bytes:
    """A form-encoded ``payload=<json>`` view_submission body from ``interactivity/view_submission.bolt_python.json``.

    ``state_values`` is Slack's ``{block_id: {action_id: {"type": ..., "value": ...}}}``; a plain
    string in place of the inner dict means a ``plain_text_input`` value. Without ``blocks``,
    matching input blocks are generated.
    """
    payload = load_payload("interactivity/view_submission.bolt_python.json")
    _user(payload, user_id, team_id)
    values: dict[str, dict[str, Any]] = {}
    for bid, actions in (state_values or {}).items():
        values[bid] = {
            aid: v if isinstance(v, dict) else {"type": "plain_text_input", "value": v} for aid, v in actions.items()
        }
    if blocks is None:
        blocks = [
            {
                "type": "input",
                "block_id": bid,
                "label": {"type": "plain_text", "text": bid},
                "optional": False,
                "element": {"type": v["type"], "action_id": aid},
            }
            for bid, actions in values.items()
            for aid, v in actions.items()
        ]
    view = payload["view"]
    view.update(
        id=view_id,
        team_id=team_id,
        root_view_id=view_id,
        app_installed_team_id=team_id,
        callback_id=callback_id,
        private_metadata=private_metadata,
        blocks=blocks,
        state={"values": values},
    )
    view["title"]["text"] = title
    payload["trigger_id"] = f"{next(_ids)}.{next(_ids)}.{uuid.uuid4().hex}"
    payload["response_urls"] = response_urls or []
    return _form_payload(payload)


def message_shortcut_body(
    callback_id: str,
    text: str,
    user_id: str = USER_ID,
    *,
    channel_id: str = CHANNEL_ID,
    channel_name: str = "dev",
    message_user: str | None = None,
    message_ts: str | None = None,
    team_id: str = TEAM_ID,
) -> bytes:
    """A form-encoded ``payload=<json>`` message shortcut body from
    ``interactivity/message_action_shortcut.bolt_python.json``: ``user_id`` ran shortcut ``callback_id`` on a
    message saying ``text`` in ``channel_id`` (``#channel_name``)."""
    payload = load_payload("interactivity/message_action_shortcut.bolt_python.json")
    _user(payload, user_id, team_id)
    ts = message_ts or new_ts()
    payload.update(callback_id=callback_id, trigger_id=f"{next(_ids)}.{next(_ids)}.{uuid.uuid4().hex}",
                   message_ts=ts, action_ts=new_ts())
    payload["channel"] = {"id": channel_id, "name": channel_name}
    message = payload["message"]
    message.update(text=text, user=message_user or user_id, ts=ts, team=team_id, blocks=_rich_text(text))
    message["client_msg_id"] = str(uuid.uuid4())
    return _form_payload(payload)


# --------------------------------------------------------------------------- sending

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, body: bytes, headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, str]:
    """POST ``body`` with urllib (no proxies); return ``(status, response text)``, 4xx/5xx included."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def send(
    url: str,
    secret: str,
    body: bytes,
    *,
    timestamp: int | str | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """Sign ``body`` with ``secret`` and POST it to ``url`` as Slack would."""
    headers = signed_headers(secret, body, timestamp=timestamp, retry_num=retry_num, retry_reason=retry_reason)
    return post(url, body, headers, timeout=timeout)
