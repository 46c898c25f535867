"""Lexical retrieval: BM25 over our own tokens (words, plus CJK characters and bigrams), kept in the database.

Account names, aliases, people and competitor names are exact strings that embeddings blur; this finds them.
The same tables hold the chunk ledger (which chunk, which content hash, its vector per model) that makes re-ingest
incremental. They live in the store's database, so every host of a deployment sees them, and BM25 is computed by
one portable query over a postings table: SQLite and PostgreSQL rank identically (same formula as FTS5's bm25).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from sqlalchemy import Integer, LargeBinary, String, Text, case, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, insert_ignore, upsert

if TYPE_CHECKING:  # numpy and the chunker are loaded by the functions that use them: every Store imports this module
    import numpy as np

    from knowledge.chunks import Chunk

_WORD = re.compile(r"[0-9a-z\u00c0-\u024f]+(?:['.][0-9a-z]+)*|[\u3400-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
STOPWORDS = frozenset(
    "a an and are at be by do does did for from has have how i in is it its me my of on or our the their them "
    "they this to was we what when where which who whom whose why with you your s".split()
)
FILTER_IN_QUERY_MAX = 200  # up to this many accounts are filtered inside the query; more are filtered after it
PART = 500  # ids per IN (...) list
MAX_TERM = 100  # characters of a term kept (a pasted URL is one long "word")
K1, B = 1.2, 0.75  # BM25 constants, as SQLite FTS5 uses them


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for match in _WORD.finditer(text.casefold()):
        word = match.group()
        if _CJK.match(word):
            tokens.extend(word)  # single characters...
            tokens.extend(word[i : i + 2] for i in range(len(word) - 1))  # ...and bigrams (no segmenter needed)
        else:
            tokens.append(word.replace("'", "").replace(".", ""))
    return tokens


def query_tokens(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for tok in tokenize(text):
        if tok not in STOPWORDS and (len(tok) > 1 or _CJK.match(tok)):
            seen.setdefault(tok, None)
    return list(seen)


class ChunkRow(Base):
    """One indexed chunk: what hybrid search returns, and the content hash that makes sync incremental."""

    __tablename__ = "chunks"
    rid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(400), unique=True)
    account_id: Mapped[str] = mapped_column(String(80), index=True)
    account: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str | None] = mapped_column(String(32))
    dimension: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(320))
    team: Mapped[str | None] = mapped_column(Text)  # comma-joined, as in the vector metadata
    updated: Mapped[str | None] = mapped_column(String(10))
    hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(Integer, default=0)  # tokens, for BM25's length normalisation


class ChunkTermRow(Base):
    """The postings: each distinct token of a chunk with its count, and the chunk's length (copied here so scoring
    reads only this table, in primary-key order: SQLite keeps it clustered, WITHOUT ROWID). No other index and no
    foreign key: a chunk's postings are deleted by primary key, from its kept text re-tokenized (as FTS5 does)."""

    __tablename__ = "chunk_terms"
    __table_args__ = {"sqlite_with_rowid": False}
    term: Mapped[str] = mapped_column(String(MAX_TERM), primary_key=True)
    rid: Mapped[int] = mapped_column(Integer, primary_key=True)
    tf: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)


class TermRow(Base):
    """Document frequency per term (BM25's idf), kept in step by every write: counting postings per query would
    read tens of thousands of rows for a common word."""

    __tablename__ = "lexical_terms"
    term: Mapped[str] = mapped_column(String(MAX_TERM), primary_key=True)
    df: Mapped[int] = mapped_column(Integer, default=0)


class ChunkVectorRow(Base):
    """A chunk's vector under one embedding model (float32 bytes): exact search within a few accounts, and the
    source a Chroma collection is rebuilt from without embedding again."""

    __tablename__ = "chunk_vectors"
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)


class LexicalStatsRow(Base):
    """Chunk count and total tokens (BM25's N and average length), kept in step by every write."""

    __tablename__ = "lexical_stats"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docs: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)


C, T, V, S, D = ChunkRow, ChunkTermRow, ChunkVectorRow, LexicalStatsRow, TermRow
FIELDS = ("id", "account_id", "account", "kind", "dimension", "owner", "updated", "text")


def _parts(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), PART):
        yield ids[i : i + PART]


def _terms(text: str) -> Counter[str]:
    return Counter(t[:MAX_TERM] for t in tokenize(text))


