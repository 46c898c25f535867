"""Slack HTTP mode under load: `kam run --http` (its own processes, as in production: the HTTP front that acks and
the bot behind it) answering into MockSlack.

Run:  python bench/slack_http.py [--levels 1,10,50] [--per-sender 10] [--json]

For each concurrency level, that many sender threads POST signed `app_mention` events (Slack's real payload shape),
each to its own channel, as fast as the server acknowledges them; every 5th event is delivered a second time as a
Slack retry (X-Slack-Retry-Num: 1) to exercise deduplication under load. Measured:
  * ack latency (request sent -> HTTP response) p50 / p99 / max, in ms;
  * answers delivered per second: distinct events answered / (last answer - first send);
  * exactly once: every event has exactly one answer (a post, or a "looking it up" placeholder updated once).
MockSlack runs in this process, the senders in `--sender-procs` processes of their own, the bot in its own (bodies
are built before the clock starts, so the senders' own CPU stays out of the figures as far as possible).
`--no-front` runs the bot as one process (KAM_HTTP_FRONT=false) for comparison. Also measured in the same run:
the raw cost of the work behind an answer (skills.ask.ask called directly, sequentially, per question) and a
loopback round trip to /healthz (the HTTP floor).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import PLACEHOLDER  # noqa: E402
from knowledge.importers.profiles import ingest_dir  # noqa: E402
from knowledge.index import Index  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from tests.fakes import slack_requests as sr  # noqa: E402
from tests.fakes.mock_slack import MockSlack  # noqa: E402
from tests.slack_harness import ALICE, EMAIL_USER, SECRET, TODAY, mock_users  # noqa: E402

QUESTIONS = [  # (user, question): alice and bob asking about their own accounts
    (EMAIL_USER, "who decides at Acme?"),
    (EMAIL_USER, "who is the economic buyer at Lakeside Brewing?"),
    (ALICE, "who decides at Hanshan?"),
    (ALICE, "what is the budget at Kangyuan?"),
    (EMAIL_USER, "what are Acme's suppliers?"),
    (ALICE, "when is the Hanshan renewal?"),
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def deliveries(mock: MockSlack) -> Counter:
    """Answers per thread: non-placeholder posts, plus placeholder updates (counted under the thread they are in)."""
    per_thread: Counter = Counter()
    placeholder_thread: dict[str, str] = {}
    for c in mock.calls("chat.postMessage"):
        if not c.response.get("ok"):
            continue
        if c.params.get("text") == PLACEHOLDER:
            placeholder_thread[c.response["ts"]] = c.params.get("thread_ts")
        else:
            per_thread[c.params.get("thread_ts")] += 1
    for c in mock.calls("chat.update"):
        if c.response.get("ok") and c.params["ts"] in placeholder_thread:
            per_thread[placeholder_thread[c.params["ts"]]] += 1
    return per_thread


def _send_group(url: str, plans: list[list[tuple[bytes, int | None]]], start_at: float) -> tuple[list[float], Counter]:
    """One sender process: a thread per plan, each POSTing its signed bodies back to back; (ack times, statuses)."""
    acks: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def sender(plan: list[tuple[bytes, int | None]]) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        for body, retry in plan:
            headers = sr.signed_headers(SECRET, body, retry_num=retry)
            t0 = time.perf_counter()
            status, _ = sr.post(url, body, headers, timeout=60)
            elapsed = time.perf_counter() - t0
            with lock:
                acks.append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=sender, args=(plan,)) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acks, statuses


def run_level(url: str, mock: MockSlack, senders: int, per_sender: int, sender_procs: int = 2) -> dict:
    mock.reset()
    acks: list[float] = []
    statuses: Counter = Counter()
    sender_procs = max(1, min(sender_procs, senders))
    plans: list[list[tuple[bytes, int | None]]] = []
    sent_ts: list[str] = []
    for n in range(senders):
        plan = []
        for i in range(per_sender):
            user, question = QUESTIONS[(n + i) % len(QUESTIONS)]
            ts = sr.new_ts()
            sent_ts.append(ts)
            # one channel per event: Slack's ~1 msg/s/channel pacing is by design and covered by the tests
            body = sr.event_body("app_mention", text=question, user=user, ts=ts, channel=f"CB{n:03d}{i:04d}")
            plan += [(body, None)] + ([(body, 1)] if i % 5 == 4 else [])  # every 5th also comes as a retry
        plans.append(plan)

    # The senders run in their own processes (threads within each): measured from the same process as MockSlack,
    # the ack times would include that process's own GIL waits while it records answers.
    groups = [plans[i::sender_procs] for i in range(sender_procs)]
    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0  # every process starts sending at once
    started_wall = start_at
    with ctx.Pool(len(groups)) as pool:
        for group_acks, group_statuses in pool.starmap(_send_group, [(url, g, start_at) for g in groups]):
            acks += group_acks
            statuses.update(group_statuses)
    # wait for every answer, then a quiet second to catch duplicates
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        per_thread = deliveries(mock)
        if all(per_thread.get(ts, 0) >= 1 for ts in sent_ts):
            break
        time.sleep(0.1)
    time.sleep(1.5)
    per_thread = deliveries(mock)
    calls = [c for c in mock.calls() if c.method in ("chat.postMessage", "chat.update")]
    wall = (max(c.time for c in calls) if calls else time.time()) - started_wall
    answered = [ts for ts in sent_ts if per_thread.get(ts, 0) >= 1]
    return {
        "senders": senders, "events": len(sent_ts), "requests": len(acks), "statuses": dict(statuses),
        "ack_ms": {"p50": round(pct(acks, 0.50) * 1000, 1), "p99": round(pct(acks, 0.99) * 1000, 1),
                   "max": round(max(acks) * 1000, 1), "mean": round(statistics.mean(acks) * 1000, 1)},
        "answers": len(answered), "answers_per_s": round(len(answered) / wall, 1) if wall > 0 else None,
        "placeholders": sum(1 for c in mock.calls("chat.postMessage") if c.params.get("text") == PLACEHOLDER),
        "exactly_once": all(per_thread.get(ts, 0) == 1 for ts in sent_ts),
    }


def start_server(home: Path, mock: MockSlack, workers: int, front: bool = True) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_"))}
    env.update(KAM_HOME=str(home), SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=mock.base_url, KAM_BOT_WORKERS=str(workers),
               KAM_HTTP_FRONT=str(front).lower())
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--http", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/slack/events"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if sr.post(url.replace("/slack/events", "/healthz"), b"", timeout=1)[0] == 200:
                return proc, url
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("kam run --http did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="1,10,50")
    ap.add_argument("--per-sender", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-front", action="store_true", help="one process (KAM_HTTP_FRONT=false)")
    ap.add_argument("--sender-procs", type=int, default=2, help="processes the concurrent senders are spread over")
    ap.add_argument("--workers", type=int, default=8, help="KAM_BOT_WORKERS of the bot process")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="kam-bench-slack-")) / "kam"
    base = Settings(_env_file=None, kam_home=home)  # type: ignore[call-arg]
    store = Store(base)
    ingest_dir(store, ROOT / "examples" / "accounts")
    index = Index(base)
    index.sync(store)

    # raw cost of the work behind each answer, in this process, sequentially (warm)
    from skills.ask import ask

    kb = KnowledgeBase(base, store, index)
    for _, q in QUESTIONS:
        ask(kb, q, "bob@example.com", today=TODAY)
    raw = []
    for user, q in QUESTIONS * 3:
        email = "bob@example.com" if user == EMAIL_USER else "alice@example.com"
        t0 = time.perf_counter()
        ask(kb, q, email, conversation_id=f"bench-{time.perf_counter()}", today=TODAY)
        raw.append(time.perf_counter() - t0)

    index.close()  # the bot process owns the embedded index
    store.engine.dispose()
    results = []
    with MockSlack(users=mock_users()) as mock:
        proc, url = start_server(home, mock, args.workers, front=not args.no_front)
        try:
            health = url.replace("/slack/events", "/healthz")
            floor = []
            for _ in range(200):
                t0 = time.perf_counter()
                sr.post(health, b"")
                floor.append(time.perf_counter() - t0)
            # warm up the bot process (first answers load lazily imported code)
            run_level(url, mock, 2, 3)
            for level in [int(x) for x in args.levels.split(",")]:
                results.append(run_level(url, mock, level, args.per_sender, args.sender_procs))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "workers": args.workers,
        "front": not args.no_front,
        "raw_ask_ms": {"p50": round(pct(raw, 0.5) * 1000, 1), "p99": round(pct(raw, 0.99) * 1000, 1)},
        "healthz_roundtrip_ms": {"p50": round(pct(floor, 0.5) * 1000, 2), "p99": round(pct(floor, 0.99) * 1000, 2)},
        "levels": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"raw ask() per question: p50 {report['raw_ask_ms']['p50']} ms, p99 {report['raw_ask_ms']['p99']} ms")
    print(f"loopback /healthz round trip: p50 {report['healthz_roundtrip_ms']['p50']} ms, "
          f"p99 {report['healthz_roundtrip_ms']['p99']} ms")
    print("senders  events  requests  ack p50  ack p99  ack max  answers/s  placeholders  exactly once  statuses")
    for r in results:
        a = r["ack_ms"]
        print(f"{r['senders']:>7}  {r['events']:>6}  {r['requests']:>8}  {a['p50']:>7}  {a['p99']:>7}  {a['max']:>7}"
              f"  {r['answers_per_s']!s:>9}  {r['placeholders']:>12}  {r['exactly_once']!s:>12}  {r['statuses']}")


if __name__ == "__main__":
    main()
