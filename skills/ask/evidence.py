"""Evidence from everything an account holds: the one or two sentences (or table lines) of its documents, notes
and profile text that answer a question, chosen by meaning, shared words and the kind of answer expected.

Retrieval is the hybrid search (vector + lexical) over the account, first in the dimension the question is about,
then anywhere; its chunks are cut into sentences and lines, which are scored against the question. Filings'
flattened tables put a name and its title on consecutive lines, so short lines are also scored joined to the line
before them.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import snowballstemmer

from knowledge.kb import KnowledgeBase
from knowledge.lexical import query_tokens
from knowledge.retrieval import Hit, hybrid_search
from skills.ask.understand import Query
from skills.ask.vocab import vocabulary

MAX_CANDIDATES = 24  # sentences embedded per question (~45 ms for 40 with the offline model)
EMBED_CHARS = 200  # of each sentence: the model's cost grows with length, the meaning is in the start
MAX_QUOTE = 420  # characters of one quoted sentence
MIN_SCORE = 0.42  # below this nothing on file answers the question (measured on the evaluation's dev split)
SECOND_WITHIN = 0.08  # a second sentence is quoted when it scores this close to the best
STRONG_SCORE = 0.6  # a sentence quoted beside a structured answer must fit the question's own words this well
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+(?=[A-Z0-9\u3400-\u9fff(\"“])")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PERCENT = re.compile(r"\d+(?:\.\d+)?\s*%|\bpercent\b|百分之")
_NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)?\s*(?:million|billion|thousand)\b|\b\d{2,}\b")
_DATE = re.compile(r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b|\b(?:january|february|march|april|may|june|july|august|"
                   r"september|october|november|december)\s+\d{1,2}\b", re.I)
_PERSON = re.compile(r"\b(?:[A-Z][a-z]+|[A-Z]\.)(?:\s+(?:[A-Z][a-z]+|[A-Z]\.|\([\"“']?[A-Z][a-z]+[\"”']?\)))*"
                     r"\s+[A-Z][a-zA-Z'\-]+\b")
# a 10-K biography names the person by surname: "DeCaro has served as ...", "Kearney was appointed ..."
_BIO = re.compile(r"(?:^|[.;]\s+)(?:Mr\.|Ms\.|Mrs\.|Dr\.)?\s*[A-Z][a-zA-Z'\-]+\s+(?:has\s+(?:served|been)|became|"
                  r"joined|was\s+(?:appointed|elected|named|promoted)|serves|is\s+(?:the|our))\b")
_NOT_NAME = frozenset(
    "chief executive officer president vice senior director chairman board company financial operating "
    "technology officers executive general manager treasurer secretary counsel controller human resources the "
    "of and our in on for since from as group corporate inc corp north south east west new united states".split())
_PLACE = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?,\s+(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?|[A-Z]{2})\b")


@dataclass
class Evidence:
    text: str
    hit: Hit
    score: float


def _header_free(hit: Hit) -> str:
    """The chunk without its "Account - title" first line (documents) or "Account - note (...):" prefix."""
    if hit.kind == "document":
        return hit.text.split("\n", 1)[1] if "\n" in hit.text else hit.text
    if hit.kind in ("note", "interaction", "contact"):
        return hit.text.split(": ", 1)[1] if ": " in hit.text else hit.text
    return hit.text.split("\n", 1)[1] if "\n" in hit.text else hit.text


def _candidates(hits: list[Hit]) -> list[tuple[str, Hit]]:
    out: list[tuple[str, Hit]] = []
    seen: set[str] = set()
    for hit in hits:
        lines = [line.strip(" -•\t") for line in _header_free(hit).split("\n")]
        lines = [line for line in lines if line and not _shouting(line)]
        cells = {i for i, line in enumerate(lines) if _heading_like(line)}
        for i, line in enumerate(lines):
            pieces = [] if i in cells else _SENTENCE.split(line) if len(line) > 200 else [line]
            for piece in pieces:
                piece = piece.strip()
                if len(piece) >= 12 and piece not in seen:
                    seen.add(piece)
                    out.append((piece, hit))
            prev = lines[i - 1] if i else ""
            # a table row split into cells: name then title, never a title then the next row's name
            if len(line) < 80 and 0 < len(prev) < 80 and (_has_person(prev) or not _has_person(line)):
                joined = f"{prev} — {line}"
                if joined not in seen:
                    seen.add(joined)
                    out.append((joined, hit))
    return out


_HONORIFIC = re.compile(r"\b(?:Mr|Ms|Mrs|Dr)\.?\s+[A-Z][a-zA-Z'\-]+")


@lru_cache(maxsize=1)
def _given_names():  # noqa: ANN202 - gender_guesser's Detector
    import gender_guesser.detector

    return gender_guesser.detector.Detector(case_sensitive=False)


def _has_person(text: str) -> bool:
    """A person's name: "Mr. Kearney", or capitalised words led by a known given name ("Joe Caldarelli", "O. Joe
    Caldarelli"), never title or company words ("Chief Executive", "Securities and Exchange Commission")."""
    if _HONORIFIC.search(text) or _BIO.search(text):
        return True
    names = _given_names()
    for m in _PERSON.finditer(text):
        if m.start() and text[m.start() - 1] in "-/&":
            continue  # "Wal-Mart Stores": part of a company's name
        words = []
        for w in m.group().split():  # "David D. Glass President": the name ends where the title starts
            if w.casefold().strip(".,") in _NOT_NAME:
                break
            if not re.fullmatch(r"[A-Z]\.|\(.*\)", w):
                words.append(w)
        if len(words) < 2:
            continue
        if names.get_gender(words[0]) != "unknown":
            return True
    return False


