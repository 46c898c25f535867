"""The Notifier that really sends: DMs (conversations.open on the person's Slack id) and channel posts, paced per
channel and retried on rate limits and dropped connections (by the shared WebClient's retry handlers)."""

from __future__ import annotations

import threading
from typing import Any

from slack_sdk import WebClient

from bot.notifier import Sent
from bot.render_answer import MAX_BLOCKS
from bot.slack_client import ChannelPacer, PeopleResolver, make_client, shared_pacer
from knowledge.settings import Settings
from knowledge.store import Store


class NotDeliverable(LookupError):
    """The recipient has no Slack account we can find (not in people.yaml and unknown to users.lookupByEmail)."""


class SlackNotifier:
    """Implements bot.notifier.Notifier over the Slack Web API."""

    def __init__(self, settings: Settings, store: Store, client: WebClient | None = None,
                 pacer: ChannelPacer | None = None):
        self.settings, self.store = settings, store
        self.client = client or make_client(settings)
        self.pacer = pacer or shared_pacer(settings.kam_slack_channel_interval)
        self.people = PeopleResolver(store, self.client)
        self._dm_channels: dict[str, str] = {}
        self._lock = threading.Lock()

    def dm_channel(self, person: str) -> str:
        """The DM channel id with a person given by email or Slack user id (opened once, then cached)."""
        with self._lock:
            if person in self._dm_channels:
                return self._dm_channels[person]
        user_id = self.people.slack_id_of(person)
        if not user_id:
            raise NotDeliverable(f"no Slack user found for {person!r}: add slack_id to people.yaml")
        channel = str(self.client.conversations_open(users=user_id)["channel"]["id"])
        with self._lock:
            self._dm_channels[person] = channel
        return channel

    def already_sent(self, person: str, ledger_ids: list[int]) -> Sent | None:
        """A message for one of these delivery-ledger rows already in the person's DM (its blocks carry the row
        ids: `nudge:<id>`, `delivery:<id>`), or None. Asked before re-sending rows a crashed run had claimed."""
        wanted = {f"{prefix}:{i}" for i in ledger_ids for prefix in ("nudge", "nudge_text", "delivery")}
        channel = self.dm_channel(person)
        for m in self.client.conversations_history(channel=channel, limit=200).get("messages") or []:
            if any(b.get("block_id") in wanted for b in m.get("blocks") or []):
                return Sent(channel, str(m["ts"]))
        return None

    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        return self.post_channel(self.dm_channel(person), text, blocks)

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        """Post; more than 50 blocks go out as several messages in order (the first one's ts is returned)."""
        parts = [blocks[i:i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)] if blocks else [None]
        first: Sent | None = None
        for part in parts:
            self.pacer.wait(channel)
            kwargs: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
            if part:
                kwargs["blocks"] = part
            resp = self.client.chat_postMessage(**kwargs)
            sent = Sent(str(resp["channel"]), str(resp["ts"]))
            first = first or sent
        assert first is not None
        return first

    def upload_png(self, data: bytes, filename: str, title: str, alt: str) -> str:
        """Upload a chart for image blocks (files.getUploadURLExternal + files.completeUploadExternal)."""
        from bot.kpi_slack import upload_png

        return upload_png(self.client, data, filename, title, alt)
