"""The knowledge index: chunk vectors in Chroma beside the lexical index and chunk ledger in the database.

Sync is incremental by content hash: unchanged chunks are never re-embedded; changed chunks are deleted then
added (Chroma's upsert would merge stale metadata keys); chunks of removed data disappear.
One process owns an embedded (persistent) Chroma path: a file lock guards it. On a Chroma server the collection is
named for the deployment (database identity + model), and rebuilt from the vectors kept in the database if empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import numpy as np
from slugify import slugify
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine

from knowledge.chunks import Chunk, profile_chunks
from knowledge.db import AccountRow, create_schema, database_name, deployment_id, make_engine
from knowledge.embeddings import Embedder, make_embedder
from knowledge.lexical import ChunkRow, LexicalIndex
from knowledge.settings import Settings
from knowledge.store import Store

log = logging.getLogger(__name__)
LOAD_ACCOUNTS = 200  # accounts read from the store at once during sync
SYNC_BATCH_CHUNKS = 256  # chunks per sync batch: embedded, written to Chroma and the ledger together
EXACT_SCOPE_ACCOUNTS = 500  # searches within at most this many accounts are exact, from the ledger's vectors


class IndexBusy(RuntimeError):
    """Another process owns the embedded index."""


class IndexMismatch(RuntimeError):
    """The Chroma collection this deployment would use belongs to another database."""


@dataclass
class SyncReport:
    accounts: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0  # chunks of the accounts looked at whose text and vector were kept
    kept: int = 0  # every chunk in the index that this sync left as it was (unchanged accounts' too)
    deleted: int = 0
    removed_accounts: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (account id, why): left out, the rest indexed


@dataclass
class _Plan:
    accounts: list[tuple[str, int]]
    chunks: list[Chunk]
    changed: list[Chunk]
    to_embed: list[Chunk]
    removed: list[str]


def collection_name(model_id: str, deployment: str | None = None) -> str:
    """The model id is part of the name, so switching models never mixes vectors in one collection; on a shared
    Chroma server so is the deployment (a hash of the database's identity), so databases never mix either."""
    model = slugify(model_id, max_length=44)
    if deployment is None:  # embedded: the Chroma files live in KAM_HOME, beside this deployment only
        return ("kam-" + model)[:60].strip("-")
    return (f"kam-{deployment}-{model}")[:60].strip("-")


def deployment_key(engine: Engine) -> tuple[str, str, str]:
    """(key for the collection name, deployment id, database name) of the store's database."""
    ident, name = deployment_id(engine), database_name(engine)
    return hashlib.sha256(f"{ident}/{name}".encode()).hexdigest()[:10], ident, name


def _epoch(day: dt.date | None) -> int:
    return int(dt.datetime.combine(day, dt.time()).replace(tzinfo=dt.UTC).timestamp()) if day else 0


class Index:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None, *,
                 read_only: bool = False):
        """The index. `read_only` (while another process owns the embedded index, e.g. `kam run`): no lock, no
        Chroma; searches read the chunk ledger in the database, which keeps every chunk's vector (safe beside the
        writer), and `sync` is refused."""
        self.settings = settings
        self.read_only = read_only and not settings.chroma_host
        home = settings.home
        home.mkdir(parents=True, exist_ok=True)
        self._lock: filelock.BaseFileLock | None = None
        if not settings.chroma_host and not self.read_only:
            self._acquire(home / "index.lock")
        self._own_engine = store is None
        if store is not None:
            self.engine = store.engine
        else:
            self.engine = make_engine(settings.db_url)
            create_schema(self.engine)
        self.embedder = embedder or make_embedder(settings)
        self.model_id = self.embedder.model_id
        self.lexical = LexicalIndex(self.engine)
        self.drift: str | None = None  # why the collection and the database disagree, if they do
        if self.read_only:  # embedded only (a Chroma server has no owner): the collection name needs no identity
            self.collection_name = collection_name(self.model_id)
            self._client = self.collection = None
            return
        key, ident, db_name = deployment_key(self.engine)
        self.collection_name = collection_name(self.model_id, key if settings.chroma_host else None)
        self._client = self._make_client()
        self.collection = self._client.get_or_create_collection(
            self.collection_name,
            embedding_function=None,  # we embed ourselves; Chroma's default would download a model
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"model_id": self.model_id, "deployment": ident, "database": db_name},
        )
        self._check_owner(ident, db_name)
        if settings.chroma_host:
            self._restore_if_empty()
            self.drift = self._check_drift()

    def _check_owner(self, ident: str, db_name: str) -> None:
        meta = self.collection.metadata or {}
        owner = meta.get("deployment")
        if owner is not None and owner != ident:
            raise IndexMismatch(
                f"the Chroma collection {self.collection_name!r} on {self.settings.index_location} holds the vectors "
                f"of another database (deployment {owner}, database {meta.get('database')!r}); this database "
                f"{db_name!r} is deployment {ident}. Was the database recreated, or is CHROMA_HOST another "
                "deployment's server? Delete that collection (it is rebuilt from this database) or point CHROMA_HOST "
                "at this deployment's Chroma server.")
        if meta.get("model_id") not in (None, self.model_id):
            raise IndexMismatch(f"the Chroma collection {self.collection_name!r} was built with the model "
                                f"{meta.get('model_id')!r}, not {self.model_id!r}")

    def _check_drift(self) -> str | None:
        """Vectors in the collection vs. vectors kept in the database. They differ for a moment while another
        process syncs, so this explains rather than refuses."""
        have, kept = self.collection.count(), self.lexical.vector_count(self.model_id)
        if have == kept:
            return None
        message = (f"the Chroma collection {self.collection_name!r} holds {have} vectors but the database keeps "
                   f"{kept}: another process may be indexing right now; otherwise the Chroma server was restored "
                   "from an older state or shared with a copy of this database. Delete the collection to rebuild it "
                   "from the database (no embedding needed).")
        log.warning(message)
        return message

    def _restore_if_empty(self) -> None:
        """An empty collection beside a database that keeps vectors (a new Chroma server, a restored database
        copy): put the kept vectors back, without embedding anything."""
        if self.collection.count() or not self.lexical.vector_count(self.model_id):
            return
        for part in self.lexical.all_vectors(self.model_id):
            vectors = np.frombuffer(b"".join(v for _, v in part), dtype=np.float32).reshape(len(part), -1)
            self.collection.add(
                ids=[m["id"] for m, _ in part], embeddings=vectors,
                metadatas=[{"account_id": m["account_id"], "dimension": m["dimension"] or "", "kind": m["kind"],
                            "owner": m["owner"], "team": m["team"] or "",
                            "updated": _epoch(dt.date.fromisoformat(m["updated"]) if m["updated"] else None)}
                           for m, _ in part])

    def _acquire(self, path: Path) -> None:
        lock = filelock.FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            owner = (path.with_suffix(".pid").read_text().strip() if path.with_suffix(".pid").exists() else "?")
            raise IndexBusy(
                f"another kam process (pid {owner}) is using the knowledge index in {path.parent}. "
                "Two writers corrupt Chroma's embedded index, so only one process may open it: stop the other "
                "process (e.g. `kam run`), or run a Chroma server and set CHROMA_HOST."
            ) from None
        path.with_suffix(".pid").write_text(str(os.getpid()))
        self._lock = lock

    def _make_client(self):  # noqa: ANN202 - chromadb's client type is internal
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.settings.chroma_host:
            return chromadb.HttpClient(host=self.settings.chroma_host, port=self.settings.chroma_port,
                                       ssl=self.settings.chroma_ssl, settings=chroma_settings)
        return chromadb.PersistentClient(path=str(self.settings.chroma_path), settings=chroma_settings)

    def close(self) -> None:
        self.lexical.close()
        close_client = getattr(self._client, "close", None)  # release Chroma's files and threads (refcounted)
        if close_client is not None:
            self._client = self.collection = None
            close_client()
        if self._own_engine:
            self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sync
    def sync(self, store: Store, *, full: bool = False, progress: Callable[[int, int], None] | None = None,
             accounts: list[str] | None = None) -> SyncReport:
        """Bring the index in line with the store. Only accounts whose revision moved are looked at
        (all of them with full=True), and within those only chunks whose content hash changed are embedded.
        `accounts` limits the sync to those (the bot after a note: not whatever another host is importing)."""
        if self.read_only:
            raise IndexBusy("the index is open read-only (another kam process owns it): it cannot be synced")
        report = SyncReport()
        full = full or not self.lexical.in_step(self.model_id)
        with store.session() as s:
            rows = s.execute(select(AccountRow.id, AccountRow.revision, AccountRow.indexed_revision)).all()
        live = {r.id for r in rows}
        if accounts is not None and not full:
            wanted = set(accounts)
            rows = [r for r in rows if r.id in wanted]
        if not full and any(r.indexed_revision for r in rows) and not self.lexical.hashes([r.id for r in rows[:50]]):
            full = True  # indexed before the ledger moved into the database (or the ledger was lost): rebuild it
        todo = [(r.id, r.revision) for r in rows if full or r.revision != r.indexed_revision]
        # accounts that vanished from the store vanish from the index
        for gone in sorted(self.lexical.account_ids() - live) if accounts is None else []:
            ids = self.lexical.chunk_ids(gone)
            self._apply([], ids, gone=gone)
            report.deleted += len(ids)
            report.removed_accounts.append(gone)
        report.accounts = len(todo)
        batch_accounts: list[tuple[str, int]] = []
        pending: list[Chunk] = []
        done = 0
        # Two-stage pipeline: while one batch is embedded in a worker thread (numpy releases the GIL), the previous
        # one is written to Chroma, the ledger and the store here. Batches hold disjoint accounts, so planning a
        # batch before the previous one is written reads nothing it changes.
        in_flight: tuple[_Plan, Future[np.ndarray]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kam-embed") as embedding:
            for start in range(0, len(todo), LOAD_ACCOUNTS):
                group = todo[start : start + LOAD_ACCOUNTS]
                ids = [a for a, _ in group]
                profiles, unreadable = _load_profiles(store, ids)
                documents = store.documents_of(ids)
                for i, (account_id, revision) in enumerate(group, start):
                    profile = profiles.get(account_id)
                    try:  # one account that cannot be indexed is reported and left out, never blocks the rest
                        if account_id in unreadable:
                            raise unreadable[account_id]
                        chunks = (_checked(profile_chunks(account_id, profile, documents.get(account_id, [])))
                                  if profile is not None else [])
                        batch_accounts.append((account_id, revision))
                        pending.extend(chunks)
                    except Exception as exc:  # noqa: BLE001 - reported in the sync report
                        report.failed.append((account_id, _why(exc)))
                    if len(pending) >= SYNC_BATCH_CHUNKS or i == len(todo) - 1:
                        plan = self._plan(batch_accounts, pending, report)
                        future = embedding.submit(self._embed, plan.to_embed)
                        if in_flight is not None:
                            done += self._finish(store, *in_flight)
                            if progress:
                                progress(done, len(todo))
                        in_flight = (plan, future)
                        batch_accounts, pending = [], []
            if in_flight is not None:
                done += self._finish(store, *in_flight)
                if progress:
                    progress(done, len(todo))
        report.kept = max(self.lexical.chunk_count() - report.embedded, 0)
        return report

    def _plan(self, accounts: list[tuple[str, int]], chunks: list[Chunk], report: SyncReport) -> _Plan:
        """What a batch changes: chunks whose text moved (ledger), chunks to (re-)embed, chunks that are gone."""
        ids = [a for a, _ in accounts]
        old = self.lexical.hashes(ids)
        wanted = {c.id: c for c in chunks}
        embedded = self.lexical.embedded_hashes(self.model_id, wanted)
        plan = _Plan(accounts=list(accounts), chunks=list(chunks),
                     changed=[c for c in chunks if old.get(c.id) != c.hash],
                     to_embed=[c for c in chunks if embedded.get(c.id) != c.hash],
                     removed=[cid for cid in old if cid not in wanted])
        report.chunks += len(chunks)
        report.unchanged += len(chunks) - len(plan.to_embed)
        report.embedded += len(plan.to_embed)
        report.deleted += len(plan.removed)
        return plan

    def _finish(self, store: Store, plan: _Plan, vectors: Future[np.ndarray]) -> int:
        """Write a planned batch once its vectors are ready, then mark its accounts indexed at their revision."""
        self._write(plan.changed, plan.removed, plan.to_embed, vectors.result(), plan.accounts, plan.chunks)
        return len(plan.accounts)

    def _embed(self, chunks: list[Chunk]) -> np.ndarray:
        batch = max(1, self.settings.kam_embed_batch)
        parts = [self.embedder.embed([c.text for c in chunks[i : i + batch]]) for i in range(0, len(chunks), batch)]
        return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)

    def _apply(self, changed: list[Chunk], removed: list[str], to_embed: list[Chunk] | None = None,
               gone: str | None = None) -> None:
        to_embed = to_embed if to_embed is not None else []
        self._write(changed, removed, to_embed, self._embed(to_embed), gone=gone)

    def _write(self, changed: list[Chunk], removed: list[str], to_embed: list[Chunk], vectors: np.ndarray,
               accounts: list[tuple[str, int]] | None = None, chunks: list[Chunk] | None = None,
               gone: str | None = None) -> None:
        stale_vectors = [*removed, *(c.id for c in to_embed)]
        if stale_vectors:
            self.collection.delete(ids=stale_vectors)
        if to_embed:  # one add per batch: Chroma's per-call cost dominates small adds
            self.collection.add(ids=[c.id for c in to_embed], embeddings=vectors,
                                metadatas=[_meta(c) for c in to_embed])
        # the ledger is written last, in one transaction with the accounts' indexed revisions: after a crash the
        # next sync simply redoes this batch
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                lock_accounts(conn, [a for a, _ in accounts or []] + ([gone] if gone else []))
                if accounts and chunks is not None:
                    accounts, changed, removed = self._rediff(conn, accounts, chunks)
            self.lexical.write(changed, removed, self.model_id, to_embed, vectors if to_embed else None, conn)
            for account_id, revision in accounts or []:
                conn.execute(update(AccountRow).where(AccountRow.id == account_id, AccountRow.revision == revision)
                             .values(indexed_revision=revision))

    def _rediff(self, conn: Connection, accounts: list[tuple[str, int]],
                chunks: list[Chunk]) -> tuple[list[tuple[str, int]], list[Chunk], list[str]]:
        """Another process may have indexed some of these accounts since this batch was planned (two ingests, a
        bot saving a note): under the accounts' locks, keep only accounts still at the planned revision and not yet
        indexed at it, and diff their chunks against the ledger as it is now."""
        current = {r.id: (r.revision, r.indexed_revision) for r in conn.execute(
            select(AccountRow.id, AccountRow.revision, AccountRow.indexed_revision)
            .where(AccountRow.id.in_([a for a, _ in accounts])))}
        keep = [(a, rev) for a, rev in accounts if current.get(a, (None, None))[0] == rev
                and current[a][1] != rev]
        if len(keep) < len(accounts):
            log.info("sync: %d accounts of this batch were indexed by another process meanwhile",
                     len(accounts) - len(keep))
        ids = {a for a, _ in keep}
        mine = [c for c in chunks if c.account_id in ids]
        old = dict(conn.execute(select(ChunkRow.id, ChunkRow.hash).where(ChunkRow.account_id.in_(sorted(ids))))
                   .tuples().all()) if ids else {}
        wanted = {c.id for c in mine}
        return keep, [c for c in mine if old.get(c.id) != c.hash], [cid for cid in old if cid not in wanted]

    # ---------------------------------------------------------------- query
    def vector_search(self, text: str, account_ids: set[str] | None, k: int,
                      dimensions: list[str] | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first, within the allowed accounts."""
        if account_ids is not None and not account_ids:
            return []
        clauses = []
        if account_ids is not None:
            clauses.append({"account_id": {"$in": sorted(account_ids)}})
        if dimensions:
            clauses.append({"dimension": {"$in": list(dimensions)}})
        where = clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)
        vector = self.embedder.embed([text])
        if self.read_only:
            return self._ledger_search(vector[0], account_ids, k, dimensions)
        if account_ids is not None and len(account_ids) <= EXACT_SCOPE_ACCOUNTS:
            # A few accounts (a rep's portfolio, one resolved account): exact cosine over their kept vectors.
            # Chroma's metadata-filtered query costs ~95 ms at 130,000 chunks; this is a ledger read and a dot.
            scoped = self.lexical.scoped_vectors(self.model_id, account_ids, dimensions)
            if scoped is not None:
                ids, matrix = scoped
                if not ids:
                    return []
                sims = matrix @ vector[0]
                top = np.argsort(-sims, kind="stable")[:k]
                return [(ids[i], float(sims[i])) for i in top]
        result = self.collection.query(query_embeddings=vector, n_results=k, where=where, include=["distances"])
        return [(cid, 1.0 - dist) for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    def _ledger_search(self, vector: np.ndarray, account_ids: set[str] | None, k: int,
                       dimensions: list[str] | None) -> list[tuple[str, float]]:
        """Exact cosine over the ledger's vectors (read-only mode), a few hundred accounts per read."""
        scope = sorted(account_ids if account_ids is not None else self.lexical.account_ids())
        ids: list[str] = []
        sims: list[np.ndarray] = []
        for start in range(0, len(scope), EXACT_SCOPE_ACCOUNTS):
            part = self.lexical.scoped_vectors(self.model_id, set(scope[start:start + EXACT_SCOPE_ACCOUNTS]),
                                               dimensions)
            if part is None:  # a ledger from before vectors were kept: lexical results only
                return []
            if part[0]:
                ids += part[0]
                sims.append(part[1] @ vector)
        if not ids:
            return []
        scores = np.concatenate(sims)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(ids[i], float(scores[i])) for i in top]

    def count(self) -> int:
        if self.collection is None:
            return len(self.lexical.hashes())
        return self.collection.count()


