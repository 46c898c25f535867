"""The scale-out deployment: PostgreSQL + a Chroma server shared by several processes and hosts (run with
`--backend=postgres`; .ci/services.sh starts both servers on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from knowledge.importers.profiles import ingest_dir
from knowledge.index import Index, IndexMismatch
from knowledge.lexical import ChunkRow
from knowledge.retrieval import hybrid_search
from knowledge.settings import Settings
from knowledge.store import Store
from tests.conftest import EXAMPLES, ROOT, backend_env, make_settings

pytestmark = pytest.mark.postgres_only


def _host(settings: Settings, home: Path) -> Settings:
    """The same deployment seen from another host: its own KAM_HOME, the same servers."""
    return Settings(_env_file=None, kam_home=home, database_url=settings.database_url,  # type: ignore[call-arg]
                    chroma_host=settings.chroma_host, chroma_port=settings.chroma_port)


def test_a_second_host_searches_the_same_index(sample_kb, tmp_path, embedder):
    settings, store, index = sample_kb
    other = _host(settings, tmp_path / "host2")
    with Index(other, embedder=embedder) as remote:
        assert remote.collection_name == index.collection_name
        assert remote.lexical.search("Tetra Pak", None, 5) == index.lexical.search("Tetra Pak", None, 5) != []
        hits = hybrid_search(remote, "寒山包装的采购决策人是谁", None, k=3)
        assert any("Li Wei" in h.text for h in hits)
    assert not (tmp_path / "host2" / "lexical.sqlite").exists()


def test_the_collection_is_rebuilt_from_the_database_without_embedding(sample_kb):
    settings, store, index = sample_kb  # a copy of the sample database: a new deployment, a new collection
    with index.engine.connect() as c:
        chunks = c.scalar(select(func.count()).select_from(ChunkRow))
    assert index.count() == chunks > 0
    assert index.collection.metadata["database"] == make_settings(settings.kam_home).database_url.rsplit("/", 1)[1]


def test_two_databases_on_one_chroma_server_never_mix(tmp_path, embedder):
    first, second = make_settings(tmp_path / "a"), make_settings(tmp_path / "b")
    store = Store(first)
    ingest_dir(store, EXAMPLES)
    with Index(first, embedder=embedder, store=store) as a:
        a.sync(store)
        assert a.count() > 100
    with Index(second, embedder=embedder) as b:
        assert b.collection_name != a.collection_name
        assert b.count() == 0 and hybrid_search(b, "Tetra Pak", None, k=3) == []
        b_name = b.collection_name
        # another deployment's collection under this one's name (made by hand, or a copied Chroma server)
        b._client.delete_collection(b_name)
        b._client.create_collection(b_name, metadata={"model_id": b.model_id, "deployment": "0" * 32,
                                                      "database": "elsewhere"})
    with pytest.raises(IndexMismatch, match="holds the vectors of another database") as err:
        Index(second, embedder=embedder)
    assert b_name in str(err.value) and "Delete that collection" in str(err.value)
    store.engine.dispose()


def test_a_collection_out_of_step_with_the_database_is_explained(sample_kb, embedder):
    settings, store, index = sample_kb
    assert index.drift is None
    index.collection.delete(ids=index.lexical.chunk_ids(store.find_account("Hanshan")))
    again = Index(settings, embedder=embedder, store=store)
    assert again.drift and "Delete the collection to rebuild it" in again.drift
    again.close()


def test_hybrid_results_are_identical_on_both_backends(sample_kb, tmp_path, embedder):
    settings, store, index = sample_kb
    local = Settings(_env_file=None, kam_home=tmp_path / "embedded")  # type: ignore[call-arg]
    assert local.database_url is None and local.chroma_host is None
    local_store = Store(local)
    ingest_dir(local_store, EXAMPLES)
    with Index(local, embedder=embedder, store=local_store) as local_index:
        local_index.sync(local_store)
        cases = yaml.safe_load((ROOT / "tests" / "eval" / "questions.yaml").read_text())["cases"]
        compared = 0
        for case in cases:
            person = store.person(case["asker"])
            if person is not None:  # as the evaluation asks: within the asker's accounts (exact vector search)
                scope = store.visible_account_ids(person)
                ours = hybrid_search(index, case["question"], scope, k=8)
                theirs = hybrid_search(local_index, case["question"], scope, k=8)
                assert [(h.chunk_id, round(h.score, 12), h.lexical_rank, h.vector_rank) for h in ours] == \
                       [(h.chunk_id, round(h.score, 12), h.lexical_rank, h.vector_rank) for h in theirs], case["id"]
                compared += 1
            # everything (admins): the lexical ranking is the database's, identical; the vector side is Chroma's
            # approximate HNSW, whose graph depends on insertion order, so it is not compared here
            ours_lex = index.lexical.search(case["question"], None, 40)
            theirs_lex = local_index.lexical.search(case["question"], None, 40)
            assert [(c, round(s, 9)) for c, s in ours_lex] == [(c, round(s, 9)) for c, s in theirs_lex], case["id"]
        assert compared > 50
    local_store.engine.dispose()


def test_kam_init_never_prints_the_database_password(tmp_path):
    home = tmp_path / "kam"
    env = backend_env(home)
    password = env["DATABASE_URL"].split(":")[2].split("@")[0]
    result = subprocess.run([sys.executable, "-m", "cli.main", "init"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KAM_HOME": str(home), "COLUMNS": "200", **env},
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert password and password not in result.stdout + result.stderr
    assert ":***@" in result.stdout and "Chroma server" in result.stdout


@pytest.mark.slow
def test_two_ingests_at_once_both_succeed_and_index_everything(tmp_path):
    home = tmp_path / "kam"
    halves = [tmp_path / "one", tmp_path / "two"]
    files = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "people.yaml")
    for i, half in enumerate(halves):
        half.mkdir()
        shutil.copy(EXAMPLES / "people.yaml", half)  # both write every person: upserts, not duplicate keys
        for f in files[i::2]:
            shutil.copy(f, half)
    env = {"PATH": "/usr/bin:/bin", "KAM_HOME": str(home), **backend_env(home)}
    procs = [subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", str(h), "--json"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for h in halves]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["skipped"] == []
    settings = make_settings(home)
    store = Store(settings)
    assert store.count_accounts() == len(files)
    with Index(settings, store=store) as index:
        report = index.sync(store)
        assert report.accounts == 0  # nothing left over: every account was indexed by one of the two
        with index.engine.connect() as c:
            chunks = c.scalar(select(func.count()).select_from(ChunkRow))
        assert index.count() == chunks == len(index.lexical.hashes())
        for f in files:
            name = yaml.safe_load(f.read_text())["account"]
            assert any(h.account == name for h in hybrid_search(index, name, None, k=5)), name
    store.engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_bot_workers_behind_one_front(sample_kb, mock):
    """The documented topology: one front, two `kam run --http` workers (KAM_HTTP_FRONT=false) on one database."""
    from bot.front import Front, serve
    from bot.http import stop_waitress
    from tests.fakes import slack_requests as sr
    from tests.slack_harness import EMAIL_USER, SECRET
    from tests.test_slack_app import all_text

    settings, store, index = sample_kb
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KAM_"))}
    env.update(KAM_HOME=str(settings.kam_home), SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=mock.base_url, KAM_SLACK_CHANNEL_INTERVAL="0", KAM_SLACK_PLACEHOLDER_AFTER="30",
               KAM_RUN_SCHEDULER="false", KAM_HTTP_FRONT="false", **backend_env(settings.kam_home))
    ports = [_free_port(), _free_port()]
    workers = [subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--http", "--port", str(p)], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]
    urls = [f"http://127.0.0.1:{p}/slack/events" for p in ports]
    front = Front(urls, SECRET)
    server = serve(front, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}/slack/events"  # type: ignore[union-attr]
    try:
        for worker_url in urls:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if sr.post(worker_url.replace("/slack/events", "/healthz"), b"", timeout=1)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.3)
            else:
                raise AssertionError(f"worker {worker_url} did not start")
        bodies = [sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER, ts=sr.new_ts())
                  for _ in range(4)]
        for body in bodies:  # through the front: the workers take turns
            assert sr.send(url, SECRET, body)[0] == 200
        answers = mock.wait_for("chat.postMessage", 4, timeout=120)
        assert all("Karen Doyle" in all_text(a) for a in answers)
        workers[0].kill()  # one worker dies: the front hands the next deliveries to the other
        workers[0].wait(10)
        for _ in range(2):  # whichever worker's turn it is
            body = sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER, ts=sr.new_ts())
            assert sr.send(url, SECRET, body)[0] == 200
        assert len(mock.wait_for("chat.postMessage", 6, timeout=120)) == 6
        # Slack's retry of an answered delivery, straight to the surviving worker: the shared dedup must drop it
        assert sr.send(urls[1], SECRET, bodies[0])[0] == 200
        time.sleep(2)
        # (it was answered twice before the journal: the per-event claim let another worker take over a claim of
        # a live process; now the journal's row is done, and a resend of a done event is dropped)
        assert len(mock.calls("chat.postMessage")) == 6
    finally:
        front.close()
        stop_waitress(server, thread)  # from inside the server's loop: closing from here would double-close fds
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGINT)
                try:
                    w.wait(20)
                except subprocess.TimeoutExpired:
                    w.kill()
