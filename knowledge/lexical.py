"""Lexical retrieval: SQLite FTS5 with BM25 over our own tokens (words, plus CJK characters and bigrams).

Account names, aliases, people and competitor names are exact strings that embeddings blur; this finds them.
The index file also holds the chunk ledger (which chunk, which content hash) that makes re-ingest incremental.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from knowledge.chunks import Chunk

_WORD = re.compile(r"[0-9a-z\u00c0-\u024f]+(?:['.][0-9a-z]+)*|[\u3400-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
STOPWORDS = frozenset(
    "a an and are at be by do does did for from has have how i in is it its me my of on or our the their them "
    "they this to was we what when where which who whom whose why with you your s".split()
)
FILTER_IN_MATCH_MAX = 40  # up to this many accounts are filtered inside the FTS query itself


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


def _acct_token(account_id: str) -> str:
    return "acct" + re.sub(r"[^0-9a-z]", "", account_id.lower())[:60]


class LexicalIndex:
    """FTS5 over chunk tokens, plus the ledger of chunk ids and hashes (and which hashes are embedded where)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS chunks (
                rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, account_id TEXT NOT NULL, account TEXT,
                kind TEXT, dimension TEXT, owner TEXT, updated TEXT, hash TEXT NOT NULL, text TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS chunks_account ON chunks(account_id);
            CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(tokens, acct, content='', tokenize='unicode61');
            CREATE TABLE IF NOT EXISTS embedded (
                collection TEXT NOT NULL, chunk_id TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB,
                PRIMARY KEY (collection, chunk_id));
            """
        )
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(embedded)")}
        if "vector" not in columns:  # a ledger from before vectors were kept: scoped search falls back to Chroma
            self.db.execute("ALTER TABLE embedded ADD COLUMN vector BLOB")

    # ------------------------------------------------------------ ledger
    def hashes(self, account_ids: Iterable[str] | None = None) -> dict[str, str]:
        with self._lock:
            if account_ids is None:
                return dict(self.db.execute("SELECT id, hash FROM chunks"))
            out: dict[str, str] = {}
            ids = list(account_ids)
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                q = f"SELECT id, hash FROM chunks WHERE account_id IN ({','.join('?' * len(part))})"
                out.update(self.db.execute(q, part))
            return out

    def embedded_hashes(self, collection: str, chunk_ids: Iterable[str]) -> dict[str, str]:
        with self._lock:
            ids = list(chunk_ids)
            out: dict[str, str] = {}
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                marks = ",".join("?" * len(part))
                q = f"SELECT chunk_id, hash FROM embedded WHERE collection=? AND chunk_id IN ({marks})"
                out.update(self.db.execute(q, [collection, *part]))
            return out

    def in_step(self, collection: str) -> bool:
        """Whether every ledger chunk has a vector in this collection (false right after a model switch)."""
        with self._lock:
            chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            vectors = self.db.execute("SELECT COUNT(*) FROM embedded WHERE collection=?", (collection,)).fetchone()[0]
            return chunks == vectors

    def account_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self.db.execute("SELECT DISTINCT account_id FROM chunks")}

    def chunk_ids(self, account_id: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE account_id=?", (account_id,))]

    def write(self, upserts: list[Chunk], deletes: list[str], collection: str, embedded: list[Chunk],
              vectors: np.ndarray | None = None) -> None:
        """Apply one batch to the ledger and FTS in a single transaction (after the vectors are in Chroma).
        The vectors are kept too (float32), for exact search within a few accounts (see `scoped_vectors`)."""
        with self._lock:
            cur = self.db.cursor()
            cur.execute("BEGIN")
            try:
                for cid in [*deletes, *(c.id for c in upserts)]:
                    row = cur.execute("SELECT rid, text, account_id FROM chunks WHERE id=?", (cid,)).fetchone()
                    if row:  # a contentless FTS row is deleted by repeating what was indexed
                        cur.execute("INSERT INTO chunk_fts(chunk_fts, rowid, tokens, acct) VALUES('delete', ?, ?, ?)",
                                    (row[0], " ".join(tokenize(row[1])), _acct_token(row[2])))
                        cur.execute("DELETE FROM chunks WHERE rid=?", (row[0],))
                for cid in deletes:
                    cur.execute("DELETE FROM embedded WHERE chunk_id=?", (cid,))
                for c in upserts:
                    cur.execute(
                        "INSERT INTO chunks(id, account_id, account, kind, dimension, owner, updated, hash, text) "
                        "VALUES (?,?,?,?,?,?,?,?,?)",
                        (c.id, c.account_id, c.account, c.kind, c.dimension, c.owner,
                         c.updated.isoformat() if c.updated else None, c.hash, c.text),
                    )
                    cur.execute("INSERT INTO chunk_fts(rowid, tokens, acct) VALUES (?, ?, ?)",
                                (cur.lastrowid, " ".join(tokenize(c.text)), _acct_token(c.account_id)))
                blobs = ([np.asarray(v, dtype=np.float32).tobytes() for v in vectors] if vectors is not None
                         else [None] * len(embedded))
                cur.executemany("INSERT OR REPLACE INTO embedded(collection, chunk_id, hash, vector) VALUES (?,?,?,?)",
                                [(collection, c.id, c.hash, b) for c, b in zip(embedded, blobs, strict=True)])
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def scoped_vectors(self, collection: str, account_ids: set[str],
                       dimensions: list[str] | None = None) -> tuple[list[str], np.ndarray] | None:
        """Chunk ids and their vectors within the accounts (and dimensions); None when some vector is not kept."""
        ids = sorted(account_ids)
        # CROSS JOIN fixes the loop order (SQLite keeps it): the few chunks of these accounts by their index, then
        # each one's vector by primary key. Left to itself the planner walked every vector of the collection.
        q = ("SELECT c.id, e.vector FROM chunks c CROSS JOIN embedded e ON e.chunk_id = c.id AND e.collection = ? "
             f"WHERE c.account_id IN ({','.join('?' * len(ids))})")
        params: list[str] = [collection, *ids]
        if dimensions:
            q += f" AND c.dimension IN ({','.join('?' * len(dimensions))})"
            params += list(dimensions)
        with self._lock:
            rows = self.db.execute(q, params).fetchall()
        if any(blob is None for _, blob in rows):
            return None
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return [r[0] for r in rows], matrix

    # ------------------------------------------------------------ search
    def search(self, text: str, account_ids: set[str] | None, k: int) -> list[tuple[str, float]]:
        """(chunk id, bm25 score; higher is better), best first."""
        tokens = query_tokens(text)
        if not tokens:
            return []
        match = "tokens: (" + " OR ".join(f'"{t}"' for t in tokens) + ")"
        in_match = account_ids is not None and len(account_ids) <= FILTER_IN_MATCH_MAX
        if account_ids is not None and not account_ids:
            return []
        if in_match:
            match += " AND acct: (" + " OR ".join(_acct_token(a) for a in sorted(account_ids)) + ")"
        limit = k if account_ids is None or in_match else k * 20
        with self._lock:
            rows = self.db.execute(
                "SELECT c.id, c.account_id, bm25(chunk_fts) FROM chunk_fts JOIN chunks c ON c.rid = chunk_fts.rowid "
                "WHERE chunk_fts MATCH ? ORDER BY bm25(chunk_fts) LIMIT ?", (match, limit)).fetchall()
        out = [(cid, -score) for cid, acc, score in rows if account_ids is None or acc in account_ids]
        return out[:k]

    def get(self, chunk_ids: list[str]) -> dict[str, dict]:
        with self._lock:
            out = {}
            for i in range(0, len(chunk_ids), 500):
                part = chunk_ids[i : i + 500]
                q = ("SELECT id, account_id, account, kind, dimension, owner, updated, text FROM chunks "
                     f"WHERE id IN ({','.join('?' * len(part))})")
                for row in self.db.execute(q, part):
                    out[row[0]] = dict(zip(("id", "account_id", "account", "kind", "dimension", "owner", "updated",
                                            "text"), row, strict=True))
            return out

    def close(self) -> None:
        with self._lock:
            self.db.close()
