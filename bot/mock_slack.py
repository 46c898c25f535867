"""A mock Slack Web API server on 127.0.0.1 that records every call (the tests' Slack, and `kam slack-sim`'s).

Use it with ``WebClient(token="xoxb-test", base_url=mock.base_url)``: slack_sdk joins
``base_url`` and the method name with ``urljoin``, so ``base_url`` ends with ``/api/``.
It also accepts POSTs on ``/commands/...`` and ``/actions/...`` (see
:meth:`MockSlack.response_url`), recorded with method ``"response_url"``.
"""

from __future__ import annotations

import datetime
import email.parser
import email.policy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.mock_socket import SocketModeServer

BOT_USER_ID = "U0KAMBOT"
BOT_ID = "B0KAMBOT"
TEAM_ID = "T111"
APP_ID = "A111"

# Methods Slack answers without a token.
_NO_AUTH_METHODS = {"api.test", "oauth.access", "oauth.v2.access", "oauth.v2.exchange"}
# Params that slack_sdk sends as JSON strings when it form-encodes a call.
_JSON_PARAMS = ("blocks", "attachments", "view", "metadata", "prompts")

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Call:
    """One recorded request to the mock."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    path: str = ""
    status: int = 200
    rate_limited: bool = False
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def token(self) -> str | None:
        """The bearer token of the call (header first, then the ``token`` param)."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        token = self.params.get("token")
        return str(token) if token else None


@dataclass
class _Rule:
    times: int
    retry_after: int = 1
    error: str = ""


# --------------------------------------------------------------------------- Block Kit

_BLOCK_TYPES = {
    "section",
    "divider",
    "image",
    "actions",
    "context",
    "input",
    "file",
    "header",
    "video",
    "rich_text",
    "markdown",
    "table",
    "call",
}


