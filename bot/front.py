"""The HTTP front: a small process that acknowledges Slack's requests, in front of the bot process.

Slack wants every request acknowledged within 3 seconds, and a slow ack makes it retry. In one Python process the
threads that acknowledge share the interpreter lock with the threads that compute answers, so under load acks wait
behind answers. `kam run --http` therefore starts this front as its own process on the public address:

* an Events API delivery of a handled type is checked (signature, body), journalled in the database (bot/inbox.py,
  when DATABASE_URL is given), answered 200, then forwarded to the bot process (retried while the bot is
  restarting); a delivery already journalled is acked and dropped. Since Slack never resends an acknowledged
  event, the journal is what survives this front dying before the forward: the bots take on journalled events
  nobody forwarded (bot/http.py, `SlackWSGI.recover`);
* everything else (slash commands, buttons, modals, url_verification, unknown events) is forwarded as is and the
  bot's reply is relayed, since bolt's reply is the answer Slack shows. The bot process journals a slash command
  before its ack (the front does not: the command is not acknowledged until the bot has it).

The forwarded request keeps Slack's own headers, so the bot verifies the signature again. The front imports nothing
of the knowledge base: it starts in a blink and stays small.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import logging
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from bot.http import EVENTS_PATH, MAX_BODY, ReplayGuard, StartResponse, _reply, event_callback, validate
from bot.inbox import Inbox

log = logging.getLogger("kam.bot.front")

FORWARDED_HEADERS = ("Content-Type", "X-Slack-Request-Timestamp", "X-Slack-Signature", "X-Slack-Retry-Num",
                     "X-Slack-Retry-Reason", "User-Agent")
RETRY_FOR = 120.0  # seconds a queued event is retried while the bot is unreachable (Slack's signature lasts 300)


class SeenEvents:
    """Event ids forwarded recently (bounded, oldest dropped first)."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True


class Backend:
    """HTTP/1.1 to the bot process, one keep-alive connection per thread."""

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or EVENTS_PATH
        self.timeout = timeout
        self._local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):  # a kept-alive connection the bot closed meanwhile: reconnect once
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Backends:
    """Several bot workers (`kam front --backend URL --backend URL ...`): each request goes to the next one in turn,
    and one that cannot be reached is skipped. Workers share the database, so its event dedup answers each once."""

    def __init__(self, urls: list[str]):
        if not urls:
            raise ValueError("at least one backend URL")
        self.backends = [Backend(u) for u in urls]
        self._turn = itertools.count()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        start = next(self._turn)
        error: Exception | None = None
        for i in range(len(self.backends)):
            try:
                return self.backends[(start + i) % len(self.backends)].post(body, headers)
            except (OSError, http.client.HTTPException) as exc:
                error = exc
        assert error is not None
        raise error