class LexicalIndex:
    """BM25 over chunk tokens, plus the ledger of chunk ids, hashes and vectors, in the store's database."""

    def __init__(self, engine: Engine):
        self.engine = engine
        with engine.begin() as c:
            insert_ignore(c, S, [{"id": 1, "docs": 0, "tokens": 0}], ["id"])

    # ------------------------------------------------------------ ledger
    def hashes(self, account_ids: Iterable[str] | None = None) -> dict[str, str]:
        with self.engine.connect() as c:
            if account_ids is None:
                return dict(c.execute(select(C.id, C.hash)).tuples().all())
            out: dict[str, str] = {}
            for part in _parts(list(account_ids)):
                out.update(c.execute(select(C.id, C.hash).where(C.account_id.in_(part))).tuples().all())
            return out

    def chunk_count(self) -> int:
        """How many chunks the ledger holds (every account's)."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(C)).scalar_one())

    def embedded_hashes(self, model: str, chunk_ids: Iterable[str]) -> dict[str, str]:
        with self.engine.connect() as c:
            out: dict[str, str] = {}
            for part in _parts(list(chunk_ids)):
                out.update(c.execute(select(V.chunk_id, V.hash).where(V.model == model, V.chunk_id.in_(part)))
                           .tuples().all())
            return out

    def in_step(self, model: str) -> bool:
        """Whether every ledger chunk has a vector under this model (false right after a model switch)."""
        with self.engine.connect() as c:
            chunks = c.scalar(select(func.count()).select_from(C))
            vectors = c.scalar(select(func.count()).select_from(V).where(V.model == model))
            return chunks == vectors

    def vector_count(self, model: str) -> int:
        with self.engine.connect() as c:
            return c.scalar(select(func.count()).select_from(V).where(V.model == model)) or 0

    def account_ids(self) -> set[str]:
        with self.engine.connect() as c:
            return set(c.scalars(select(C.account_id).distinct()))

    def chunk_ids(self, account_id: str) -> list[str]:
        with self.engine.connect() as c:
            return list(c.scalars(select(C.id).where(C.account_id == account_id).order_by(C.rid)))

    def write(self, upserts: list[Chunk], deletes: list[str], model: str, embedded: list[Chunk],
              vectors: np.ndarray | None = None, conn: Connection | None = None) -> None:
        """Apply one batch to the ledger and the postings in one transaction (the caller's, when given: the sync
        marks the batch's accounts indexed in the same one). After the vectors are in Chroma."""
        if conn is None:
            with self.engine.begin() as own:
                return self.write(upserts, deletes, model, embedded, vectors, own)
        gone = [*deletes, *(c.id for c in upserts)]
        docs = tokens = 0
        df: Counter[str] = Counter()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for part in _parts(gone):
            # counted from what this transaction really deleted (a concurrent writer may have been first)
            dead = conn.execute(delete(C).where(C.id.in_(part)).returning(C.rid, C.length, C.text)).all()
            if dead:
                pairs = []
                for rid, _, text in dead:
                    terms = _terms(text)
                    df.subtract(terms.keys())
                    pairs.extend((term, rid) for term in terms)
                conn.exec_driver_sql(f"DELETE FROM chunk_terms WHERE term = {mark} AND rid = {mark}", pairs)
                docs, tokens = docs - len(dead), tokens - sum(r.length for r in dead)
        for part in _parts(deletes):
            conn.execute(delete(V).where(V.chunk_id.in_(part)))
        if upserts:
            terms = [_terms(c.text) for c in upserts]
            rows = [{"id": c.id, "account_id": c.account_id, "account": c.account, "kind": c.kind,
                     "dimension": c.dimension, "owner": c.owner, "team": ",".join(c.team),
                     "updated": c.updated.isoformat() if c.updated else None, "hash": c.hash, "text": c.text,
                     "length": sum(t.values())} for c, t in zip(upserts, terms, strict=True)]
            rids = conn.execute(insert(C).returning(C.rid, sort_by_parameter_order=True), rows).scalars().all()
            postings = [(term, rid, tf, row["length"])
                        for rid, t, row in zip(rids, terms, rows, strict=True) for term, tf in t.items()]
            if postings:  # ~60 rows per chunk: straight to the driver's executemany, past Core's per-row work
                conn.exec_driver_sql(f"INSERT INTO chunk_terms (term, rid, tf, length) VALUES "
                                     f"({mark}, {mark}, {mark}, {mark})", postings)
            for t in terms:
                df.update(t.keys())
            docs, tokens = docs + len(rows), tokens + sum(r["length"] for r in rows)
        changed = sorted((term, n) for term, n in df.items() if n)  # sorted: concurrent writers lock rows in one order
        if changed:
            conn.exec_driver_sql(f"INSERT INTO lexical_terms (term, df) VALUES ({mark}, {mark}) ON CONFLICT (term) "
                                 "DO UPDATE SET df = lexical_terms.df + excluded.df", changed)
        if docs or tokens:
            conn.execute(update(S).where(S.id == 1).values(docs=S.docs + docs, tokens=S.tokens + tokens))
        if embedded:
            import numpy as np

            blobs = ([np.asarray(v, dtype=np.float32).tobytes() for v in vectors] if vectors is not None
                     else [None] * len(embedded))
            upsert(conn, V, [{"model": model, "chunk_id": c.id, "hash": c.hash, "vector": b}
                             for c, b in zip(embedded, blobs, strict=True)], ["model", "chunk_id"])
        return None

    def scoped_vectors(self, model: str, account_ids: set[str],
                       dimensions: list[str] | None = None) -> tuple[list[str], np.ndarray] | None:
        """Chunk ids and their vectors within the accounts (and dimensions); None when some vector is not kept."""
        import numpy as np

        q = (select(C.id, V.vector).outerjoin(V, (V.chunk_id == C.id) & (V.model == model))
             .where(C.account_id.in_(sorted(account_ids))).order_by(C.rid))
        if dimensions:
            q = q.where(C.dimension.in_(list(dimensions)))
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        if any(blob is None for _, blob in rows):
            return None
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return [r[0] for r in rows], matrix

    def all_vectors(self, model: str, batch: int = 2000) -> Iterator[list[tuple[dict, bytes]]]:
        """Every chunk with its vector under the model, in batches (to rebuild a Chroma collection)."""
        q = (select(C.id, C.account_id, C.kind, C.dimension, C.owner, C.team, C.updated, V.vector)
             .join(V, (V.chunk_id == C.id) & (V.model == model)).where(V.vector.is_not(None)).order_by(C.rid))
        with self.engine.connect() as c:
            result = c.execution_options(yield_per=batch).execute(q)
            for part in result.partitions(batch):
                yield [(dict(r._mapping), r.vector) for r in part]

    # ------------------------------------------------------------ search
    def search(self, text: str, account_ids: set[str] | None, k: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score; higher is better), best first; ties in indexing order."""
        tokens = list(dict.fromkeys(t[:MAX_TERM] for t in query_tokens(text)))
        if not tokens or (account_ids is not None and not account_ids):
            return []
        in_query = account_ids is not None and len(account_ids) <= FILTER_IN_QUERY_MAX
        limit = k if account_ids is None or in_query else k * 20
        with self.engine.connect() as c:
            n, total = c.execute(select(S.docs, S.tokens).where(S.id == 1)).one()
            df = dict(c.execute(select(D.term, D.df).where(D.term.in_(tokens), D.df > 0)).tuples().all())
            if not n or not df:
                return []
            avgdl = total / n
            # FTS5's idf, floored just above zero so a term in most chunks still counts a little
            idf = {t: max(math.log((n - d + 0.5) / (d + 0.5)), 1e-6) for t, d in sorted(df.items())}
            informative = {t: w for t, w in idf.items() if w > 1e-6}
            if informative and len(informative) < len(idf):
                # a term in over half the chunks adds ~nothing to a score but is most of the postings to read
                idf = informative
            weight = case(*[(T.term == t, w) for t, w in idf.items()], else_=0.0)
            score = func.sum(weight * T.tf * (K1 + 1) / (T.tf + K1 * (1 - B + B * T.length / avgdl))).label("score")
            q = select(T.rid, score).where(T.term.in_(list(idf)))
            if in_query:  # a few accounts: their chunks' ids first, then only those postings (primary-key seeks)
                rids = c.execute(select(C.rid).where(C.account_id.in_(sorted(account_ids)))).scalars().all()
                if not rids:
                    return []
                q = q.where(T.rid.in_(rids))
            top = c.execute(q.group_by(T.rid).order_by(score.desc(), T.rid).limit(limit)).all()
            meta = {r.rid: (r.id, r.account_id) for r in
                    c.execute(select(C.rid, C.id, C.account_id).where(C.rid.in_([t.rid for t in top])))}
        out = [(meta[rid][0], float(sc)) for rid, sc in top
               if rid in meta and (account_ids is None or meta[rid][1] in account_ids)]
        return out[:k]

    def get(self, chunk_ids: list[str]) -> dict[str, dict]:
        out = {}
        with self.engine.connect() as c:
            for part in _parts(list(chunk_ids)):
                for row in c.execute(select(*(getattr(C, f) for f in FIELDS)).where(C.id.in_(part))):
                    out[row[0]] = dict(zip(FIELDS, row, strict=True))
        return out

    def close(self) -> None:
        """Nothing to release: connections belong to the engine's pool."""