_stemmer = snowballstemmer.stemmer("english")
_stem_lock = threading.Lock()  # the generated stemmer keeps state between calls


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    with _stem_lock:
        return _stemmer.stemWord(word)


def _roots(text: str) -> set[str]:
    """Word stems, so that "headquartered" meets "headquarters" and "employed" meets "employees"."""
    return {_stem(w) for w in query_tokens(text)}


def _heading_like(line: str) -> bool:
    """A short Title Case line with no sentence in it: a heading or a table cell, quoted only joined to its row."""
    words = line.split()
    if len(words) > 8 or line.rstrip().endswith((".", ":", ";")) or any(c.isdigit() for c in line[:1]):
        return False
    caps = [w for w in words if w[:1].isalpha()]
    return bool(caps) and sum(w[0].isupper() for w in caps) / len(caps) >= 0.6


def _shouting(line: str) -> bool:
    """An ALL-CAPS line: a heading or a risk factor's title, never the sentence that answers."""
    letters = [c for c in line if c.isalpha() and c.isascii()]
    return len(letters) > 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _proper_names(text: str) -> int:
    """Capitalised words after the first one: how many names a sentence carries."""
    tokens = re.findall(r"[A-Za-z][\w&'.\-]*", text)[1:]
    return sum(1 for w in tokens if w[0].isupper() and w.casefold() not in _COMMON_CAPITALISED)


_COMMON_CAPITALISED = frozenset("the company our we it its in on of and a an this these those such as for i "
                                "inc inc. corp co ltd llc".split())


def _type_bonus(q: Query, text: str) -> float:
    """How well a sentence has the shape of the expected answer (a person with the asked title, a percentage)."""
    kind = q.answer_type
    bonus = 0.0
    if kind == "percent":
        bonus += 0.25 if _PERCENT.search(text) else -0.1
    elif kind == "number":
        bonus += 0.15 if _NUMBER.search(text) else -0.1
    elif kind == "date" and _DATE.search(text):
        bonus += 0.15
    elif kind == "person":
        if not _has_person(text):
            return -0.3  # a title with no name in it does not say who
        bonus += 0.1
    elif kind == "companies":
        names = _proper_names(text)
        bonus += min(names, 8) * 0.05 - (0.1 if names < 2 else 0.0)
    elif kind == "place" and _PLACE.search(text):
        bonus += 0.2
    if q.titles:
        found = vocabulary().title_canon(text)
        wanted = q.titles - vocabulary().title_ranks or q.titles
        if wanted and wanted <= found:
            bonus += 0.3
    return bonus


