"""HTTP mode: the bolt App behind its WSGI adapter, served by waitress at /slack/events.

A thin WSGI layer in front of bolt turns bad requests into the right 4xx before bolt sees them: a missing, bad or
stale signature -> 401, a body that is not the JSON or form Slack sends -> 400, a wrong method -> 405, anything
else -> 404, an oversized body -> 413. Bolt answers unknown event types with 404 itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

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


def body_error(content_type: str, body: bytes) -> str | None:
    """Why `body` is not a body Slack sends (JSON object, or a form with an optional JSON `payload`), or None."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if kind == "application/json":
            if not isinstance(json.loads(text), dict):
                return "JSON body must be an object"
        elif kind == "application/x-www-form-urlencoded":
            form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
            if "payload" in form and not isinstance(json.loads(form["payload"][0]), dict):
                return "payload must be a JSON object"
            if not form:
                return "empty form body"
        else:
            return f"unsupported content type {kind or '(none)'}"
    except UnicodeDecodeError:
        return "body is not UTF-8"
    except ValueError as exc:
        return f"malformed body: {exc}"
    return None


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


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    headers["content-type"] = environ.get("CONTENT_TYPE", "")
    return headers


Refusal = tuple[str, str, list[tuple[str, str]]]  # (HTTP status, error message, extra headers)


def validate(environ: dict[str, Any], verifier: SignatureVerifier, path: str = EVENTS_PATH) -> bytes | Refusal:
    """The request's body if it is a well-formed, correctly signed, fresh Slack request; else why not."""
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
    return body


class SlackWSGI:
    """WSGI app: validates requests, then hands them to bolt's WSGI adapter."""

    def __init__(self, app: App, signing_secret: str, path: str = EVENTS_PATH, executor: Executor | None = None):
        self.path = path
        self.app = app
        self.bolt = SlackRequestHandler(app, path)
        self.verifier = SignatureVerifier(signing_secret)
        self.executor = executor  # set: handled events are dispatched there after the ack

    def _dispatch(self, request: BoltRequest) -> None:
        try:
            response = self.app.dispatch(request)
            if response.status >= 400:
                log.warning("event not handled: %s %s", response.status, response.body[:200])
        except Exception:
            log.exception("event dispatch failed")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == "/healthz":
            return _reply(start_response, "200 OK", {"ok": True})
        checked = validate(environ, self.verifier, self.path)
        if isinstance(checked, tuple):
            status, error, extra = checked
            return _reply(start_response, status, {"error": error}, extra)
        body = checked
        if self.executor is not None and event_callback(environ, body) is not None:
            # Events API: Slack only needs the 200. bolt's dispatch (its own checks, the in-memory dedup, the
            # listener) runs in the listener pool, so this thread's work per event stays a signature check.
            request = BoltRequest(body=body.decode("utf-8"), headers=_headers(environ))
            self.executor.submit(self._dispatch, request)
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        environ["wsgi.input"] = io.BytesIO(body)
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
        self.wsgi = SlackWSGI(app, signing_secret, executor=workers.listeners if workers else None)
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
        self.server.run()

    def start(self) -> BotServer:
        self._thread = threading.Thread(target=self.server.run, name="kam-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
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
        server.trigger.pull_trigger(close_all)
        thread.join(timeout=5)
    else:
        close_all()
    server.task_dispatcher.shutdown()
