"""Slack's Socket Mode, played on 127.0.0.1 for the mock Slack (bot/mock_slack.py) and `kam slack-sim`.

The real protocol, as slack_sdk's Socket Mode client speaks it: the app calls `apps.connections.open` with its app
token (xapp-...) and gets a WebSocket URL; Slack says `hello`, then pushes envelopes
`{"envelope_id", "type": events_api | slash_commands | interactive, "payload", "accepts_response_payload",
"retry_attempt", "retry_reason"}`; the app acknowledges each by sending back `{"envelope_id", "payload"?}`. An
envelope that is not acknowledged is sent again by Slack (`retry_attempt` + 1), which `send(..., retry_attempt=N)`
lets a test do by hand.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class SocketModeServer:
    """The WebSocket half of Slack's Socket Mode; records every acknowledgement it gets."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.acks: dict[str, dict[str, Any]] = {}  # envelope_id -> what the app sent back
        self.connections: list[ServerConnection] = []
        self._cond = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SocketModeServer:
        if self._server is None:
            self._server = serve(self._session, "127.0.0.1", 0)
            self._thread = threading.Thread(target=self._server.serve_forever, name="mock-socket-mode", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket={uuid.uuid4().hex}"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": self.app_id},
                            "debug_info": {"host": "mock-slack", "approximate_connection_time": 3600}}))
        with self._cond:
            self.connections.append(ws)
            self._cond.notify_all()
        try:
            for message in ws:
                data = json.loads(message)
                if isinstance(data, dict) and data.get("envelope_id"):
                    with self._cond:
                        self.acks[str(data["envelope_id"])] = data
                        self._cond.notify_all()
        except (ConnectionClosed, ValueError):
            pass
        finally:
            with self._cond:
                if ws in self.connections:
                    self.connections.remove(ws)
                self._cond.notify_all()

    def wait_connected(self, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.connections), timeout)

    def send(self, kind: str, payload: dict[str, Any], *, envelope_id: str | None = None, retry_attempt: int = 0,
             retry_reason: str = "") -> str:
        """Push one envelope to the newest connection; returns its envelope_id."""
        envelope_id = envelope_id or uuid.uuid4().hex
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": retry_attempt,
                    "retry_reason": retry_reason}
        with self._cond:
            if not self.connections:
                raise RuntimeError("no app is connected over Socket Mode")
            ws = self.connections[-1]
        ws.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any] | None:
        """What the app acknowledged `envelope_id` with (None if it did not within `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in self.acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self.acks[envelope_id]