def lock_accounts(conn: Connection, account_ids: list[str]) -> None:
    """PostgreSQL transaction locks on accounts' index entries, taken in one order (no deadlock between writers)."""
    for aid in sorted(set(account_ids)):
        key = int.from_bytes(hashlib.sha256(f"kam-index:{aid}".encode()).digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _load_profiles(store: Store, ids: list[str]) -> tuple[dict, dict[str, Exception]]:
    """The group's profiles in one read; if that fails (stored data that no longer validates, e.g. from before
    the input limits), account by account, so only the bad ones are left out."""
    try:
        return store.load_profiles(ids), {}
    except Exception:  # noqa: BLE001 - isolated below
        profiles: dict = {}
        failed: dict[str, Exception] = {}
        for account_id in ids:
            try:
                profiles.update(store.load_profiles([account_id]))
            except Exception as exc:  # noqa: BLE001 - reported per account
                failed[account_id] = exc
        return profiles, failed


def _why(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):  # a pydantic ValidationError: its first problem, located
        first = errors()[0]
        return "stored profile is not valid: " + ".".join(str(p) for p in first["loc"]) + f": {first['msg']}"
    return str(exc)[:500] or type(exc).__name__


MAX_CHUNK_CHARS = 200_000  # a profile chunk holds one dimension; stored text beyond this predates the input limits


def _checked(chunks: list[Chunk]) -> list[Chunk]:
    """Refuse an account whose chunk is too large to embed in bounded time (data stored before the limits)."""
    for c in chunks:
        if len(c.text) > MAX_CHUNK_CHARS:
            raise ValueError(f"{c.kind} {c.dimension or ''} text is {len(c.text):,} characters (limit "
                             f"{MAX_CHUNK_CHARS:,}); fix the profile and ingest it again")
    return chunks


def _meta(c: Chunk) -> dict:
    return {"account_id": c.account_id, "dimension": c.dimension, "kind": c.kind, "owner": c.owner,
            "team": ",".join(c.team), "updated": _epoch(c.updated)}
