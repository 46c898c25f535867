"""The question vocabulary (data/vocab.yaml) and the labelled examples (data/examples.yaml), and how both are matched.

Terms are matched on normalised text: NFKC, case folded, English words lightly stemmed, Chinese as substrings.
Examples are ranked by meaning with the embedding model the index already loaded (cross-lingual), after the
question's grounded names are masked the same way the examples write them (X, P, S).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    import numpy as np

DATA = Path(__file__).parent / "data"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[0-9a-z\u00c0-\u024f]+(?:[&'.\-][0-9a-z]+)*|[<>%]")


def normalise(text: str) -> str:
    """NFKC (full-width letters, ideographic spaces), case folded, curly quotes straightened, spaces collapsed,
    hyphens as spaces ("Wal-Mart" = "Wal Mart", "single-threaded" = "single threaded"); lengths are kept after the
    collapse, so positions in it are positions in the question."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'").casefold()
    return " ".join(text.split()).replace("-", " ")


def stem(word: str) -> str:
    """Plural and possessive endings only: enough to match "suppliers" with "supplier", never a full stemmer."""
    word = word.removesuffix("'s").removesuffix("'")
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[tuple[str, int, int]]:
    """(stemmed word, start, end) over normalised text."""
    return [(stem(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True)
class Term:
    label: str
    text: str  # normalised
    tokens: tuple[str, ...]  # stemmed English words; () for Chinese terms


def _terms(label: str, spec: dict | list) -> list[Term]:
    raw = spec if isinstance(spec, list) else [*spec.get("en", []), *spec.get("zh", [])]
    out = []
    for term in raw:
        text = normalise(str(term))
        out.append(Term(label, text, () if is_cjk(text) else tuple(w for w, _, _ in words(text))))
    return out


@dataclass(frozen=True)
class Match:
    label: str
    start: int
    end: int
    text: str


def find_terms(text: str, terms: list[Term], tokens: list[tuple[str, int, int]] | None = None) -> list[Match]:
    """Every occurrence of every term in normalised `text`, longest first and never overlapping."""
    tokens = words(text) if tokens is None else tokens
    stems = [w for w, _, _ in tokens]
    present = set(stems)
    found: list[Match] = []
    for term in terms:
        if not term.tokens:
            if not term.text:
                continue
            start = text.find(term.text)
            while start >= 0:
                found.append(Match(term.label, start, start + len(term.text), term.text))
                start = text.find(term.text, start + 1)
            continue
        if term.tokens[0] not in present:  # most terms are ruled out by their first word
            continue
        n = len(term.tokens)
        for i in range(len(stems) - n + 1):
            if tuple(stems[i:i + n]) == term.tokens:
                found.append(Match(term.label, tokens[i][1], tokens[i + n - 1][2], term.text))
    found.sort(key=lambda m: (-(m.end - m.start), m.start))
    kept: list[Match] = []
    for m in found:
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)


class Vocabulary:
    def __init__(self, data: dict):
        self.data = data
        self.concepts = {label: spec for label, spec in data["concepts"].items()}
        self.concept_terms = [t for label, spec in self.concepts.items() for t in _terms(label, spec)]
        self.portfolio_terms = _terms("portfolio", data["portfolio"])
        self.sort_metrics: dict[str, str] = data["sort_metrics"]
        self.superlative_terms = [t for d, spec in data["superlatives"].items() for t in _terms(d, spec)]
        self.filter_terms = [t for f, spec in data["filters"].items() for t in _terms(f, spec)]
        self.tier_terms = [t for tier, spec in data["tiers"].items() for t in _terms(f"tier={tier}", spec)]
        self.title_terms = [t for canon, ts in data["titles"].items() for t in _terms(canon, ts)]
        self.title_ranks = set(data["title_ranks"])
        self.not_names = {normalise(w) for w in data["not_names"]["en"] + data["not_names"]["zh"]}

    def dimension(self, text: str) -> str | None:
        """The profile dimension a word or phrase names, in English or Chinese ("vendors", "organization",
        "供应商"), by the `dim:` concepts above; None when it names none, or more than one."""
        key = normalise(text)
        if key in (label.removeprefix("dim:") for label in self.concepts if label.startswith("dim:")):
            return key
        matches = find_terms(key, self.concept_terms)
        rest = key
        for m in matches:
            rest = rest[:m.start] + " " * (m.end - m.start) + rest[m.end:]
        found = {m.label for m in matches}
        if rest.strip(" ,/&'") or len(found) != 1 or not next(iter(found)).startswith("dim:"):
            return None  # words left over, or another concept: not (only) a dimension
        return next(iter(found)).removeprefix("dim:")

    def dimension_names(self) -> dict[str, list[str]]:
        """Each dimension with the words for it (English, then Chinese), for help and error messages."""
        return {label.removeprefix("dim:"): [*spec.get("en", [])[:1], *spec.get("zh", [])[:1]]
                for label, spec in self.concepts.items() if label.startswith("dim:")}

    def search_terms(self, label: str) -> str:
        return str(self.concepts.get(label, {}).get("search", ""))

    def answer_type(self, label: str) -> str | None:
        return self.concepts.get(label, {}).get("answer")

    def title_canon(self, text: str) -> set[str]:
        """A job title or a question as canonical title words ("Head of Purchasing" -> {head, procurement})."""
        return {m.label for m in find_terms(normalise(text), self.title_terms)}


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary(yaml.safe_load((DATA / "vocab.yaml").read_text(encoding="utf-8")))


# ------------------------------------------------------------------------------------------ examples
@dataclass(frozen=True)
class Neighbour:
    similarity: float
    text: str
    labels: tuple[str, ...]


class Examples:
    """The labelled examples with their vectors, for one embedding model."""

    def __init__(self, embedder) -> None:  # noqa: ANN001 - knowledge.embeddings.Embedder
        rows = yaml.safe_load((DATA / "examples.yaml").read_text(encoding="utf-8"))["examples"]
        self.texts = [str(r[0]) for r in rows]
        self.labels = [tuple(r[1]) for r in rows]
        self.embedder = embedder
        self.vectors = embedder.embed(self.texts)

    def nearest(self, vector: np.ndarray, k: int = 3) -> list[Neighbour]:
        import numpy as np

        sims = self.vectors @ vector
        order = np.argsort(-sims, kind="stable")[:k]
        return [Neighbour(float(sims[i]), self.texts[i], self.labels[i]) for i in order]


_examples: dict[str, Examples] = {}
_examples_lock = threading.Lock()


def examples_for(embedder) -> Examples:  # noqa: ANN001
    key = getattr(embedder, "model_id", type(embedder).__name__)
    with _examples_lock:
        if key not in _examples:
            _examples[key] = Examples(embedder)
        return _examples[key]
