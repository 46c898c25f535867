"""Grounding: the things a question names, found against what the store holds and the asker may see.

Accounts (resolve.py: names, aliases, cores, typos), contacts by name, suppliers / competitors / downstream
customers by name or short form, regions and industries, and name-like phrases that match nothing (so that the
answer can say "I don't know X" instead of answering about something else). Contacts and items are looked up only
within the asker's scope: a name at a hidden account is simply unknown, which reveals nothing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from sqlalchemy import select

from knowledge.db import AccountRow, ContactRow, DimensionRow
from knowledge.store import Store
from skills.ask.resolve import (
    _LATIN_SUFFIXES,
    QUESTION_WORDS,
    Resolution,
    fingerprint,
    name_table,
    rare_word,
    resolve,
)
from skills.ask.vocab import find_terms, is_cjk, normalise, vocabulary

ITEM_DIMS = ("suppliers", "competitors", "downstream")
_GENERIC_WORDS = frozenset(
    "and the of for co inc ltd group company international global china asia europe america north south east west "
    "central new systems system services solutions technologies technology industries industrial products".split())


@dataclass(frozen=True)
class ContactRef:
    account_id: str
    name: str


@dataclass(frozen=True)
class ItemRef:
    dimension: str  # suppliers | competitors | downstream
    name: str  # as stored
    account_ids: frozenset[str]


@dataclass
class Grounding:
    resolution: Resolution
    contacts: list[ContactRef] = field(default_factory=list)
    items: list[ItemRef] = field(default_factory=list)
    places: list[tuple[str, str]] = field(default_factory=list)  # ("region" | "industry", matched words)
    unknown: str | None = None  # a name-like phrase that matches nothing the asker can see
    unknown_is_place: bool = False  # it came after "at / for / from": an account or company, not a person
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, mark) in normalise(question):
    # X an account, P a contact, S a supplier / competitor / customer, R a region or industry

    @property
    def accounts(self) -> list[str]:
        return self.resolution.visible

    def masked(self, text: str) -> str:
        """The normalised question with names replaced the way the labelled examples write them."""
        for a, b, mark in sorted(self.spans, reverse=True):
            text = text[:a] + mark + text[b:]
        return text


@dataclass
class _Tables:
    fingerprint: tuple
    contacts: dict[str, list[ContactRef]]  # normalised full name (and pinyin of a Chinese one) -> contacts
    parts: dict[str, list[ContactRef]]  # one word of a Latin name ("priya", "nair") -> contacts
    items: dict[str, list[tuple[str, str, str]]]  # normalised name or short form -> (dimension, stored name, acct)
    places: dict[str, dict[str, set[str]]]  # "region" | "industry" -> normalised word -> account ids


_cache: dict[str, _Tables] = {}
_lock = threading.Lock()


def _item_keys(name: str) -> list[str]:
    """A company as people write it: full, without legal form, the English name in "中文名 (English Name)" and
    the Chinese part, a leading distinctive word ("Siemens" for "Siemens Digital Industries")."""
    key = normalise(name)
    out = [key]
    if m := re.search(r"\(([^()]+)\)", key):
        inner = m.group(1).strip()
        out += [inner, re.sub(r"\s*\([^()]*\)", "", key).strip()]
    for k in list(out):
        if not is_cjk(k):
            core = _LATIN_SUFFIXES.sub("", re.sub(r"^the\s+", "", k)).strip(" ,")
            out.append(core)
            first = core.split()[0] if " " in core else ""
            if len(first) >= 4 and first not in _GENERIC_WORDS and first not in QUESTION_WORDS:
                out.append(first)
    return [k for k in dict.fromkeys(out) if len(k) >= 2 and k not in QUESTION_WORDS]


def _tables(store: Store) -> _Tables:
    fp = fingerprint(store)
    cache_key = store.settings.db_url
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None and cached.fingerprint == fp:
            return cached
    contacts: dict[str, list[ContactRef]] = {}
    parts: dict[str, list[ContactRef]] = {}
    items: dict[str, list[tuple[str, str, str]]] = {}
    places: dict[str, dict[str, set[str]]] = {"region": {}, "industry": {}}
    with store.session() as s:
        for aid, name in s.execute(select(ContactRow.account_id, ContactRow.name)):
            ref, key = ContactRef(aid, name), normalise(name)
            contacts.setdefault(key, []).append(ref)
            if is_cjk(key):  # "陈静" is also asked as "Chen Jing"
                contacts.setdefault(pinyin(key), []).append(ref)
            else:
                for word in re.findall(r"[a-z][a-z'\-]{2,}", key):
                    if word not in QUESTION_WORDS and word not in ("dr.", "mr", "mrs", "ms"):
                        parts.setdefault(word, []).append(ref)
        for aid, dim, data in s.execute(select(DimensionRow.account_id, DimensionRow.name, DimensionRow.data)
                                        .where(DimensionRow.name.in_(ITEM_DIMS))):
            for item in (data or {}).get("items", []) if isinstance(data, dict) else []:
                name = str(item.get("name") or "")
                for k in _item_keys(name):
                    items.setdefault(k, []).append((dim, name, aid))
        for aid, region, industry in s.execute(select(AccountRow.id, AccountRow.region, AccountRow.industry)):
            for kind, value in (("region", region), ("industry", industry)):
                if not value:
                    continue
                value = normalise(value)
                words = [value] + [w for w in re.findall(r"[a-z]{4,}|[\u3400-\u9fff]{2,}", value)
                                   if w not in _GENERIC_WORDS and w not in QUESTION_WORDS]
                for w in words:
                    places[kind].setdefault(w, set()).add(aid)
    tables = _Tables(fp, contacts, parts, items, places)
    with _lock:
        _cache[cache_key] = tables
    return tables


def pinyin(text: str) -> str:
    """Chinese characters as toneless pinyin words ("张敏" -> "zhang min"); other text unchanged."""
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(text))


def _whole(q: str, key: str, start: int) -> bool:
    end = start + len(key)
    if is_cjk(key):
        return True
    return (start == 0 or not q[start - 1].isalnum()) and (end == len(q) or not q[end].isalnum())


def _find(q: str, key: str, taken: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    start = q.find(key)
    while start >= 0:
        end = start + len(key)
        if _whole(q, key, start) and all(end <= a or start >= b for a, b, _ in taken):
            return start, end
        start = q.find(key, start + 1)
    return None


_NAME_LIKE = re.compile(
    r"(?:\b(?:at|for|with|about|of|from|is|named|called)\s+)([A-Z][\w&.\-]*(?:\s+[A-Z][\w&.\-]*){0,3})"
    r"|([A-Z][\w&.\-]*(?:\s+[A-Z][\w&.\-]*){1,3})"
    r"|([A-Z][\w&.\-]*(?:\s+[A-Z][\w&.\-]*){0,3})'s\b"
    r"|([\u3400-\u9fff]{2,10})(?:的|公司|是谁|是哪)"
    r"|(?:\b(?:at|for|with|about|from)\s+)([a-z][a-z0-9&\-]{3,}(?:\s+[a-z][a-z0-9&\-]{3,})?)\s*\??$")


def ground(store: Store, question: str, visible: set[str] | None) -> Grounding:
    """`question` is NFKC-normalised with single spaces; spans refer to `normalise(question)`."""
    q = normalise(question)
    res = resolve(question, name_table(store), visible)
    g = Grounding(res, spans=[(a, b, "X") for a, b in res.spans])
    tables = _tables(store)
    in_scope = (lambda a: True) if visible is None else (lambda a: a in visible)  # noqa: E731
    # contacts by full name, longest first; a name stored in pinyin is also found written in Chinese ("张敏")
    for key in sorted(tables.contacts, key=len, reverse=True):
        if len(key) < (2 if is_cjk(key) else 3) or key not in q:
            continue
        refs = [c for c in tables.contacts[key] if in_scope(c.account_id)]
        if refs and (span := _find(q, key, g.spans)):
            g.contacts += refs
            g.spans.append((*span, "P"))
    for m in re.finditer(r"[\u3400-\u9fff]{2,3}", q):
        for a, b in ((m.start(), m.end()), (m.start(), m.start() + 2), (m.end() - 2, m.end())):
            refs = [c for c in tables.contacts.get(pinyin(q[a:b]), []) if in_scope(c.account_id)]
            if refs and all(b <= x or a >= y for x, y, _ in g.spans):
                g.contacts += refs
                g.spans.append((a, b, "P"))
                break
    # one word of a contact's name ("email for priya at acme"), only at an account the question names
    if not g.contacts and res.visible:
        for m in re.finditer(r"[a-z][a-z'\-]{2,}", q):
            refs = [c for c in tables.parts.get(m.group().removesuffix("'s"), []) if c.account_id in res.visible]
            if len(refs) == 1 and all(m.end() <= x or m.start() >= y for x, y, _ in g.spans):
                g.contacts += refs
                g.spans.append((m.start(), m.end(), "P"))
    # suppliers, competitors and customers by name or short form
    for key in sorted(tables.items, key=len, reverse=True):
        if key not in q:
            continue
        found = [(d, n, a) for d, n, a in tables.items[key] if in_scope(a)]
        if found and (span := _find(q, key, g.spans)):
            by_item: dict[tuple[str, str], set[str]] = {}
            for d, n, a in found:
                by_item.setdefault((d, n), set()).add(a)
            g.items += [ItemRef(d, n, frozenset(a)) for (d, n), a in by_item.items()]
            g.spans.append((*span, "S"))
    for kind, words in tables.places.items():
        for key in sorted(words, key=len, reverse=True):
            if key in q and any(in_scope(a) for a in words[key]) and (span := _find(q, key, g.spans)):
                g.places.append((kind, key))
                g.spans.append((*span, "R"))
    g.unknown, g.unknown_is_place = _unknown_name(question, q, g)
    if g.unknown:  # "华东食品集团": a region word inside an unknown company's name is not a filter
        g.places = [(kind, word) for kind, word in g.places if word not in normalise(g.unknown)]
    return g


def _unknown_name(question: str, q: str, g: Grounding) -> tuple[str | None, bool]:
    """A name-like phrase that nothing grounded covers and that is not made of vocabulary words."""
    if g.resolution.hidden:
        return None, False
    vocab = vocabulary()
    terms = find_terms(q, vocab.concept_terms + vocab.tier_terms + vocab.filter_terms + vocab.title_terms)
    covered = [(m.start, m.end) for m in terms] + [(a, b) for a, b, mark in g.spans if mark != "R"]
    places = [(a, b) for a, b, mark in g.spans if mark == "R"]
    offset = _offsets(question, q)
    for m in _NAME_LIKE.finditer(question):
        idx = next(i for i in range(1, 6) if m.group(i))
        phrase = m.group(idx).strip(" .")
        a, b = offset(m.start(idx)), offset(m.start(idx) + len(phrase))
        if any(not (b <= x or a >= y) for x, y in covered) or any(x <= a and b <= y for x, y in places):
            continue
        words = [w for w in re.findall(r"[\w&.\-]+", phrase.casefold()) if w]
        if is_cjk(phrase):
            if phrase in vocab.not_names or any(phrase in t.text or t.text in phrase for t in terms_all(vocab)):
                continue
        elif all(w.strip(".") in vocab.not_names or w in QUESTION_WORDS for w in words):
            continue
        if idx == 2 and m.start(idx) == 0 and len(words) <= 2:
            continue  # "Tell Me", "Any News": capitalised words at the start are not a name by themselves
        if idx == 5 and not all(rare_word(w) for w in words):
            continue  # a lower-case phrase is a name only when its words are not ordinary English ("at globex")
        if is_cjk(phrase):
            phrase = _strip_function_words(phrase, vocab)
            if len(phrase) < 2:
                continue
        after_preposition = idx in (1, 5) and bool(re.search(r"\b(?:at|for|from|with)\s+$",
                                                             question[:m.start(idx)]))
        return phrase, after_preposition
    return None, False


def _strip_function_words(phrase: str, vocab) -> str:  # noqa: ANN001
    """"那个王小明" -> "王小明": demonstratives and pronouns around a Chinese name are not part of it."""
    for word in sorted(vocab.not_names, key=len, reverse=True):
        if is_cjk(word) and phrase.startswith(word):
            phrase = phrase[len(word):]
    return phrase


def terms_all(vocab) -> list:  # noqa: ANN001
    return vocab.concept_terms + vocab.tier_terms + vocab.filter_terms + vocab.portfolio_terms


def _offsets(original: str, normalised: str):  # noqa: ANN202
    """Map an index of the NFKC/space-normalised question to `normalise()`'s text (they differ only by case
    folding, which keeps lengths for the scripts we see; a mismatch falls back to the same index)."""
    same = len(original) == len(normalised)
    return (lambda i: i) if same else (lambda i: min(i, len(normalised)))
