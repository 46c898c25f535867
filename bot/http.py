"""HTTP mode: the bolt App behind its WSGI adapter, served by waitress at /slack/events.

A thin WSGI layer in front of bolt turns bad requests into the right 4xx before bolt sees them: a missing, bad or
stale signature -> 401, a body that is not the JSON or form Slack sends -> 400, a wrong method -> 405, anything
else -> 404, an oversized body -> 413. Bolt answers unknown event types with 404 itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.inbox import Inbox
from knowledge import limits
from knowledge.db import utcnow

log = logging.getLogger("kam.bot.http")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are far smaller; refuse anything larger unread

StartResponse = Callable[..., Any]


def _reply(start_response: StartResponse, status: str, body: dict[str, Any],
           extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                            *(extra or [])])
    return [data]


MAX_BODY_DEPTH = 64  # JSON nesting; Slack's deepest payloads (views, rich text) use about a dozen levels
RESPONSE_URL_LIFE = dt.timedelta(minutes=30)  # Slack accepts answers at a command's response_url this long
COMMAND_MARGIN = dt.timedelta(minutes=2)  # a command taken on again later than this before it expires is not run
REPLAY_WINDOW = 360.0  # seconds a form request's signature is remembered: Slack's 5-minute window plus clock skew

# Fields the handlers read from each handled event: without them an acknowledged event could not be answered, so
# such a delivery is refused (400, naming the field) instead of being acknowledged and dropped.
EVENT_FIELDS = {"app_mention": ("user", "channel", "ts"), "message": ("channel", "ts"), "app_home_opened": ("user",)}


def _object(text: str, what: str) -> dict[str, Any]:
    """Parse a JSON object without ever recursing past MAX_BODY_DEPTH (deep nesting is refused first)."""
    deep = limits.json_depth_error(text, MAX_BODY_DEPTH)
    if deep:
        raise ValueError(f"{what} {deep[0]}")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object")
    return data


def shape_error(data: dict[str, Any]) -> str | None:
    """Why a parsed Events API body cannot be handled (a field missing or of the wrong type), or None."""
    if not isinstance(data.get("type", ""), str):
        return "type must be a string"
    event = data.get("event")
    if ("event" in data or data.get("type") == "event_callback") and not isinstance(event, dict):
        return "event must be an object"  # bolt's own middleware reads event.get(...) on any body
    if data.get("type") != "event_callback":
        return None
    if not isinstance(event.get("type"), str):
        return "event.type must be a string"
    if not isinstance(data.get("event_id", ""), str):
        return "event_id must be a string"
    for name in EVENT_FIELDS.get(event["type"], ()):
        if not isinstance(event.get(name), str) or not event[name]:
            return f"event.{name} is missing or not a string"
    for name in ("text", "thread_ts", "subtype", "channel_type", "tab"):
        if name in event and event[name] is not None and not isinstance(event[name], str):
            return f"event.{name} must be a string"
    return None


def body_error(content_type: str, body: bytes) -> str | None:
    """Why `body` is not a body Slack sends (JSON object, or a form with an optional JSON `payload`), or None."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if kind == "application/json":
            return shape_error(_object(text, "JSON body"))
        if kind == "application/x-www-form-urlencoded":
            form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
            if "payload" in form:
                payload = _object(form["payload"][0], "payload")
                if not isinstance(payload.get("type"), str) or not isinstance(payload.get("user", {}), dict):
                    return "payload.type and payload.user are malformed"
            elif "command" in form and not form.get("user_id", [""])[0]:
                return "user_id is missing"
            if not form:
                return "empty form body"
            return None
        return f"unsupported content type {kind or '(none)'}"
    except UnicodeDecodeError:
        return "body is not UTF-8"
    except (ValueError, RecursionError) as exc:
        return f"malformed body: {str(exc)[:200]}"


