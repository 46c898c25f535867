"""Hybrid retrieval: vector and lexical results fused by reciprocal rank, filtered to what the asker may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from knowledge.index import Index

RRF_K = 60  # the usual reciprocal-rank-fusion constant: rank 1 and rank 5 differ, but neither dominates


@dataclass
class Hit:
    chunk_id: str
    account_id: str
    account: str
    kind: str
    dimension: str | None
    owner: str
    updated: dt.date | None
    text: str
    score: float  # fused RRF score
    vector_score: float | None = None
    lexical_score: float | None = None
    vector_rank: int | None = None
    lexical_rank: int | None = None


def hybrid_search(index: Index, query: str, account_ids: set[str] | None = None, k: int = 8,
                  dimensions: list[str] | None = None, depth: int | None = None) -> list[Hit]:
    """Top-k chunks for a query. `account_ids=None` searches everything (admins); an empty set finds nothing."""
    depth = depth or max(20, k * 3)
    vec = index.vector_search(query, account_ids, depth, dimensions)
    lex = index.lexical.search(query, account_ids, depth * (2 if dimensions else 1))
    fused: dict[str, dict] = {}
    for rank, (cid, score) in enumerate(vec, 1):
        fused.setdefault(cid, {})["v"] = (rank, score)
    for rank, (cid, score) in enumerate(lex, 1):
        fused.setdefault(cid, {})["l"] = (rank, score)
    rows = index.lexical.get(list(fused))
    hits = []
    for cid, parts in fused.items():
        row = rows.get(cid)
        if row is None or (dimensions and row["dimension"] not in dimensions):
            continue
        if account_ids is not None and row["account_id"] not in account_ids:  # defence in depth
            continue
        v, lx = parts.get("v"), parts.get("l")
        score = (1 / (RRF_K + v[0]) if v else 0.0) + (1 / (RRF_K + lx[0]) if lx else 0.0)
        hits.append(Hit(
            chunk_id=cid, account_id=row["account_id"], account=row["account"], kind=row["kind"],
            dimension=row["dimension"] or None, owner=row["owner"],
            updated=dt.date.fromisoformat(row["updated"]) if row["updated"] else None, text=row["text"],
            score=score, vector_score=v[1] if v else None, lexical_score=lx[1] if lx else None,
            vector_rank=v[0] if v else None, lexical_rank=lx[0] if lx else None))
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[:k]