def find(kb: KnowledgeBase, q: Query, accounts: set[str] | None, dimensions: list[str] | None = None,
         k: int = 16, min_score: float = MIN_SCORE, kinds: tuple[str, ...] | None = None,
         ) -> tuple[list[Evidence], list[Hit]]:
    """The best sentence(s) and the hits they came from; ([], hits) when nothing scores well enough.
    `kinds`: only chunks of these kinds (documents and notes when the profile's own field is empty)."""
    hits: list[Hit] = []
    if dimensions:
        hits += hybrid_search(kb.index, q.search_text, accounts, k=k, dimensions=dimensions)
    seen = {h.chunk_id for h in hits}
    hits += [h for h in hybrid_search(kb.index, q.search_text, accounts, k=k) if h.chunk_id not in seen]
    if kinds:
        hits = [h for h in hits if h.kind in kinds]
    names = {w for h in hits[:1] for w in _roots(h.account)}  # the account's own name is in every sentence's context
    terms = _roots(" ".join(m for m in q.concept_words))  # "competitors" asked is the concept, like "compete"
    asked = _roots(q.text) - names - terms
    expanded = (_roots(q.search_text) | terms) - asked - names
    candidates = _candidates(hits)
    roots = [_roots(text) for text, _ in candidates]
    if len(candidates) > MAX_CANDIDATES:  # keep the lines sharing most words with the question, in hit order
        keyed = sorted(range(len(candidates)), key=lambda i: (-len((asked | expanded) & roots[i]), i))
        keep = sorted(keyed[:MAX_CANDIDATES])
        candidates, roots = [candidates[i] for i in keep], [roots[i] for i in keep]
    if not candidates:
        return [], hits
    embedder = kb.index.embedder
    vectors = _sentence_vectors(embedder, [text[:EMBED_CHARS] for text, _ in candidates])
    sims = vectors @ embedder.embed([q.search_text])[0]
    extra = q.search_text[len(q.text):].strip()
    if extra:  # the concept's English words alone: what a Chinese question about an English filing means
        sims = np.maximum(sims, vectors @ embedder.embed([extra])[0])
    ranks = {h.chunk_id: i for i, h in enumerate(hits)}
    scored = []
    for (text, hit), sim, toks in zip(candidates, sims, roots, strict=True):
        cjk = bool(_CJK.search(text))
        own = {w for w in asked if bool(_CJK.search(w)) == cjk}  # words of the sentence's script can match
        # the concept's words say the topic is there (at most twice, however many variants a sentence repeats)
        overlap = min(1.0, (len(own & toks) + 0.5 * min(2, len(expanded & toks))) / max(2, len(own)))
        score = 0.6 * float(sim) + 0.5 * overlap + _type_bonus(q, text) - 0.01 * ranks[hit.chunk_id]
        scored.append(Evidence(_trim(text, asked | expanded), hit, score))
    scored.sort(key=lambda e: e.score, reverse=True)
    best = scored[0]
    if best.score < min_score:
        return [], hits
    chosen = [best]
    second = next((e for e in scored[1:] if e.text not in best.text and best.text not in e.text), None)
    if second and second.score >= best.score - SECOND_WITHIN and second.score >= min_score:
        chosen.append(second)
    return chosen, hits


_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()  # (model, sentence) -> vector
_vectors_lock = threading.Lock()
KEPT_SENTENCE_VECTORS = 20_000  # ~40 MB at 512 dimensions: an account's sentences are scored again and again


def _sentence_vectors(embedder, texts: list[str]) -> np.ndarray:  # noqa: ANN001
    """Sentence embeddings, computing only those not seen recently."""
    model = getattr(embedder, "model_id", "")
    with _vectors_lock:
        known = {t: _vectors[(model, t)] for t in texts if (model, t) in _vectors}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        fresh = embedder.embed(missing)
        with _vectors_lock:
            for t, v in zip(missing, fresh, strict=True):
                known[t] = _vectors[(model, t)] = v
            while len(_vectors) > KEPT_SENTENCE_VECTORS:
                _vectors.popitem(last=False)
    return np.stack([known[t] for t in texts])


def _trim(text: str, wanted: set[str] = frozenset()) -> str:
    """At most MAX_QUOTE characters, taken around the first place the question's words appear."""
    text = " ".join(text.split())
    if len(text) <= MAX_QUOTE:
        return text
    start = 0
    for m in re.finditer(r"[A-Za-z]+", text):
        if _stem(m.group().casefold()) in wanted:
            start = max(0, m.start() - 80)
            break
    start = text.rfind(" ", 0, start) + 1 if start else 0
    piece = text[start: start + MAX_QUOTE]
    piece = piece.rsplit(" ", 1)[0] if start + MAX_QUOTE < len(text) else piece
    return ("…" if start else "") + piece + ("…" if start + len(piece) < len(text) else "")