class Front:
    """The front's WSGI app plus the threads that forward acknowledged events."""

    def __init__(self, backend_url: str | list[str], signing_secret: str, forwarders: int = 4,
                 journal: Inbox | None = None):
        from slack_sdk.signature import SignatureVerifier

        self.journal = journal
        self.backend = Backends([backend_url] if isinstance(backend_url, str) else list(backend_url))
        self.verifier = SignatureVerifier(signing_secret)
        self.replays = ReplayGuard()
        self.seen = SeenEvents()
        self.queue: queue.Queue[tuple[bytes, dict[str, str], float] | None] = queue.Queue()
        self.forwarded = 0
        self._pending = 0  # queued or being forwarded
        self._idle = threading.Condition()
        self._threads = [threading.Thread(target=self._forward_loop, name=f"kam-forward-{i}", daemon=True)
                         for i in range(max(1, forwarders))]
        for t in self._threads:
            t.start()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _reply(start_response, "200 OK", {"ok": True, "queued": self.queue.qsize()})
        checked = validate(environ, self.verifier, path=EVENTS_PATH, replays=self.replays)
        if isinstance(checked, tuple):
            status, error, extra = checked
            return _reply(start_response, status, {"error": error}, extra)
        body: bytes = checked
        headers = {h: environ[key] for h in FORWARDED_HEADERS
                   if (key := "CONTENT_TYPE" if h == "Content-Type" else "HTTP_" + h.upper().replace("-", "_"))
                   in environ}
        delivery = event_callback(environ, body)
        if delivery is not None:
            event_id = delivery.get("event_id")
            if self.journal is not None and event_id:
                try:  # written before the 200: after that Slack will not send it again
                    new = self.journal.add(f"event:{event_id}", body.decode("utf-8"))
                except Exception:
                    log.exception("could not journal event %s; Slack will resend it", event_id)
                    return _reply(start_response, "503 Service Unavailable", {"error": "try again"})
            else:
                new = not event_id or self.seen.first(event_id)
            if new:
                with self._idle:
                    self._pending += 1
                self.queue.put((body, headers, time.monotonic()))
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        try:
            status, reply_headers, reply = self.backend.post(body, headers)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("bot process unreachable: %s", exc)
            return _reply(start_response, "502 Bad Gateway", {"error": "the bot is not running"})
        keep = [(k, v) for k, v in reply_headers if k.lower() in ("content-type", "content-length")]
        start_response(f"{status} {http.client.responses.get(status, '')}".strip(), keep)
        return [reply]

    def _forward_loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                self._forward(*item)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _forward(self, body: bytes, headers: dict[str, str], queued_at: float) -> None:
        """Hand one event to the bot, retrying while it is unreachable (a restart), for up to RETRY_FOR s."""
        delay = 0.2
        while True:
            try:
                status, _, reply = self.backend.post(body, headers)
            except (OSError, http.client.HTTPException) as exc:
                if time.monotonic() - queued_at > RETRY_FOR:
                    log.error("the bot was unreachable for %.0f s (%s): %s", RETRY_FOR, exc,
                              "the bots take the event from the journal when they are back" if self.journal
                              else "event dropped")
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if status >= 400:
                log.warning("bot refused a forwarded event: %s %s", status, reply[:200])
            self.forwarded += 1
            return

    def wait_forwarded(self, timeout: float = 10.0) -> bool:
        """True once every acknowledged event has been handed to the bot (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        for _ in self._threads:
            self.queue.put(None)


def serve(front: Front, host: str, port: int, threads: int = 16):  # noqa: ANN201
    """A waitress server for the front (not yet running); `.run()` serves, `.effective_port` tells the port."""
    from waitress.server import create_server

    return create_server(front, host=host, port=port, threads=max(1, threads),
                         ident="kam-front", backlog=1024, connection_limit=1000, clear_untrusted_proxy_headers=True,
                         max_request_body_size=MAX_BODY)


def _journal() -> Inbox | None:
    """The inbox on the bots' database (DATABASE_URL, set by `kam run --http` and `kam front`), else none: acked
    events then live in memory only until forwarded."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        log.warning("DATABASE_URL is not set: acknowledged events are not journalled (lost if this front dies)")
        return None
    from knowledge.db import make_engine

    return Inbox(make_engine(url), busy_seconds=float(os.environ.get("KAM_DB_BUSY_SECONDS") or 120))


def _exit_with_parent() -> None:
    """The parent (`kam run`) holds our stdin open; when it goes, so do we."""
    sys.stdin.buffer.read()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="kam-bot HTTP front (started by `kam run --http`)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--backend", required=True, action="append",
                        help="a bot process's events URL (repeat for several workers; requests take turns)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--with-parent", action="store_true", help="exit when stdin closes")
    args = parser.parse_args(argv)
    secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    if not secret:
        raise SystemExit("SLACK_SIGNING_SECRET is not set")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = serve(Front(args.backend, secret, journal=_journal()), args.host, args.port, args.threads)
    if args.with_parent:
        threading.Thread(target=_exit_with_parent, daemon=True).start()
    print(f"listening {server.effective_host}:{server.effective_port}", flush=True)  # type: ignore[union-attr]
    server.run()


if __name__ == "__main__":
    main()
