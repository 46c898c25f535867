"""The Web API side shared by the app and the notifier: a WebClient with retries, per-channel pacing and
Slack user -> person resolution."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from knowledge.profile import Person
from knowledge.settings import Settings
from knowledge.store import Store

log = logging.getLogger("kam.bot")


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    """WebClient on SLACK_API_URL; 429s wait for Retry-After, dropped connections and 5xx are retried."""
    retries = max(0, settings.kam_slack_retries)
    return WebClient(
        token=token or settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ConnectionErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries),
        ],
    )


class ChannelPacer:
    """At most one post per `interval` seconds per channel (Slack's ~1 message/s/channel), across threads.

    Each caller reserves the next free slot of its channel and sleeps until then, so concurrent senders to the same
    channel queue up in order while other channels are not held back.
    """

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = max(0.0, interval)
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> float:
        """Block until `channel` may receive a post; returns the seconds waited."""
        if self.interval <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self.interval
            if len(self._next) > 10_000:  # forget channels idle for a while
                self._next = {c: t for c, t in self._next.items() if t > now}
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


_pacers: dict[float, ChannelPacer] = {}
_pacers_lock = threading.Lock()


def shared_pacer(interval: float) -> ChannelPacer:
    """One pacer per process and interval, so the app's answers and the notifier's posts share the budget."""
    with _pacers_lock:
        if interval not in _pacers:
            _pacers[interval] = ChannelPacer(interval)
        return _pacers[interval]


class PeopleResolver:
    """Slack user id -> Person: by `slack_id` in people.yaml, else by the email users.info reports.

    Only Slack's answer (user id -> email) is cached, for `ttl` seconds, so each message costs no Web API call.
    The person (their role, whether they are listed at all) is read from the store every time: someone removed
    from people.yaml loses access with the next message, not minutes later.
    """

    def __init__(self, store: Store, client: WebClient, ttl: float = 300.0):
        self.store, self.client, self.ttl = store, client, ttl
        self._emails: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def person(self, user_id: str) -> Person | None:
        if not user_id:
            return None
        found = self.store.person(user_id)
        if found is None:
            email = self._cached_email(user_id)
            found = self.store.person(email) if email else None
        return found

    def _cached_email(self, user_id: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            hit = self._emails.get(user_id)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        email = self.email_of(user_id)
        with self._lock:
            if len(self._emails) > 100_000:  # bound memory
                self._emails.clear()
            self._emails[user_id] = (now, email)
        return email

    def email_of(self, user_id: str) -> str | None:
        try:
            info = self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
            return None
        user: dict[str, Any] = info.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return None
        return (user.get("profile") or {}).get("email")

    def slack_id_of(self, ident: str) -> str | None:
        """A Slack user id for an email or id: people.yaml first, then users.lookupByEmail."""
        if ident[:1] in ("U", "W") and "@" not in ident:
            return ident
        person = self.store.person(ident)
        if person and person.slack_id:
            return person.slack_id
        try:
            found = self.client.users_lookupByEmail(email=ident)
        except SlackApiError as exc:
            log.warning("users.lookupByEmail %s failed: %s", ident, exc.response.get("error"))
            return None
        return (found.get("user") or {}).get("id")
