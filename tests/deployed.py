"""`kam` processes as a deployment runs them (real processes, real HTTP, tokens set, SLACK_API_URL at the mock
Slack), for the tests that kill them: start, wait until they listen, kill -9, restart."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bot.runtime import PLACEHOLDER
from tests.conftest import ROOT, backend_env
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kam_env(home: Path, mock: MockSlack, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_", "OPENAI_", "DATABASE_URL"))}
    env.update(KAM_HOME=str(home), SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=mock.base_url, KAM_SLACK_CHANNEL_INTERVAL="0", KAM_RUN_SCHEDULER="false",
               **backend_env(home), **extra)
    return env


class Proc:
    """One `kam ...` subprocess, its output in a log file; `kill9()` and `start()` again as often as needed."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path, url: str | None = None):
        self.name, self.args, self.env, self.url = name, args, env, url
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, wait: float | None = 120.0) -> Proc:
        """Start it; with a URL, wait until it listens (`wait=None`: return at once)."""
        log = open(self.log_path, "a")  # noqa: SIM115 - the child writes it
        log.write(f"--- start {self.starts + 1}\n")
        log.flush()
        # its own process group: kill -9 also takes a child it started (the HTTP front of `kam run --http`)
        self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", *self.args], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.starts += 1
        if self.url and wait:
            self.wait_listening(wait)
        return self

    def wait_listening(self, timeout: float) -> None:
        health = self.url.replace("/slack/events", "/healthz")  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, f"{self.name} exited:\n{self.log()}"
            with contextlib.suppress(OSError):
                if sr.post(health, b"", timeout=2)[0] in (200, 405):
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not listen within {timeout} s:\n{self.log()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def replies_per_thread(mock: MockSlack) -> Counter:
    """Replies Slack shows per thread ts: posts other than the placeholder, plus placeholders turned into an
    answer (a placeholder left alone is not an answer)."""
    per: Counter = Counter()
    placeholder: dict[str, str] = {}
    for c in mock.calls("chat.postMessage"):
        if not c.response.get("ok"):
            continue
        if c.params.get("text") == PLACEHOLDER:
            placeholder[c.response["ts"]] = c.params.get("thread_ts")
        else:
            per[c.params.get("thread_ts")] += 1
    updated = {c.params["ts"] for c in mock.calls("chat.update") if c.response.get("ok")}
    for ts, thread in placeholder.items():
        if ts in updated:
            per[thread] += 1
    return per


def wait_replies(mock: MockSlack, threads: list[str], timeout: float, quiet: float = 1.0) -> Counter:
    """Wait until every thread has a reply (or the timeout), then a quiet moment that would show duplicates."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(replies_per_thread(mock)[t] for t in threads):
        time.sleep(0.2)
    time.sleep(quiet)
    return replies_per_thread(mock)