def _text_errors(obj: Any, where: str, *, max_len: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or "text" not in obj:
        return [f"{where}: text object required"]
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    errors: list[str] = []
    if obj.get("type") not in kinds:
        errors.append(f"{where}.type must be one of {kinds}, got {obj.get('type')!r}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"{where}.text must be a non-empty string")
    elif len(text) > max_len:
        errors.append(f"{where}.text has {len(text)} chars (max {max_len})")
    return errors


def _element_errors(el: Any, where: str, action_ids: set[str]) -> list[str]:
    if not isinstance(el, dict) or "type" not in el:
        return [f"{where}: element must be an object with a type"]
    errors: list[str] = []
    action_id = el.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or not action_id or len(action_id) > 255:
            errors.append(f"{where}.action_id must be 1..255 chars")
        elif action_id in action_ids:
            errors.append(f"{where}.action_id {action_id!r} is not unique")
        else:
            action_ids.add(action_id)
    if el["type"] == "button":
        errors += _text_errors(el.get("text"), f"{where}.text", max_len=75, plain_only=True)
        if len(str(el.get("value", ""))) > 2000:
            errors.append(f"{where}.value longer than 2000 chars")
        if len(str(el.get("url", ""))) > 3000:
            errors.append(f"{where}.url longer than 3000 chars")
        if el.get("style") not in (None, "primary", "danger"):
            errors.append(f"{where}.style must be primary or danger")
    if "options" in el and len(el["options"]) > 100:
        errors.append(f"{where}.options has more than 100 items")
    return errors


def block_errors(blocks: Any, surface: str = "message") -> list[str]:
    """Return the Slack limit violations of ``blocks`` (empty list when valid).

    ``surface`` is ``"message"`` (max 50 blocks) or ``"modal"``/``"home"`` (max 100).
    """
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    limit = 50 if surface == "message" else 100
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"{len(blocks)} blocks (max {limit} for {surface})")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, dict):
            errors.append(f"{where} must be an object")
            continue
        kind = block.get("type")
        if kind not in _BLOCK_TYPES:
            errors.append(f"{where}.type {kind!r} is not a block type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                errors.append(f"{where}.block_id must be 1..255 chars")
            elif block_id in block_ids:
                errors.append(f"{where}.block_id {block_id!r} is not unique")
            else:
                block_ids.add(block_id)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"{where}: section needs text or fields")
            if "text" in block:
                errors += _text_errors(block["text"], f"{where}.text", max_len=3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                errors.append(f"{where}.fields has {len(fields)} items (max 10)")
            for j, fld in enumerate(fields):
                errors += _text_errors(fld, f"{where}.fields[{j}]", max_len=2000)
            if "accessory" in block:
                errors += _element_errors(block["accessory"], f"{where}.accessory", action_ids)
        elif kind == "header":
            errors += _text_errors(block.get("text"), f"{where}.text", max_len=150, plain_only=True)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                errors.append(f"{where}.elements has {len(elements)} items (1..10)")
            for j, el in enumerate(elements):
                if isinstance(el, dict) and el.get("type") == "image":
                    continue
                errors += _text_errors(el, f"{where}.elements[{j}]", max_len=3000)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                errors.append(f"{where}.elements has {len(elements)} items (1..25)")
            for j, el in enumerate(elements):
                errors += _element_errors(el, f"{where}.elements[{j}]", action_ids)
        elif kind == "input":
            errors += _text_errors(block.get("label"), f"{where}.label", max_len=2000, plain_only=True)
            if "element" not in block:
                errors.append(f"{where}: input needs an element")
            else:
                errors += _element_errors(block["element"], f"{where}.element", action_ids)
        elif kind == "image":
            if not block.get("alt_text") or not (block.get("image_url") or block.get("slack_file")):
                errors.append(f"{where}: image needs image_url and alt_text")
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text or len(text) > 12000:
                errors.append(f"{where}.text must be 1..12000 chars")
    return errors


def view_errors(view: Any) -> list[str]:
    """Return the Slack limit violations of a modal or Home tab ``view``."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"view.type must be modal or home, got {kind!r}"]
    errors = block_errors(view.get("blocks", []), surface=kind)
    if kind == "modal":
        errors += _text_errors(view.get("title"), "view.title", max_len=24, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                errors += _text_errors(view[key], f"view.{key}", max_len=24, plain_only=True)
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append("view.private_metadata longer than 3000 chars")
    if len(str(view.get("callback_id", ""))) > 255:
        errors.append("view.callback_id longer than 255 chars")
    return errors


def assert_valid_blocks(blocks: Any, surface: str = "message") -> None:
    """Assert that ``blocks`` respect Slack's Block Kit limits for ``surface``."""
    errors = block_errors(blocks, surface)
    assert not errors, "invalid blocks:\n  " + "\n  ".join(errors)


def assert_valid_view(view: Any) -> None:
    """Assert that a modal / Home tab view respects Slack's limits."""
    errors = view_errors(view)
    assert not errors, "invalid view:\n  " + "\n  ".join(errors)


# --------------------------------------------------------------------------- server


class MockSlack:
    """Mock Slack Web API on 127.0.0.1; a context manager (``start()`` / ``stop()``)."""

    def __init__(
        self,
        *,
        users: dict[str, dict[str, Any]] | None = None,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        team_id: str = TEAM_ID,
        app_id: str = APP_ID,
        token: str | None = None,
        validate_blocks: bool = True,
    ) -> None:
        """``token``: if set, other tokens get ``invalid_auth``; calls without one get ``not_authed``."""
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.token = token
        self.validate_blocks = validate_blocks
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}  # channel -> ts -> message
        self.views: dict[str, dict[str, Any]] = {}
        self.reactions: set[tuple[str, str, str]] = set()
        # files.getUploadURLExternal -> POST to its upload_url -> files.completeUploadExternal
        self.files: dict[str, dict[str, Any]] = {}
        self._calls: list[Call] = []
        self._cond = threading.Condition()
        self._rate_limits: dict[str, list[_Rule]] = {}
        self._failures: dict[str, list[_Rule]] = {}
        self._handlers: dict[str, Handler] = {}
        self._ts_counter = 0
        self._id_counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._socket_mode: SocketModeServer | None = None
        for uid, info in (users or {}).items():
            self.add_user(uid, **info)

    # ----------------------------------------------------------------- lifecycle
    def start(self, port: int = 0, host: str = "127.0.0.1") -> MockSlack:
        """Bind `port` (a free one by default) on `host` and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server((host, port), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="mock-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._socket_mode is not None:
            self._socket_mode.stop()
            self._socket_mode = None
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> MockSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start()``)."""
        assert self._server is not None, "MockSlack not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for slack_sdk's ``WebClient``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.url}/api/"

    @property
    def socket_mode(self) -> SocketModeServer:
        """Socket Mode (bot/mock_socket.py): started on first use; `apps.connections.open` hands out its URL."""
        with self._cond:
            if self._socket_mode is None:
                self._socket_mode = SocketModeServer(self.app_id).start()
            return self._socket_mode

    def socket_mode_if_connected(self) -> SocketModeServer | None:
        """Socket Mode, if an app is connected to it now (else None: the app listens over HTTP)."""
        with self._cond:
            server = self._socket_mode
        return server if server is not None and server.connections else None

    def response_url(self, kind: str = "commands") -> str:
        """A fresh ``response_url`` on this server (``kind``: ``commands`` or ``actions``)."""
        return f"{self.url}/{kind}/{self.team_id}/{self._next_id()}/hook-secret"

    # ----------------------------------------------------------------- configuration
    def add_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        tz: str = "UTC",
        name: str | None = None,
        real_name: str | None = None,
        locale: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> None:
        """Add (or replace) a workspace user answered by ``users.info`` / ``users.lookupByEmail``."""
        name = name or user_id.lower()
        self.users[user_id] = {
            "email": email,
            "tz": tz,
            "name": name,
            "real_name": real_name or name,
            "locale": locale,
            "is_bot": is_bot,
            "deleted": deleted,
        }

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        with self._cond:
            self._rate_limits.setdefault(method, []).append(_Rule(times, retry_after=retry_after))

    def fail(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        with self._cond:
            self._failures.setdefault(method, []).append(_Rule(times, error=error))

    def on(self, method: str, handler: Handler | None) -> None:
        """Answer ``method`` with ``handler(params) -> response dict`` (``None`` restores the default)."""
        with self._cond:
            if handler is None:
                self._handlers.pop(method, None)
            else:
                self._handlers[method] = handler

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U111",
        ts: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a message served by ``conversations.history`` / ``conversations.replies``."""
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts or self.next_ts(), **extra}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        with self._cond:
            self.messages.setdefault(channel, {})[msg["ts"]] = msg
        return msg

    # ----------------------------------------------------------------- inspection
    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls, optionally only those of ``method``."""
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` calls of ``method`` were recorded; return them (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self._calls]
                    raise AssertionError(
                        f"expected {count} {method} call(s) within {timeout}s, got {len(found)}; seen {seen}"
                    )
                self._cond.wait(left)

    def reset(self) -> None:
        """Forget calls, scripted failures/limits, handlers, messages, views and reactions (users are kept)."""
        with self._cond:
            self._calls.clear()
            self._rate_limits.clear()
            self._failures.clear()
            self._handlers.clear()
            self.messages.clear()
            self.views.clear()
            self.reactions.clear()
            self.files.clear()

    # ----------------------------------------------------------------- internals
    def next_ts(self) -> str:
        """A monotonic unique message ts like ``1700000000.000100``."""
        with self._cond:
            self._ts_counter += 1
            micros = self._ts_counter * 100
        return f"{1700000000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self) -> int:
        with self._cond:
            self._id_counter += 1
            return self._id_counter

    def _take(self, rules: dict[str, list[_Rule]], method: str) -> _Rule | None:
        queue = rules.get(method)
        if not queue:
            return None
        rule = queue[0]
        rule.times -= 1
        if rule.times <= 0:
            queue.pop(0)
        return rule

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def handle(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Answer one request; returns ``(status, extra headers, json body)``."""
        now = time.time()
        if not path.startswith("/api/"):
            with self._cond:
                handler = self._handlers.get("response_url")  # set with on("response_url", ...): tests hold it
            response = handler(params) if handler is not None else {"ok": True}
            call = Call("response_url", params, headers, now, path=path, response=response)
            self._record(call)
            return (200 if response.get("ok") else 500), {}, response
        method = path[len("/api/") :].strip("/")
        call = Call(method, params, headers, now, path=path)
        with self._cond:
            limit = self._take(self._rate_limits, method)
            failure = None if limit else self._take(self._failures, method)
            handler = self._handlers.get(method)
        if limit is not None:
            call.status, call.rate_limited = 429, True
            call.response = {"ok": False, "error": "ratelimited"}
            self._record(call)
            return 429, {"Retry-After": str(limit.retry_after)}, call.response
        if failure is not None:
            call.response = {"ok": False, "error": failure.error}
        else:
            auth_error = self._auth_error(method, call.token)
            if auth_error:
                call.response = {"ok": False, "error": auth_error}
            elif handler is not None:
                call.response = handler(params)
            else:
                call.response = self._dispatch(method, params)
        self._record(call)
        return 200, {}, call.response

    def receive_upload(self, path: str, body: bytes) -> tuple[int, str]:
        """The POST of a file's bytes to the upload URL that files.getUploadURLExternal handed out."""
        file_id = path.rstrip("/").rsplit("/", 1)[-1]
        with self._cond:
            f = self.files.get(file_id)
            if f is None:
                status, text = 404, "file_not_found"
            elif len(body) != f["length"]:  # Slack refuses bytes that do not match the announced length
                status, text = 400, f"length mismatch: announced {f['length']}, got {len(body)}"
            else:
                f["data"] = body
                status, text = 200, f"OK - {len(body)}"
        self._record(Call("upload", {"file_id": file_id, "size": len(body)}, {}, time.time(), path=path,
                          status=status, response={"ok": status == 200}))
        return status, text

    def file_bytes(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file id (None until its upload arrived)."""
        with self._cond:
            f = self.files.get(file_id)
            return f["data"] if f else None

    def _unknown_files(self, blocks: Any) -> list[str]:
        """Image blocks naming a slack_file that was never uploaded and completed: Slack answers invalid_blocks."""
        out = []
        for b in blocks if isinstance(blocks, list) else []:
            ref = b.get("slack_file") if isinstance(b, dict) and b.get("type") == "image" else None
            if isinstance(ref, dict) and ref.get("id"):
                f = self.files.get(str(ref["id"]))
                if f is None or not f.get("completed"):
                    out.append(f"image block: slack_file {ref['id']} is not a completed upload")
        return out

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if method in _NO_AUTH_METHODS:
            return None
        if not token:
            return "not_authed"
        if self.token is not None and token != self.token:
            return "invalid_auth"
        return None

    def _dispatch(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        fn = getattr(self, "_m_" + method.replace(".", "_"), None)
        return fn(p) if fn is not None else {"ok": True}

    def _user_object(self, uid: str) -> dict[str, Any]:
        u = self.users[uid]
        offset = _tz_offset(u["tz"])
        obj: dict[str, Any] = {
            "id": uid,
            "team_id": self.team_id,
            "name": u["name"],
            "deleted": u["deleted"],
            "real_name": u["real_name"],
            "tz": u["tz"],
            "tz_label": u["tz"],
            "tz_offset": offset,
            "is_bot": u["is_bot"],
            "is_admin": False,
            "is_owner": False,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": {
                "real_name": u["real_name"],
                "display_name": u["name"],
                "team": self.team_id,
                **({"email": u["email"]} if u["email"] else {}),
            },
        }
        if u["locale"]:
            obj["locale"] = u["locale"]
        return obj

    def _message_errors(self, p: dict[str, Any]) -> dict[str, Any] | None:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            return {"ok": False, "error": "no_text"}
        if self.validate_blocks and "blocks" in p:
            errors = block_errors(p["blocks"], "message") + self._unknown_files(p["blocks"])
            if errors:
                return {"ok": False, "error": "invalid_blocks", "errors": errors}
        return None

    def _channel(self, channel: str) -> str:
        return "D" + channel if channel[:1] in ("U", "W") else channel

    # ---- methods (name: _m_ + method with dots replaced by underscores)
    def _m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_mode.url}

    def _m_api_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": {k: v for k, v in p.items() if k != "token"}}

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://kam-test.slack.com/",
            "team": "KAM Test",
            "user": "kam-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        err = self._message_errors(p)
        if err:
            return err
        channel = self._channel(str(p["channel"]))
        msg: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": p.get("text", ""),
            "ts": self.next_ts(),
            "team": self.team_id,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if p.get(key):
                msg[key] = p[key]
        with self._cond:
            self.messages.setdefault(channel, {})[msg["ts"]] = msg
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        err = self._message_errors(p)
        if err:
            return err
        if not p.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self.next_ts()}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        err = self._message_errors(p)
        if err:
            return err
        channel, ts = str(p["channel"]), str(p.get("ts", ""))
        with self._cond:
            msg = self.messages.get(channel, {}).get(ts)
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            msg.update({k: p[k] for k in ("text", "blocks", "attachments", "metadata") if k in p})
            msg["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": msg.get("text", ""), "message": msg}

    def _m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel", "")), str(p.get("ts", ""))
        with self._cond:
            if self.messages.get(channel, {}).pop(ts, None) is None:
                return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _store_view(self, view: Any, view_id: str | None = None) -> dict[str, Any]:
        if self.validate_blocks:
            errors = view_errors(view) + self._unknown_files(view.get("blocks") if isinstance(view, dict) else None)
            if errors:
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
        view_id = view_id or f"V{self._next_id():08d}"
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.fake",
            "root_view_id": view_id,
            "previous_view_id": None,
            **view,
        }
        with self._cond:
            self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._store_view(p.get("view"))

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not (p.get("trigger_id") or p.get("interactivity_pointer")):
            return {"ok": False, "error": "invalid_arguments"}
        return self._store_view(p.get("view"))

    def _m_views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._m_views_open(p)

    def _m_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        if not (p.get("view_id") or p.get("external_id")):
            return {"ok": False, "error": "invalid_arguments"}
        return self._store_view(p.get("view"), p.get("view_id"))

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        uid = str(p.get("user", ""))
        if uid not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user_object(uid)}

    def _m_users_lookupByEmail(self, p: dict[str, Any]) -> dict[str, Any]:
        email = str(p.get("email", "")).lower()
        for uid, u in self.users.items():
            if (u["email"] or "").lower() == email:
                return {"ok": True, "user": self._user_object(uid)}
        return {"ok": False, "error": "users_not_found"}

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("channel"):
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": p["channel"]}}
        users = [u for u in str(p.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        cid = "D" + users[0] if len(users) == 1 else "G" + "".join(users)[:10]
        return {"ok": True, "channel": {"id": cid}}

    def _history(self, channel: str) -> list[dict[str, Any]]:
        with self._cond:
            return sorted(self.messages.get(channel, {}).values(), key=lambda m: float(m["ts"]))

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        msgs = [m for m in self._history(str(p.get("channel", ""))) if m.get("thread_ts", m["ts"]) == m["ts"]]
        limit = int(p.get("limit") or 100)
        return {"ok": True, "messages": list(reversed(msgs))[:limit], "has_more": False}

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        ts = str(p.get("ts", ""))
        msgs = [m for m in self._history(str(p.get("channel", ""))) if m["ts"] == ts or m.get("thread_ts") == ts]
        if not msgs:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": msgs[: int(p.get("limit") or 1000)], "has_more": False}

    def _m_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (str(p.get("channel")), str(p.get("timestamp")), str(p.get("name")))
        with self._cond:
            if key in self.reactions:
                return {"ok": False, "error": "already_reacted"}
            self.reactions.add(key)
        return {"ok": True}

    def _m_reactions_remove(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (str(p.get("channel")), str(p.get("timestamp")), str(p.get("name")))
        with self._cond:
            if key not in self.reactions:
                return {"ok": False, "error": "no_reaction"}
            self.reactions.discard(key)
        return {"ok": True}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(p.get("length") or 0)
        except ValueError:
            length = 0
        if not p.get("filename") or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{self._next_id():010d}"
        with self._cond:
            self.files[file_id] = {"id": file_id, "filename": str(p["filename"]), "length": length,
                                   "alt_txt": p.get("alt_txt"), "title": None, "data": None, "completed": False,
                                   "channels": []}
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/v1/{file_id}"}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        items = p.get("files")
        if isinstance(items, str):
            try:
                items = json.loads(items)
            except ValueError:
                return {"ok": False, "error": "invalid_json"}
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        out = []
        channel = str(p.get("channel_id") or "")
        with self._cond:
            for item in items:
                f = self.files.get(str(item.get("id", ""))) if isinstance(item, dict) else None
                if f is None or f["data"] is None:  # never uploaded: Slack has nothing to complete
                    return {"ok": False, "error": "file_not_found"}
                f["completed"] = True
                f["title"] = item.get("title") or f["filename"]
                if channel:
                    f["channels"].append(channel)
                out.append({"id": f["id"], "name": f["filename"], "title": f["title"], "size": len(f["data"]),
                            "mimetype": "image/png" if f["data"][:8] == b"\x89PNG\r\n\x1a\n" else
                            "application/octet-stream", "channels": list(f["channels"])})
        return {"ok": True, "files": out}

    def _m_assistant_threads_setStatus(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel_id") or not p.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}


def _tz_offset(tz: str) -> int:
    try:
        from zoneinfo import ZoneInfo

        delta = datetime.datetime.now(ZoneInfo(tz)).utcoffset()
        return int(delta.total_seconds()) if delta else 0
    except Exception:  # noqa: BLE001 - unknown zone or no tz database
        return 0


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Parse a JSON, form-encoded or multipart request body into a dict."""
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        return data if isinstance(data, dict) else {"_json": data}
    if ctype == "multipart/form-data":
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            out[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
        return out
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent senders on loopback

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client hang-ups
        pass


def _make_handler(mock: MockSlack) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            if parts.path.startswith("/upload/"):  # a file's raw bytes, not a form: answered in plain text
                status, text = mock.receive_upload(parts.path, body)
                out = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            try:
                params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
                params.update(parse_body(headers.get("content-type", ""), body))
                for key in _JSON_PARAMS:
                    if isinstance(params.get(key), str) and params[key][:1] in "[{":
                        params[key] = json.loads(params[key])
            except (ValueError, UnicodeDecodeError):
                status, extra, payload = 200, {}, {"ok": False, "error": "invalid_json"}
            else:
                status, extra, payload = mock.handle(re.sub(r"/+", "/", parts.path), params, headers)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

    return _Handler
