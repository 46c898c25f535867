"""Ingest benchmark: generated profiles through the real path (ingest_dir + Index.sync) into a temporary KAM_HOME.

    python bench/ingest.py [--sizes 1000,10000] [--queries 200] [--backends embedded,postgres] [--json] [--profile]

With `--backends ...,postgres` (inside .ci/services.sh) every size also runs on PostgreSQL + a Chroma server; the
query phase's peak RSS is then a bot process's with the vector index out of process.

Per size, each phase runs in its own child process (clean peak RSS, read with os.wait4's rusage):
  ingest   people.yaml + N profiles: ingest_dir, then Index.sync with the default embedder (model load included);
           wall time, chunks/s, peak RSS;
  raw      the embedding model alone (knowledge.embeddings.UseMultilingual().embed) on the very chunk texts
           that were ingested (read back from the ledger, in ingest order), in batches of kam_embed_batch, after
           loading the model; its chunks/s is the ceiling the ingest is compared against (ratio, goal >= 0.85);
  reingest the same directory again, unchanged: ingest_dir + Index.sync (goal: < 5% of the first ingest, zero
           re-embedded chunks);
  query    hybrid_search(index, q, account_ids={one account}) over ~200 realistic English and Chinese questions,
           each about a different account, after 20 warm-up queries; p50/p95/max in ms.
The machine is shared, so each phase also records the load average and the child's CPU seconds (user+sys).
Raw output goes to bench/results/ingest-<timestamp>.json (gitignored); --profile also writes cProfile stats
of the ingest phase there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
GOALS = {"ratio": 0.85, "reingest_share": 0.05, "peak_rss_mb": 500, "query_p95_ms": 30.0}

EN_QUESTIONS = [
    "Who is the decision maker at {name}?",
    "What is {name}'s budget for next year?",
    "Which suppliers does {alias} use and how satisfied are they?",
    "When is the renewal with {name}?",
    "What happened on our last visit?",
    "Who are their main competitors?",
    "What do their customers need from them?",
    "What is their strategy?",
    "revenue and market share",
    "Is anyone blocking the deal at {alias}?",
    "How much of their spend do we have compared with Tetra Pak?",
    "Any recent notes about price pressure?",
    "Who signs the frame agreement and who can veto a vendor?",
    "contacts with birthdays",
]
ZH_QUESTIONS = [
    "{name}的决策人是谁？",
    "{alias}明年的预算是多少？",
    "他们的竞争对手有哪些？",
    "下次续约是什么时候？",
    "最近一次拜访谈了什么？",
    "他们对现有供应商满意吗？",
    "下游客户有什么需求？",
    "{alias}的发展战略是什么？",
    "谁会反对我们的方案？",
    "营收和市场份额",
]


# ---------------------------------------------------------------------------------------------- children
def _settings(home: Path):  # noqa: ANN202 - Settings, imported late so the parent stays light
    from knowledge.settings import Settings

    return Settings(_env_file=None, kam_home=home)  # type: ignore[call-arg]


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def child_ingest(home: Path, profiles: Path) -> dict:
    from knowledge.importers.profiles import ingest_dir
    from knowledge.index import Index
    from knowledge.store import Store

    settings = _settings(home)
    load0 = _loadavg()
    t0 = time.perf_counter()
    store = Store(settings)
    report = ingest_dir(store, profiles)
    t1 = time.perf_counter()
    index = Index(settings)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  sync {done}/{total} accounts, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)

    sync = index.sync(store, progress=progress)
    t2 = time.perf_counter()
    index.close()
    return {"seconds": t2 - t0, "ingest_dir_s": t1 - t0, "sync_s": t2 - t1, "imported": len(report.imported),
            "unchanged": len(report.unchanged), "skipped": len(report.skipped), "chunks": sync.chunks,
            "embedded": sync.embedded, "load_before": load0, "load_after": _loadavg()}


def _ledger_rows(home: Path) -> list[tuple[str, str, str, str, str, str]]:
    """(id, account_id, dimension, kind, owner, text) of every indexed chunk, in ingest order."""
    from sqlalchemy import select

    from knowledge.db import make_engine
    from knowledge.lexical import ChunkRow as C

    engine = make_engine(_settings(home).db_url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(select(C.id, C.account_id, C.dimension, C.kind, C.owner, C.text)
                                                .order_by(C.rid))]
    finally:
        engine.dispose()


def child_raw(home: Path) -> dict:
    import chromadb
    import numpy as np

    from knowledge.embeddings import UseMultilingual

    settings = _settings(home)
    rows = _ledger_rows(home)
    texts = [r[5] for r in rows]
    batch = max(1, settings.kam_embed_batch)
    model = UseMultilingual()
    t0 = time.perf_counter()
    model.embed(["warm up"])  # the model load, reported apart
    t1 = time.perf_counter()
    load0 = _loadavg()
    vectors = [model.embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    t2 = time.perf_counter()
    # The other unavoidable cost: the same vectors with the same metadata keys into a fresh persistent collection,
    # in the sync's batch size. Embedding + this is the floor an ingest cannot go below.
    with tempfile.TemporaryDirectory(prefix="kam-bench-chroma-") as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.create_collection("floor", configuration={"hnsw": {"space": "cosine"}})
        flat = np.concatenate(vectors)
        t3 = time.perf_counter()
        step = 256  # knowledge.index.SYNC_BATCH_CHUNKS
        for i in range(0, len(rows), step):
            part = rows[i : i + step]
            collection.add(ids=[r[0] for r in part], embeddings=flat[i : i + step],
                           metadatas=[{"account_id": r[1], "dimension": r[2] or "", "kind": r[3] or "",
                                       "owner": r[4] or "", "team": "", "updated": 0} for r in part])
        t4 = time.perf_counter()
    return {"chunks": len(texts), "batch": batch, "seconds": t2 - t1, "model_load_s": t1 - t0,
            "chunks_per_s": len(texts) / (t2 - t1), "chroma_add_s": t4 - t3,
            "floor_chunks_per_s": len(texts) / (t2 - t1 + t4 - t3),
            "load_before": load0, "load_after": _loadavg()}


def _questions(summaries: list, n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    picked = rng.sample(summaries, min(n, len(summaries)))
    out = []
    for s in picked:
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in s.name)
        pool = ZH_QUESTIONS if chinese and rng.random() < 0.8 else EN_QUESTIONS
        alias = s.aliases[0] if s.aliases else s.name
        out.append((s.id, rng.choice(pool).format(name=s.name, alias=alias)))
    return out


def child_query(home: Path, n: int, seed: int) -> dict:
    from knowledge.index import Index
    from knowledge.retrieval import hybrid_search
    from knowledge.store import Store

    settings = _settings(home)
    store = Store(settings)
    index = Index(settings)
    questions = _questions(store.summaries(), n + 20, seed)
    warm, timed = questions[:20], questions[20:]
    for account_id, q in warm:
        hybrid_search(index, q, account_ids={account_id})
    load0 = _loadavg()
    times, empty, foreign = [], 0, 0
    for account_id, q in timed:
        t0 = time.perf_counter()
        hits = hybrid_search(index, q, account_ids={account_id})
        times.append((time.perf_counter() - t0) * 1000)
        empty += not hits
        foreign += sum(h.account_id != account_id for h in hits)
    index.close()
    times.sort()
    return {"queries": len(times), "p50_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], "max_ms": times[-1],
            "mean_ms": statistics.fmean(times), "empty_results": empty, "hits_outside_filter": foreign,
            "load_before": load0, "load_after": _loadavg(), "examples": [q for _, q in timed[:6]]}


def run_child(args: list[str], profile_to: Path | None = None, env: dict[str, str] | None = None) -> dict:
    """Run one phase in a fresh interpreter; its peak RSS and CPU time come from the kernel (wait4)."""
    cmd = [sys.executable]
    if profile_to is not None:
        cmd += ["-m", "cProfile", "-o", str(profile_to)]
    cmd += [str(Path(__file__).resolve()), "--child", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=str(ROOT),
                            env={**(os.environ if env is None else env), "ANONYMIZED_TELEMETRY": "False"})
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
    return result


# ---------------------------------------------------------------------------------------------- parent
def bench_size(n: int, queries: int, seed: int, profile: bool, stamp: str, keep: Path | None,
               backend: str = "embedded") -> dict:
    from bench.backends import backend_env
    from bench.generate import generate

    env = backend_env(backend)

    base = Path(tempfile.mkdtemp(prefix=f"kam-bench-ingest-{n}-")) if keep is None else keep / str(n)
    profiles, home = base / "profiles", base / "home"
    t0 = time.perf_counter()
    generate(profiles, n, seed=seed)
    gen_s = time.perf_counter() - t0
    log = lambda msg: print(f"[{n} {backend}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    log(f"generated {n} profiles in {gen_s:.1f}s under {base}")
    prof = RESULTS / f"ingest-{n}-{stamp}.prof" if profile else None
    first = run_child(["ingest", str(home), str(profiles)], prof, env)
    first["chunks_per_s"] = first["chunks"] / first["seconds"]
    log(f"ingest: {first['chunks']} chunks in {first['seconds']:.1f}s = {first['chunks_per_s']:.1f} chunks/s, "
        f"peak RSS {first['peak_rss_mb']} MB")
    raw = run_child(["raw", str(home)], env=env)
    log(f"raw embedding: {raw['chunks_per_s']:.1f} chunks/s ({raw['seconds']:.1f}s)")
    again = run_child(["reingest", str(home), str(profiles)], env=env)
    log(f"re-ingest: {again['seconds']:.2f}s, {again['embedded']} re-embedded")
    query = run_child(["query", str(home), str(queries), str(seed)], env=env)
    log(f"query: p50 {query['p50_ms']:.1f} ms, p95 {query['p95_ms']:.1f} ms, peak RSS {query['peak_rss_mb']} MB")
    result = {
        "profiles": n, "backend": backend, "chunks": first["chunks"], "generate_s": round(gen_s, 1), "ingest": first,
        "raw_embedding": raw,
        "reingest": again, "query": query,
        "ratio": first["chunks_per_s"] / raw["chunks_per_s"],
        "floor_ratio": first["chunks_per_s"] / raw["floor_chunks_per_s"],
        "reingest_share": again["seconds"] / first["seconds"],
        "cpu_ratio": raw["cpu_s"] / first["cpu_s"] if first["cpu_s"] else None,
    }
    result["goals_met"] = {
        "ratio": result["ratio"] >= GOALS["ratio"],
        "reingest": result["reingest_share"] < GOALS["reingest_share"] and again["embedded"] == 0,
        "peak_rss": max(first["peak_rss_mb"], again["peak_rss_mb"]) < GOALS["peak_rss_mb"],
        "query_p95": query["p95_ms"] < GOALS["query_p95_ms"],
    }
    if keep is None:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return result


def table(results: list[dict]) -> str:
    rows = [
        ("profiles / chunks", lambda r: f"{r['profiles']:,} / {r['chunks']:,}"),
        ("ingest (ingest_dir + sync), s", lambda r: f"{r['ingest']['seconds']:.1f}"),
        ("  of which ingest_dir / sync, s",
         lambda r: f"{r['ingest']['ingest_dir_s']:.1f} / {r['ingest']['sync_s']:.1f}"),
        ("ingest chunks/s", lambda r: f"{r['ingest']['chunks_per_s']:.1f}"),
        ("raw embedding chunks/s (same chunks)", lambda r: f"{r['raw_embedding']['chunks_per_s']:.1f}"),
        ("ratio (goal >= 0.85)", lambda r: f"{r['ratio']:.2f}"),
        ("raw Chroma add of the same vectors, s", lambda r: f"{r['raw_embedding']['chroma_add_s']:.1f}"),
        ("floor: embedding + Chroma add, chunks/s", lambda r: f"{r['raw_embedding']['floor_chunks_per_s']:.1f}"),
        ("ratio to the floor", lambda r: f"{r['floor_ratio']:.2f}"),
        ("CPU s raw / ingest", lambda r: f"{r['raw_embedding']['cpu_s']:.0f} / {r['ingest']['cpu_s']:.0f}"),
        ("re-ingest unchanged, s (goal < 5%)",
         lambda r: f"{r['reingest']['seconds']:.2f} ({r['reingest_share'] * 100:.1f}%, "
                   f"{r['reingest']['embedded']} re-embedded)"),
        ("peak RSS ingest / re-ingest, MB (goal < 500)",
         lambda r: f"{r['ingest']['peak_rss_mb']:.0f} / {r['reingest']['peak_rss_mb']:.0f}"),
        ("query p50 / p95 / max, ms (goal p95 < 30)",
         lambda r: f"{r['query']['p50_ms']:.1f} / {r['query']['p95_ms']:.1f} / {r['query']['max_ms']:.1f}"),
        ("peak RSS of the query process (a bot's), MB", lambda r: f"{r['query']['peak_rss_mb']:.0f}"),
        ("load average after ingest / raw",
         lambda r: f"{r['ingest']['load_after']} / {r['raw_embedding']['load_after']}"),
    ]
    head = "| | " + " | ".join(f"{r['profiles']:,} profiles, {r.get('backend', 'embedded')}" for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    lines += ["| " + label + " | " + " | ".join(fn(r) for r in results) + " |" for label, fn in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Ingest benchmark (see the module docstring).")
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated profile counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="embedded",
                        help="embedded and/or postgres (PostgreSQL + Chroma server: run inside .ci/services.sh)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--profile", action="store_true", help="cProfile the ingest phase into bench/results/")
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated data and KAM_HOME here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        phase, *rest = args.child
        if phase in ("ingest", "reingest"):  # the same code path; the second run finds everything unchanged
            out = child_ingest(Path(rest[0]), Path(rest[1]))
        elif phase == "raw":
            out = child_raw(Path(rest[0]))
        else:
            out = child_query(Path(rest[0]), int(rest[1]), int(rest[2]))
        print(json.dumps(out))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for n in sizes:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            results.append(bench_size(n, args.queries, args.seed, args.profile, stamp, args.keep, backend))
        payload = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "results": results}
        (RESULTS / f"ingest-{stamp}.json").write_text(json.dumps(payload, indent=2))
    if args.json:
        print(json.dumps({"results": results}, indent=2))
    else:
        print(table(results))


if __name__ == "__main__":
    main()
