"""A local stand-in for Slack, to see the bot without a Slack workspace (`kam slack-sim`).

It is two halves of Slack: the Web API the bot calls (bot/mock_slack.py, which records every post, update and view)
and the sender of what a person does in Slack: mentions, direct messages, `/kam` commands and button clicks, signed
with the app's signing secret exactly as Slack signs them and posted to the bot's HTTP endpoint (`kam run --http`
with SLACK_API_URL pointed at the mock).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bot.mock_slack import APP_ID, BOT_USER_ID, TEAM_ID, Call, MockSlack
from bot.mock_socket import SocketModeServer

CHANNEL = "C0KAMSIM1"  # the channel mentions are posted in
SHOWN = ("chat.postMessage", "chat.postEphemeral", "chat.update", "views.publish", "views.open", "response_url")


@dataclass
class Button:
    label: str
    action_id: str
    block_id: str
    value: str
    channel: str
    ts: str
    blocks: list[dict[str, Any]]
    ephemeral: bool


@dataclass
class Post:
    """Something the bot showed: a message, an update, an ephemeral reply, a view."""

    method: str
    where: str
    text: str  # Slack mrkdwn, as the bot sent it
    buttons: list[tuple[int, Button]] = field(default_factory=list)  # (number to click, button)

    @property
    def placeholder(self) -> bool:
        """The bot's "looking it up" message, replaced by the answer when it is ready."""
        return self.method == "chat.postMessage" and not self.buttons and self.text.startswith("🔎")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature (https://api.slack.com/authentication/verifying-requests-from-slack)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _texts(blocks: Any) -> list[str]:
    """The lines a person reads in Block Kit: headers, sections, fields, context; buttons are listed apart."""
    out: list[str] = []
    for b in blocks or []:
        kind = b.get("type")
        if kind in ("header", "section") and isinstance(b.get("text"), dict):
            out.append(("*" + b["text"]["text"] + "*") if kind == "header" else b["text"]["text"])
        if kind == "section":
            out += [f["text"] for f in b.get("fields", []) if isinstance(f, dict)]
        if kind == "context":
            out.append(" ".join(e.get("text", "") for e in b.get("elements", []) if isinstance(e, dict)))
    return out


class SlackSim:
    """The mock Web API plus a sender of signed requests to the bot at `bot_url`."""

    def __init__(self, bot_url: str, secret: str, people: dict[str, str | None]):
        """`people`: email -> Slack user id (None: one is made up), the users Slack knows."""
        self.bot_url, self.secret = bot_url, secret
        self.user_ids = {email: uid or f"U0SIM{i:05d}" for i, (email, uid) in enumerate(sorted(people.items()), 1)}
        self.mock = MockSlack(users={uid: {"email": email} for email, uid in self.user_ids.items()},
                              validate_blocks=False)
        self.buttons: dict[int, Button] = {}
        self._numbers = itertools.count(1)
        self._seen = 0

    def start(self, port: int = 0) -> SlackSim:
        self.mock.start(port)
        return self

    def stop(self) -> None:
        self.mock.stop()

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL must be for the bot to post here."""
        return self.mock.base_url

    def user(self, email: str) -> str:
        if email not in self.user_ids:  # someone Slack knows but kam-bot may not
            self.user_ids[email] = f"U0SIM{len(self.user_ids) + 1:05d}"
            self.mock.add_user(self.user_ids[email], email=email)
        return self.user_ids[email]

    # ------------------------------------------------------------------ what a person does
    def mention(self, email: str, text: str, channel: str = CHANNEL) -> tuple[int, str]:
        ts = self.mock.next_ts()
        return self._event({"type": "app_mention", "user": self.user(email), "text": f"<@{BOT_USER_ID}> {text}",
                            "ts": ts, "channel": channel, "event_ts": ts, "team": TEAM_ID})

    def dm(self, email: str, text: str) -> tuple[int, str]:
        ts, uid = self.mock.next_ts(), self.user(email)
        return self._event({"type": "message", "channel_type": "im", "user": uid, "text": text, "ts": ts,
                            "channel": "D" + uid[1:], "event_ts": ts, "team": TEAM_ID})

    def slash(self, email: str, text: str, channel: str = CHANNEL) -> tuple[int, str]:
        uid = self.user(email)
        form = {"token": "sim", "team_id": TEAM_ID, "team_domain": "kam-sim", "channel_id": channel,
                "channel_name": "kam-sim", "user_id": uid, "user_name": email.split("@")[0], "command": "/kam",
                "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
                "response_url": self.mock.response_url("commands"), "trigger_id": uuid.uuid4().hex}
        return self._send(urlencode(form).encode(), "application/x-www-form-urlencoded")

    def click(self, email: str, number: int) -> tuple[int, str]:
        button = self.buttons[number]
        uid = self.user(email)
        payload = {
            "type": "block_actions", "api_app_id": APP_ID, "token": "sim", "trigger_id": uuid.uuid4().hex,
            "user": {"id": uid, "username": email.split("@")[0], "name": email.split("@")[0], "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": "kam-sim"}, "enterprise": None, "is_enterprise_install": False,
            "container": {"type": "message", "message_ts": button.ts, "channel_id": button.channel,
                          "is_ephemeral": button.ephemeral},
            "channel": {"id": button.channel, "name": "kam-sim"},
            "message": {"type": "message", "ts": button.ts, "user": BOT_USER_ID, "blocks": button.blocks},
            "response_url": self.mock.response_url("actions"),
            "actions": [{"type": "button", "action_id": button.action_id, "block_id": button.block_id,
                         "value": button.value, "text": {"type": "plain_text", "text": button.label},
                         "action_ts": f"{time.time():.6f}"}],
        }
        return self._send(urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded")

    def _event(self, event: dict[str, Any]) -> tuple[int, str]:
        body = {"token": "sim", "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event, "type": "event_callback",
                "event_id": "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()),
                "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                    "is_bot": True, "is_enterprise_install": False}],
                "is_ext_shared_channel": False, "event_context": uuid.uuid4().hex}
        return self._send(json.dumps(body).encode(), "application/json")

    def _send(self, body: bytes, content_type: str) -> tuple[int, str]:
        socket_mode = self.mock.socket_mode_if_connected()
        if socket_mode is not None:  # `kam run` with SLACK_APP_TOKEN connected to us: no HTTP endpoint to post to
            return self._send_envelope(socket_mode, body, content_type)
        timestamp = str(int(time.time()))
        request = urllib.request.Request(self.bot_url, data=body, method="POST", headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.secret, timestamp, body)})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a local URL
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def _send_envelope(self, socket_mode: SocketModeServer, body: bytes, content_type: str) -> tuple[int, str]:
        """The same request as a Socket Mode envelope; an acknowledgement's payload (a slash command's reply) is
        shown like a response_url reply."""
        if content_type == "application/json":
            kind, payload = "events_api", json.loads(body)
        else:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            kind, payload = ("interactive", json.loads(form["payload"])) if "payload" in form else (
                "slash_commands", form)
        ack = socket_mode.wait_ack(socket_mode.send(kind, payload), timeout=10)
        if ack is None:
            return 504, "the bot did not acknowledge within 10 s"
        if ack.get("payload"):
            self.mock.handle("/socket-mode/ack", dict(ack["payload"]), {})
        return 200, json.dumps(ack.get("payload") or {})

    # ------------------------------------------------------------------ what the bot showed
    def posts(self) -> list[Post]:
        """What the bot showed since the last call, with its buttons numbered for `click`."""
        calls = self.mock.calls()
        new, self._seen = calls[self._seen:], len(calls)
        return [self._post(c) for c in new if c.method in SHOWN]

    def wait(self, until: Callable[[Post], bool] | None = None, timeout: float = 60.0,
             idle: float = 1.0) -> list[Post]:
        """Posts as they come: until one satisfies `until`, or (without it) until the bot has been quiet for `idle`
        seconds after a post it did not mean as a placeholder; at most `timeout` seconds."""
        out: list[Post] = []
        deadline, quiet_since = time.monotonic() + timeout, time.monotonic()
        while time.monotonic() < deadline:
            got = self.posts()
            out += got
            if until is not None and any(until(p) for p in got):
                break
            if got:
                quiet_since = time.monotonic()
            elif until is None and out and not out[-1].placeholder and time.monotonic() - quiet_since >= idle:
                break
            time.sleep(0.05)
        return out

    def _images(self, blocks: list[dict[str, Any]]) -> list[str]:
        """Image blocks of uploaded files (charts): their bytes saved beside the other temporary files, to open."""
        import tempfile
        from pathlib import Path

        out = []
        for b in blocks:
            ref = b.get("slack_file") if b.get("type") == "image" else None
            data = self.mock.file_bytes(str(ref.get("id"))) if isinstance(ref, dict) else None
            if data:
                path = Path(tempfile.gettempdir()) / f"kam-sim-{ref['id']}.png"
                path.write_bytes(data)
                out.append(f"[image] {b.get('title', {}).get('text') or b.get('alt_text', '')}: {path}")
        return out

    def _post(self, call: Call) -> Post:
        p = call.params
        view = p.get("view") if isinstance(p.get("view"), dict) else None
        blocks = (view or {}).get("blocks") or p.get("blocks") or []
        blocks = blocks if isinstance(blocks, list) else []
        lines = (_texts(blocks) or [str(p.get("text") or "")]) + self._images(blocks)
        channel = str(p.get("channel") or "")
        where = {"views.publish": "App Home of " + str(p.get("user_id")), "views.open": "a modal",
                 "response_url": "reply only you see", "chat.postEphemeral": f"{channel} (only you see it)"}.get(
            call.method, channel + (f" thread {p['thread_ts']}" if p.get("thread_ts") else ""))
        ts = str(call.response.get("ts") or p.get("ts") or "")
        post = Post(call.method, where, "\n".join(line for line in lines if line))
        for b in blocks:
            for e in b.get("elements", []) if b.get("type") == "actions" else []:
                if e.get("type") == "button":
                    button = Button(str(e.get("text", {}).get("text", "")), e.get("action_id", ""),
                                    b.get("block_id", ""), str(e.get("value", "")), channel or CHANNEL, ts, blocks,
                                    call.method in ("chat.postEphemeral", "response_url"))
                    number = next(self._numbers)
                    self.buttons[number] = button
                    post.buttons.append((number, button))
        return post