class ReplayGuard:
    """Signatures of form requests (slash commands, buttons, modals) seen in the last REPLAY_WINDOW seconds.

    A signature stays valid for Slack's 5-minute window, so a captured request could be sent again and run the
    command again. Slack never resends these (events, which it does retry, are deduplicated by event id), so a
    signature seen twice is a replay."""

    def __init__(self, window: float = REPLAY_WINDOW, size: int = 200_000):
        self.window, self.size = window, size
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(signature)
            if seen is not None and now - seen < self.window:
                return False
            self._seen[signature] = now
            if len(self._seen) > self.size:  # forget expired ones; if all are fresh, the oldest half
                fresh = {k: t for k, t in self._seen.items() if now - t < self.window}
                self._seen = fresh if len(fresh) <= self.size // 2 else dict(
                    sorted(fresh.items(), key=lambda kv: kv[1])[len(fresh) // 2:])
            return True


# Event types the app subscribes to (manifest.json) and answers; any other goes through bolt, which says 404.
BACKGROUND_EVENTS = frozenset({"app_mention", "message", "app_home_opened"})


def event_callback(environ: dict[str, Any], body: bytes) -> dict[str, Any] | None:
    """The parsed body if it is a JSON Events API delivery of a handled type (not url_verification, not a form:
    commands and actions need bolt's reply); else None."""
    if not environ.get("CONTENT_TYPE", "").lower().startswith("application/json"):
        return None
    data = json.loads(body)
    event = data.get("event")
    handled = (data.get("type") == "event_callback" and isinstance(event, dict)
               and event.get("type") in BACKGROUND_EVENTS)
    return data if handled else None


def slash_command(environ: dict[str, Any], body: bytes) -> dict[str, str] | None:
    """The fields of a slash command (a form with `command` and a `trigger_id`, new for every invocation), else
    None (buttons, modals and everything else)."""
    if not environ.get("CONTENT_TYPE", "").lower().startswith("application/x-www-form-urlencoded"):
        return None
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    return form if form.get("command") and form.get("trigger_id") and "payload" not in form else None


FORM = "application/x-www-form-urlencoded"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    headers["content-type"] = environ.get("CONTENT_TYPE", "")
    return headers


Refusal = tuple[str, str, list[tuple[str, str]]]  # (HTTP status, error message, extra headers)


def validate(environ: dict[str, Any], verifier: SignatureVerifier, path: str = EVENTS_PATH,
             replays: ReplayGuard | None = None) -> bytes | Refusal:
    """The request's body if it is a well-formed, correctly signed, fresh Slack request, not a replay of a form
    request seen before; else why not."""
    if environ.get("PATH_INFO", "") != path:
        return "404 Not Found", "not found", []
    if environ.get("REQUEST_METHOD", "GET") != "POST":
        return "405 Method Not Allowed", "POST only", [("Allow", "POST")]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", "bad Content-Length", []
    if length > MAX_BODY:
        return "413 Payload Too Large", "body too large", []
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE")
    if not timestamp or not signature:
        return "401 Unauthorized", "missing Slack signature headers", []
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "400 Bad Request", "body is not UTF-8", []
    try:
        valid = verifier.is_valid(body, timestamp, signature)  # also rejects timestamps older than 5 min
    except ValueError:  # a timestamp that is not a number
        valid = False
    if not valid:
        return "401 Unauthorized", "invalid or stale request signature", []
    problem = body_error(environ.get("CONTENT_TYPE", ""), body)
    if problem:
        return "400 Bad Request", problem, []
    is_form = environ.get("CONTENT_TYPE", "").lower().startswith("application/x-www-form-urlencoded")
    if replays is not None and is_form and not replays.first(signature):
        return "401 Unauthorized", "replayed request: this signature was already used", []
    return body


class SlackWSGI:
    """WSGI app: validates requests, then hands them to bolt's WSGI adapter.

    With a `journal` (bot/inbox.py) every handled event is written to the database before it is acknowledged, and
    a background loop (`start_recovery`) takes on again events whose process died or whose listener failed."""

    def __init__(self, app: App, signing_secret: str, path: str = EVENTS_PATH, executor: Executor | None = None,
                 journal: Inbox | None = None):
        self.path = path
        self.app = app
        self.bolt = SlackRequestHandler(app, path)
        self.verifier = SignatureVerifier(signing_secret)
        self.replays = ReplayGuard()
        self.executor = executor  # set: handled events are dispatched there after the ack
        self.journal = journal
        self.ctx: Any = getattr(app, "kam_context", None)
        if journal is not None and self.ctx is not None:
            self.ctx.journal = journal
        self._stop = threading.Event()
        self._recovery: threading.Thread | None = None

    def _dispatch(self, request: BoltRequest, key: str | None = None) -> None:
        try:
            response = self.app.dispatch(request)
            if response.status >= 400:
                log.warning("event not handled: %s %s", response.status, response.body[:200])
                if self.journal is not None and key and key.startswith("command:") and self.ctx is not None:
                    # a command taken on again whose listener failed: the asker saw the ack and waits
                    form = {k: v[0] for k, v in parse_qs(str(request.raw_body), keep_blank_values=True).items()}
                    self.ctx.give_up_command(form, f"it could not be handled ({response.status})", False)
                elif self.journal is not None and key:  # no listener will ever take it: nothing to answer
                    self.journal.finish(key)
        except Exception:
            log.exception("event dispatch failed")
            if self.journal is not None and key:
                self.journal.retry_later(key, 1.0)

    # ------------------------------------------------------------------ the journal
    def _max_attempts(self) -> int:
        return int(self.ctx.settings.kam_bot_retries) if self.ctx is not None else 3

    def _run(self, key: str, attempt: int, body: str, headers: dict[str, str]) -> None:
        """Dispatch a taken-on event in the listener pool, or give it up after its last attempt."""
        assert self.executor is not None
        if key.startswith("command:") and attempt > 1:
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            received = self.journal.received_at(key) if self.journal is not None else None
            expired = received is not None and utcnow() - received > RESPONSE_URL_LIFE - COMMAND_MARGIN
            if expired or attempt > self._max_attempts():
                why = "it waited longer than Slack lets me answer" if expired else "it kept failing on my side"
                self.executor.submit(self.ctx.give_up_command, form, why, expired)
                return
        elif attempt > self._max_attempts():  # every earlier attempt died or failed: a poison event
            data = json.loads(body)
            self.executor.submit(self.ctx.give_up, data, f"taken on {attempt - 1} times without an answer")
            return
        self.executor.submit(self._dispatch, BoltRequest(body=body, headers=headers), key)

    def recover(self) -> int:
        """Take on journalled events nobody is working on (their process died, their retry pause is over). The
        body is signed again with our own secret: Slack's signature is older than the 5 minutes bolt accepts."""
        assert self.journal is not None
        taken = 0
        for key in self.journal.due():
            attempt = self.journal.claim(key)
            body = self.journal.body(key) if attempt is not None else None
            if attempt is None or body is None:
                continue  # another process was quicker
            log.info("taking on journalled event %s again (attempt %d)", key, attempt)
            timestamp = str(int(time.time()))
            kind = FORM if key.startswith("command:") else "application/json"
            headers = {"content-type": kind, "x-slack-request-timestamp": timestamp,
                       "x-slack-signature": self.verifier.generate_signature(timestamp=timestamp, body=body)}
            self._run(key, attempt, body, headers)
            taken += 1
        return taken

    def start_recovery(self, poll: float = 1.0) -> None:
        """The loop that renews this process's leases, takes on orphaned events and prunes finished ones."""
        if self.journal is None or self.executor is None or self._recovery is not None:
            return
        journal, ctx = self.journal, self.ctx
        beat = journal.lease.total_seconds() / 3

        def loop() -> None:
            last_beat = last_prune = 0.0
            while not self._stop.wait(min(poll, beat)):
                try:
                    now = time.monotonic()
                    if now - last_beat >= beat:
                        journal.heartbeat()
                        if ctx is not None:
                            ctx.state.heartbeat()
                        last_beat = now
                    self.recover()
                    if now - last_prune >= 600 and ctx is not None:
                        journal.prune(ctx.state.ttl)
                        last_prune = now
                except Exception:
                    log.exception("journal recovery failed; trying again")

        self._recovery = threading.Thread(target=loop, name="kam-journal", daemon=True)
        self._recovery.start()

    def stop_recovery(self) -> None:
        self._stop.set()
        if self._recovery is not None:
            self._recovery.join(10)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == "/healthz":
            return _reply(start_response, "200 OK", {"ok": True})
        checked = validate(environ, self.verifier, self.path, self.replays)
        if isinstance(checked, tuple):
            status, error, extra = checked
            return _reply(start_response, status, {"error": error}, extra)
        body = checked
        delivery = event_callback(environ, body) if self.executor is not None else None
        if delivery is not None:
            # Events API: Slack only needs the 200. bolt's dispatch (its own checks, the listener) runs in the
            # listener pool. Slack never resends an acknowledged event, so it is journalled before the 200.
            assert self.executor is not None
            text = body.decode("utf-8")
            key = f"event:{delivery['event_id']}" if delivery.get("event_id") else None
            if self.journal is not None and key:
                try:
                    attempt = self.journal.accept(key, text)
                except Exception:
                    log.exception("could not journal event %s; Slack will resend it", key)
                    return _reply(start_response, "503 Service Unavailable", {"error": "try again"})
                if attempt is not None:  # None: a resend of an event that is done or in the works
                    self._run(key, attempt, text, _headers(environ))
            else:
                self.executor.submit(self._dispatch, BoltRequest(body=text, headers=_headers(environ)))
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        command = slash_command(environ, body) if self.journal is not None and self.executor else None
        key = f"command:{command['trigger_id']}" if command else None
        if key is not None:
            # a slash command is acknowledged now and answered later at its response_url: journalled before the
            # 200 like an event, so that a process dying before the answer is not the end of it
            assert self.journal is not None
            try:
                if self.journal.accept(key, body.decode("utf-8")) is None:  # seen before (replay guard aside)
                    start_response("200 OK", [("Content-Length", "0")])
                    return [b""]
            except Exception:  # Slack does not resend commands: answer it anyway, unjournalled
                log.exception("could not journal command %s; answering it without the journal", key)
                key = None
        environ["wsgi.input"] = io.BytesIO(body)
        if key is not None:
            journal, outer = self.journal, start_response

            def start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:  # noqa: F811
                if not status.startswith("2"):  # not acknowledged (listener raised, no listener): Slack says so
                    assert journal is not None
                    with contextlib.suppress(Exception):
                        journal.fail(key, f"not acknowledged: {status}")
                return outer(status, headers, *args)
        try:
            return self.bolt(environ, start_response)
        except Exception:  # never let one request take the server down
            log.exception("request failed")
            return _reply(start_response, "500 Internal Server Error", {"error": "internal error"})


class BotServer:
    """waitress serving SlackWSGI; `start()` runs it in a thread (tests, `kam run --http`), `stop()` ends it."""

    def __init__(self, app: App, signing_secret: str, host: str = "127.0.0.1", port: int = 3000,
                 threads: int = 16):
        from waitress.server import create_server

        workers = getattr(app, "kam_executor", None)  # bot.app.Workers, on apps made by create_app
        ctx = getattr(app, "kam_context", None)
        journal = None if ctx is None else Inbox(ctx.store.engine, ctx.settings.kam_slack_event_lease,
                                                 ctx.settings.kam_db_busy_seconds)
        self.wsgi = SlackWSGI(app, signing_secret, executor=workers.listeners if workers else None, journal=journal)
        self.server = create_server(self.wsgi, host=host, port=port, threads=max(1, threads), ident="kam-bot",
                                    backlog=1024, connection_limit=1000, clear_untrusted_proxy_headers=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.port}{EVENTS_PATH}"  # type: ignore[union-attr]

    def serve_forever(self) -> None:
        self.wsgi.start_recovery()  # at once: events a crashed process journalled are answered now
        self.server.run()

    def start(self) -> BotServer:
        self.wsgi.start_recovery()
        self._thread = threading.Thread(target=self.server.run, name="kam-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.wsgi.stop_recovery()
        stop_waitress(self.server, self._thread)
        self._thread = None


def stop_waitress(server: Any, thread: threading.Thread | None) -> None:
    """Close the listener and every connection from inside the server's own loop (closing sockets from another
    thread while it polls them fails), wait for it to end, then stop the request threads."""

    def close_all() -> None:
        for channel in list(server._map.values()):  # listener, clients, trigger
            with contextlib.suppress(OSError):
                channel.close()

    if thread is not None:
        try:
            server.trigger.pull_trigger(close_all)
        except OSError:  # the loop's trigger is already gone (the loop ended): close from here
            close_all()
        thread.join(timeout=5)
    else:
        close_all()
    server.task_dispatcher.shutdown()
