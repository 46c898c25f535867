"""`kam scheduler` as deployments run it: a separate process with SLACK_BOT_TOKEN set, talking to the mock Slack.

Every mode (`--once sweep|digest|tier-review` and the long-running scheduler) must reach Slack; before issue 11 the
command could not even build its Slack notifier with a token configured.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler import ledger
from tests.conftest import ROOT, backend_env
from tests.fakes.mock_slack import MockSlack
from tests.test_scheduler import SLACK_IDS, ZONES

REPS = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]


@pytest.fixture()
def deployed(sample_kb):
    """A tiered sample home whose reps were last swept two weeks ago (a catch-up is due), and a mock Slack."""
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    settings, store, index = sample_kb
    index.close()  # the subprocess owns the data directory now
    today = dt.datetime.now(dt.UTC).date()
    review(store, load_config(config_path(settings)), by="test", today=today - dt.timedelta(days=1))
    for rep in REPS:
        ledger.set_progress(store, "nudges", rep, today - dt.timedelta(days=14))
    store.engine.dispose()
    with MockSlack() as mock:
        for email, uid in SLACK_IDS.items():
            mock.add_user(uid, email=email, tz=ZONES.get(email, "UTC"))
        yield settings.home, mock


def _env(home: Path, mock: MockSlack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_", "OPENAI_"))}
    env.update(KAM_HOME=str(home), SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=mock.base_url,
               KAM_SLACK_CHANNEL_INTERVAL="0", KAM_CATCHUP_DAYS="30", KAM_MANAGERS_CHANNEL="C0MANAGERS",
               **backend_env(home))
    return env


def _kam(home: Path, mock: MockSlack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=_env(home, mock),
                          capture_output=True, text=True, timeout=300)


def test_scheduler_once_with_a_bot_token_sends_through_slack(deployed) -> None:
    home, mock = deployed
    sweep = _kam(home, mock, "scheduler", "--once", "sweep", "--force")
    assert sweep.returncode == 0, sweep.stderr
    assert "Traceback" not in sweep.stderr
    posts = mock.calls("chat.postMessage")
    assert posts, sweep.stdout
    assert {p.params["channel"] for p in posts} <= {c.response["channel"]["id"]
                                                    for c in mock.calls("conversations.open")}
    assert f"sweep: {len(posts)} messages" in sweep.stdout
    assert all(c.token == "xoxb-test" for c in mock.calls())

    again = _kam(home, mock, "scheduler", "--once", "sweep", "--force")
    assert again.returncode == 0 and len(mock.calls("chat.postMessage")) == len(posts)  # exactly once

    digest = _kam(home, mock, "scheduler", "--once", "digest", "--force")
    assert digest.returncode == 0, digest.stderr
    assert "digest:" in digest.stdout and "Traceback" not in digest.stderr


def test_scheduler_once_tier_review_posts_changes_to_the_managers_channel(deployed) -> None:
    home, mock = deployed
    # a stricter config than yesterday's review: no account keeps high importance, so tiers change
    strict = home.parent / "strict.yaml"
    strict.write_text((ROOT / "tiering.yaml").read_text().replace("threshold: 0.5", "threshold: 0.999", 1))
    env = {**_env(home, mock), "KAM_TIERING_CONFIG": str(strict)}
    review = subprocess.run([sys.executable, "-m", "cli.main", "scheduler", "--once", "tier-review"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert review.returncode == 0, review.stderr
    assert review.stdout.startswith("tier review:") and "0 changes" not in review.stdout, review.stdout
    assert "Traceback" not in review.stderr
    assert "C0MANAGERS" in {p.params["channel"] for p in mock.calls("chat.postMessage")}


def test_tiers_review_post_with_a_bot_token_posts_through_slack(deployed) -> None:
    home, mock = deployed
    strict = home.parent / "strict.yaml"
    strict.write_text((ROOT / "tiering.yaml").read_text().replace("threshold: 0.5", "threshold: 0.999", 1))
    env = {**_env(home, mock), "KAM_TIERING_CONFIG": str(strict)}
    review = subprocess.run([sys.executable, "-m", "cli.main", "tiers", "review", "--post"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert review.returncode == 0, review.stderr
    assert "C0MANAGERS" in {p.params["channel"] for p in mock.calls("chat.postMessage")}


@pytest.mark.slow
def test_long_running_scheduler_with_a_bot_token_sends_through_slack(deployed) -> None:
    home, mock = deployed
    log = open(home.parent / "scheduler.log", "w+")  # noqa: SIM115 - read while it runs
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "scheduler"], cwd=ROOT, env=_env(home, mock),
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        mock.wait_for("chat.postMessage", timeout=120)  # the start-up catch-up
        time.sleep(1)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        out = log.read()
    assert "scheduler: running" in out and "Traceback" not in out, out
