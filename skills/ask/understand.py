"""Question understanding: one `Query` for every question, filled from the grounded names, the vocabulary
(data/vocab.yaml), the nearest labelled examples (data/examples.yaml, ranked by the embedding model) and the date
parser. No rule here names an account or a question of the evaluation sets.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

from knowledge.lexical import query_tokens
from skills.ask.dates import Window, _days, parse_window
from skills.ask.ground import Grounding
from skills.ask.resolve import QUESTION_WORDS
from skills.ask.vocab import Match, Neighbour, examples_for, find_terms, normalise, vocabulary, words

KNN_ALONE = 0.55  # the nearest example's labels are taken when the vocabulary found nothing (cosine, USE-m3)
KNN_SURE = 0.80  # ... and added to what the vocabulary found when the example is this close
OFFTOPIC_BELOW = 0.42  # nothing recognised and no example this close: not a question about accounts
FUNCTION_WORDS = frozenset(
    "who whos whom whose what whats when where which why how is are was were be been the a an at of for with about "
    "and or but do does did can could should would will to in on from by this that these those any all some me i "
    "we us my our their them they it its you your he she his her him there here then than so just also too very "
    "please pls thanks ok hi hey yes no not".split())
_FUNCTION_CJK = re.compile(r"[的是谁吗呢么有在和与了哪什怎我们他她它这那些个吧啊呀多少几]")
PERSON_WORDS = re.compile(r"^\s*(?:who|whom|whose|whos)\b|\bwho (?:is|are|was)\b|谁|哪位")
PERCENT_WORDS = re.compile(r"\bpercent|percentage|\bshare\b|\bproportion|\bhow much of\b|%|百分|比例|占比|份额")
COUNT_WORDS = re.compile(r"\bhow many\b|\bnumber of\b|多少个|多少名|几个|几名")
NUMBER_WORDS = re.compile(r"\bhow (?:many|much|big|large)\b|\bnumber of\b|多少|几")
WHEN_WORDS = re.compile(r"^\s*when\b|\bwhat date\b|什么时候|哪天|何时|几号")


@dataclass
class Query:
    text: str  # the NFKC-normalised question as asked
    concepts: list[str] = field(default_factory=list)  # vocab/example labels, most specific first
    from_examples: bool = False  # the concepts came from the nearest example alone (no vocabulary term matched)
    leftover: set[str] = field(default_factory=set)  # content words no name or vocabulary term explains
    leftover_name: str | None = None  # those words when they look like a person's name ("wang fang", "王小明")
    portfolio_cue: bool = False  # words that make it about many accounts ("my accounts", "which", "rank")
    tier: str | None = None
    window: Window | None = None
    days: int | None = None
    sort: tuple[str, bool] | None = None  # (metric, descending)
    limit: int | None = None
    count: bool = False
    filters: set[str] = field(default_factory=set)  # single_threaded, missing, stale, not_contacted
    threshold: tuple[str, str, float] | None = None  # (metric, "above" | "below", value)
    titles: set[str] = field(default_factory=set)  # canonical job-title words asked for ("procurement", "head")
    answer_type: str | None = None  # person | number | percent | companies | date | text
    search_text: str = ""  # the question plus English search words of its concepts (finds English documents)
    concept_words: list[str] = field(default_factory=list)  # the question's words that named its concepts
    offtopic: bool = False
    neighbour: Neighbour | None = None
    vector: np.ndarray | None = None  # the masked question's embedding

    def has(self, prefix: str) -> bool:
        return any(c == prefix or c.startswith(prefix + ":") or c.startswith(prefix) for c in self.concepts)


def _number_near(text: str, start: int, end: int) -> float | None:
    """The number written right after a comparison word ("above 1.5M", "below 15%", "超过100万")."""
    m = re.search(r"(\d+(?:[.,]\d+)?)\s*(%|k|m|b|million|billion|万|亿)?", text[end:end + 24])
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    unit = (m.group(2) or "").casefold()
    scale = {"%": 0.01, "k": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9, "万": 1e4, "亿": 1e8}
    return value * scale.get(unit, 1)


def understand(question: str, g: Grounding, today: dt.date, embedder) -> Query:  # noqa: ANN001
    vocab = vocabulary()
    q = normalise(question)
    masked = g.masked(q)
    tokens = words(masked)
    query = Query(text=question)
    # concepts and tiers in one pass, so that the longer term wins ("重点客户" is a tier, "重点" alone a priority)
    matches = find_terms(masked, vocab.concept_terms + vocab.tier_terms, tokens)
    concept_matches = [m for m in matches if not m.label.startswith("tier=")]
    tiers = [m for m in matches if m.label.startswith("tier=")]
    query.concepts = list(dict.fromkeys(m.label for m in concept_matches))
    query.concept_words = [masked[m.start:m.end] for m in concept_matches]
    rest = masked
    others = find_terms(masked, vocab.title_terms + vocab.filter_terms + vocab.portfolio_terms, tokens)
    for m in sorted(matches + others, key=lambda m: m.start, reverse=True):
        rest = rest[:m.start] + " " + rest[m.end:]
    query.leftover_name = _name_like(rest, question)
    query.leftover = {w for w in query_tokens(rest) if w not in FUNCTION_WORDS and w not in ("x", "p", "s", "r")
                      and not w.isdigit() and len(w) > 1 and not _FUNCTION_CJK.search(w)}

    # the nearest labelled example, by meaning (both languages; names masked as the examples write them); the
    # question as searched is embedded in the same forward pass, for the retrieval that follows
    searched = " ".join([question, *filter(None, (vocab.search_terms(c) for c in query.concepts))])
    query.vector = embedder.embed([masked, searched])[0]
    neighbours = examples_for(embedder).nearest(query.vector, k=3)
    top = neighbours[0] if neighbours else None
    query.neighbour = top
    knn = [lbl for lbl in (top.labels if top else ()) if lbl not in ("portfolio", "offtopic", "stale")]
    if top and top.similarity >= KNN_ALONE and not query.concepts and query.leftover:
        query.concepts, query.from_examples = knn, bool(knn)
    elif top and top.similarity >= KNN_SURE and query.concepts and query.leftover:
        query.concepts += [c for c in knn if c not in query.concepts]
    if top and "stale" in top.labels and top.similarity >= KNN_ALONE:
        query.filters.add("stale")

    if "field:finance.revenue" in query.concepts and re.search(r"\b(?:we|us|our|ours)\b|我们|我方", masked):
        # "what sales do we do with X": our revenue with them, not their revenue (a rule clearer than examples)
        query.concepts = ["metric:revenue" if c == "field:finance.revenue" else c for c in query.concepts]
    portfolio_matches = find_terms(masked, vocab.portfolio_terms, tokens)
    query.portfolio_cue = bool(portfolio_matches) or bool(
        top and "portfolio" in top.labels and top.similarity >= KNN_ALONE)
    if tiers:
        query.tier = tiers[0].label.removeprefix("tier=")
    filters = find_terms(masked, vocab.filter_terms, tokens)
    _filters(query, filters, masked)
    if "not_contacted" in query.filters and not any(c.startswith("last_contact") for c in query.concepts):
        query.concepts.insert(0, "last_contact")  # "how long since we talked to X": the last contact
    _sorting(query, masked, tokens, concept_matches)
    query.window = parse_window(question, today)
    query.days = _days(q)
    query.titles = vocab.title_canon(masked) | {t for c in query.concepts for t in vocab.concepts.get(c, {}).get(
        "title", [])}
    if query.from_examples and query.titles - vocab.title_ranks:
        query.concepts, query.from_examples = [], False  # "whos the sourcing guy": the job title says it better
    query.answer_type = _answer_type(query, q)
    query.search_text = " ".join([question, *filter(None, (vocab.search_terms(c) for c in query.concepts))])
    nothing = not query.concepts and not query.portfolio_cue and not query.filters and not query.tier
    named = g.accounts or g.contacts or g.items or g.resolution.hidden or g.unknown
    query.offtopic = bool(nothing and not named and (top is None or "offtopic" in top.labels
                                                    or top.similarity < OFFTOPIC_BELOW))
    return query


def _name_like(rest: str, question: str) -> str | None:
    """What is left of a question after names and vocabulary, when it looks like a person's name: a Chinese run of
    2-4 characters, or Latin words that are capitalised in the question or rare in English."""
    from skills.ask.ground import _strip_function_words
    from skills.ask.resolve import rare_word

    vocab = vocabulary()
    for run in re.findall(r"[\u3400-\u9fff]{2,}", rest):
        run = _strip_function_words(run, vocab)
        run = re.sub(r"[的是谁吗呢么了哪天几号多少什么时候]+$", "", run)
        if 2 <= len(run) <= 4 and not _FUNCTION_CJK.search(run[0]):
            return run
    latin = [w for w in re.findall(r"[a-z][a-z'\-]+", rest) if w.removesuffix("'s") not in QUESTION_WORDS
             and w.removesuffix("'s") not in vocab.not_names and len(w.removesuffix("'s")) > 2]
    if not latin or len(latin) > 3:
        return None
    capitalised = {w.casefold() for w in re.findall(r"\b[A-Z][a-z'\-]+", question)}
    if all(w in capitalised or rare_word(w.removesuffix("'s"), 4.0) for w in latin):
        return " ".join(w.removesuffix("'s") for w in latin)
    return None


def _filters(query: Query, found: list[Match], masked: str) -> None:
    vocab = vocabulary()
    for m in found:
        if m.label in ("single_threaded", "stale", "not_contacted"):
            query.filters.add(m.label)
        elif m.label == "missing":
            query.filters.add("missing")
        elif m.label == "count":
            query.count = True
        elif m.label in ("above", "below"):
            value = _number_near(masked, m.start, m.end)
            metric = next((vocab.sort_metrics[c] for c in query.concepts if c in vocab.sort_metrics), None)
            if value is not None and metric:
                if metric in ("profit_margin", "purchase_share", "growth") and value > 1:
                    value /= 100  # "margin below 15" means 15%
                query.threshold = (metric, m.label, value)


def _sorting(query: Query, masked: str, tokens: list, concept_matches: list[Match]) -> None:
    vocab = vocabulary()
    metric = next((vocab.sort_metrics[c] for c in query.concepts if c in vocab.sort_metrics), None)
    sup = find_terms(masked, vocab.superlative_terms, tokens)
    ranking = re.search(r"\b(?:rank|ranked|ranking|sort|sorted|order|ordered)\b|排.{0,2}名|排序|排列", masked)
    if sup or ranking:
        if metric is None and re.search(r"\b(?:biggest|largest|smallest|top|bottom)\b|最大|最小", masked):
            metric = "revenue"  # "my biggest accounts": by our revenue with them
        if metric:
            query.sort = (metric, not (sup and sup[0].label == "asc") and not re.search(
                r"\bascending\b|\blowest first\b", masked))
    if m := re.search(r"\b(?:top|bottom|first|best|worst)\s+(\d+|one|two|three|five|ten)\b"
                      r"|前\s*(\d+|[一二三四五六七八九十])|(\d+)\s+(?:biggest|largest|best|worst|highest|lowest|smallest)",
                      masked):
        raw = next(x for x in m.groups() if x)
        nums = {"one": 1, "two": 2, "three": 3, "five": 5, "ten": 10, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
                "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
        query.limit = int(raw) if raw.isdigit() else nums.get(raw)
        if query.sort is None and metric:
            query.sort = (metric, not m.group(0).startswith(("bottom", "worst")))
    elif query.sort and re.search(r"\b(?:top|best|biggest|largest|worst|which|what)\s+(?:\w+\s+)?"
                                  r"(?:account|customer|client)\b(?!s)", masked):
        query.limit = 1  # "top account by growth", "which account has the lowest satisfaction": the one


def _answer_type(query: Query, q: str) -> str | None:
    """What kind of sentence answers it: the topic's own kind first, then the question's words ("what share",
    "how many"), then the concept's kind ("competitors" -> companies), then "when" and "who"."""
    vocab = vocabulary()
    for c in query.concepts:
        if c.startswith("topic:") and vocab.answer_type(c):
            return vocab.answer_type(c)
    if PERCENT_WORDS.search(q):
        return "percent"
    if COUNT_WORDS.search(q):
        return "number"
    kinds = [vocab.answer_type(c) for c in query.concepts if vocab.answer_type(c)]
    if kinds:
        return kinds[0]
    if NUMBER_WORDS.search(q):
        return "number"
    if WHEN_WORDS.search(q):
        return "date"
    if PERSON_WORDS.search(q):
        return "person"
    return None
