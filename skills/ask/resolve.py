"""Which accounts a question names: exact names, aliases and name cores, Chinese names, and typos.

Typos are matched (rapidfuzz) only against accounts the asker may see; accounts the asker may not see are found
by exact name only, so that the answer can say "not in your portfolio" without ever matching hidden content.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process
from sqlalchemy import func, select

from knowledge.db import AccountRow, AliasRow
from knowledge.store import Store
from skills.ask.vocab import normalise

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
PROPER_ZIPF = 4.5  # a Capitalised word this rare, inside a question, is taken as the name it belongs to ("Disney")
RARE_ZIPF = 3.5  # below this a word of a company name is a name, not an English word ("lauder" 2.9, "power" 5.5)
_LATIN_WORD = re.compile(r"[0-9a-z\u00c0-\u024f][0-9a-z\u00c0-\u024f&'.\-]*")
# legal forms and generic words that a rep leaves out ("Hanshan Packaging" for "Hanshan Packaging Co.")
_LATIN_SUFFIXES = re.compile(r"(?:[\s,]+(?:co|co\.|inc|inc\.|incorporated|ltd|ltd\.|limited|llc|l\.l\.c\.|lp|l\.p\.|ag|"
                             r"gmbh|plc|s\.a\.|sa|nv|n\.v\.|bv|corp|corp\.|corporation|company|companies|group|"
                             r"holdings?|the))+$")
_NAMES = yaml.safe_load((Path(__file__).parent / "data" / "company_names.yaml").read_text(encoding="utf-8"))
_CJK_SUFFIXES = tuple(sorted(_NAMES["legal_forms"] + _NAMES["industry_words"], key=len, reverse=True))
_CJK_PLACE = re.compile(r"^(?:" + "|".join(sorted(_NAMES["places"], key=len, reverse=True)) + r")[市省]?")
_GENERIC_FIRST_WORDS = frozenset(
    "the general global united international national american china chinese european asia asian pacific north "
    "south east west central new first royal union standard premier advanced applied digital smart modern".split())
# words that are never account names, even when they look like one to a fuzzy matcher
QUESTION_WORDS = frozenset(
    "who whos what whats when where which why how is are was were the a an at of for with about and or our their "
    "them they my me i we us do does did can could should would to in on from by this that these those any all "
    "economic buyer buyers decision maker makers champion blocker influencer user contact contacts supplier "
    "suppliers competitor competitors customer customers downstream finance revenue budget market share spend "
    "renewal renewals renew review visit dates date key strategic maintenance opportunity tier tiers accounts "
    "account stale last contacted days weeks months next before after margin growth satisfaction complaints "
    "metrics strategy background organisation organization structure power notes note latest tell brief get "
    "much many percent give show list compare versus vs their's have has had not no yet still also and".split()
)


# words that point back at the account of the conversation ("and their suppliers?", "他们的竞争对手呢？")
PRONOUNS = re.compile(r"\b(?:they|their|them|theirs|its|it|this account|that account|this customer|the account)\b|"
                      r"他们|她们|它们|他家|该客户|这个客户|这家|那家|该公司|这家公司|我们|我的|你们|哪些|哪个|什么")


@dataclass(frozen=True)
class NameKey:
    key: str  # casefolded
    account_id: str
    cjk: bool


@dataclass
class NameTable:
    fingerprint: tuple
    keys: list[NameKey]
    names: dict[str, str]  # account id -> display name
    owners: dict[str, str]
    proper: dict[str, str] = field(default_factory=dict)  # a name's word that names it when Capitalised ("Disney")


_cache: dict[str, NameTable] = {}
_cache_lock = threading.Lock()


def _cores(name: str) -> list[str]:
    """Shorter forms a rep types: without legal suffixes or a leading "The"; Chinese names without place prefix and
    industry word; a rare word of a longer name ("Disney" for "Walt Disney Co", "Lauder" for "Estee Lauder")."""
    key = normalise(name)
    out = []
    if _CJK.search(key):
        core = re.sub(r"\s*\([^()]*\)", "", key).strip()
        for _ in range(4):  # legal form, then industry words, from the end
            suffix = next((x for x in _CJK_SUFFIXES if core.endswith(x) and len(core) - len(x) >= 2), None)
            if suffix is None:
                break
            core = core[: -len(suffix)]
            out.append(core)
        stripped = _CJK_PLACE.sub("", core)
        if stripped != core and len(stripped) >= 2:
            out.append(stripped)  # the brand: "海澜" for "青岛海澜食品有限公司"
        brand = stripped if len(stripped) >= 2 else core
        if _CJK.search(brand) and 2 <= len(brand) <= 4:
            out.append(_pinyin(brand))  # typed without Chinese input: "hailan"
            out.append(_pinyin(brand, " "))
        if m := re.search(r"\(([^()]*[a-z][^()]*)\)", key):  # "汇川技术 (inovance)": the English name inside
            out += [m.group(1).strip(), *_cores(m.group(1))]
            bare = re.sub(r"\s*\([^()]*\)", "", key).strip()
            if len(bare) >= 2:
                out.append(bare)
    else:
        key = re.sub(r"\s*\\[a-z]{2}\\$", "", key)  # EDGAR's state tag: "home health corp \\pa\\"
        core = _LATIN_SUFFIXES.sub("", re.sub(r"^the\s+", "", key)).strip(" ,")
        if core != key and len(core) >= 4:
            out.append(core)
        parts = core.split()
        first = parts[0] if len(parts) > 1 else ""
        if len(first) >= 4 and first not in _GENERIC_FIRST_WORDS:  # "Orion" for "Orion Circuit Assemblies"
            out.append(first)
        for word in parts[1:]:
            if len(word) >= 5 and rare_word(word):
                out.append(word)
        if len(parts) >= 2 and len("".join(parts)) >= 5:
            out.append("".join(parts))  # "walmart" for "Wal Mart Stores"
            if not {parts[0], parts[1]} & _GENERIC_FIRST_WORDS:
                out += ["".join(parts[:2]), " ".join(parts[:2])]
        for long, shorts in _NAMES["abbreviations"].items():
            if re.search(rf"\b{re.escape(long)}\b", core):
                out += [re.sub(rf"\b{re.escape(long)}\b", short, core) for short in shorts]
    return [c for c in dict.fromkeys(out) if c and c not in QUESTION_WORDS]


def _pinyin(text: str, sep: str = "") -> str:
    from pypinyin import lazy_pinyin

    return sep.join(lazy_pinyin(text))


def rare_word(word: str, threshold: float = RARE_ZIPF) -> bool:
    """A word too rare in English to be meant as a plain word ("lauder", "netapp"), by its Zipf frequency."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") < threshold


def fingerprint(store: Store) -> tuple:
    """Moves whenever an account is added, removed or changed: what cached name tables are checked against."""
    with store.session() as s:
        return tuple(s.execute(select(func.count(AccountRow.id), func.coalesce(func.sum(AccountRow.revision), 0),
                                      func.max(AccountRow.id))).one())


def name_table(store: Store) -> NameTable:
    """Every account's name, aliases and cores; rebuilt only when accounts change (count or revisions move)."""
    fp = fingerprint(store)
    cache_key = store.settings.db_url
    with _cache_lock:
        table = _cache.get(cache_key)
        if table is not None and table.fingerprint == fp:
            return table
    with store.session() as s:
        accounts = s.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner)).all()
        aliases = s.execute(select(AliasRow.account_id, AliasRow.alias)).all()
    full: dict[str, set[str]] = {}
    cores: dict[str, set[str]] = {}
    for aid, name, _owner in accounts:
        full.setdefault(normalise(name), set()).add(aid)
        for c in _cores(name):
            cores.setdefault(c, set()).add(aid)
    for aid, alias in aliases:
        full.setdefault(normalise(alias), set()).add(aid)
        for c in _cores(alias):
            cores.setdefault(c, set()).add(aid)
    keys = [NameKey(k, next(iter(ids)), bool(_CJK.search(k))) for k, ids in full.items() if len(ids) == 1]
    # a core shared by two accounts names neither of them
    keys += [NameKey(k, next(iter(ids)), bool(_CJK.search(k))) for k, ids in cores.items()
             if len(ids) == 1 and k not in full]
    keys.sort(key=lambda k: len(k.key), reverse=True)  # longest first: "acme industrial inc." before "acme"
    words: dict[str, set[str]] = {}
    for aid, name, _owner in accounts:
        for word in re.findall(r"[a-z][a-z'\-]{4,}", normalise(name)):
            if word not in QUESTION_WORDS and word not in _GENERIC_FIRST_WORDS and rare_word(word, PROPER_ZIPF):
                words.setdefault(word, set()).add(aid)
    proper = {w: next(iter(ids)) for w, ids in words.items() if len(ids) == 1 and w not in full and w not in cores}
    table = NameTable(fp, keys, {a: n for a, n, _ in accounts}, {a: o for a, _, o in accounts}, proper)
    with _cache_lock:
        _cache[cache_key] = table
    return table


@dataclass
class Resolution:
    visible: list[str] = field(default_factory=list)  # account ids the asker may see, in order of mention
    hidden: list[str] = field(default_factory=list)  # named accounts the asker may not see
    spans: list[tuple[int, int]] = field(default_factory=list)  # where names were found in the question

    @property
    def all(self) -> list[str]:
        return self.visible + self.hidden


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() and not _CJK.match(ch)


def _free(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= a or start >= b for a, b in spans)


def resolve(question: str, table: NameTable, visible: set[str] | None) -> Resolution:
    """Accounts named in the question. `visible=None`: the asker sees everything."""
    q = normalise(question)
    found: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []
    for nk in table.keys:  # exact names, longest first, non-overlapping, whole words for latin names
        start = q.find(nk.key)
        while start >= 0:
            end = start + len(nk.key)
            ok = nk.cjk or ((start == 0 or not _is_word_char(q[start - 1]))
                            and (end == len(q) or not _is_word_char(q[end])))
            if ok and _free(spans, start, end):
                spans.append((start, end))
                found.append((start, nk.account_id))
                break
            start = q.find(nk.key, start + 1)
    if not found:
        for m in re.finditer(r"(?<![\w])([A-Z][a-z'\-]{4,})(?![\w])", question):
            aid = table.proper.get(m.group(1).casefold().removesuffix("'s"))
            if aid and _free(spans, m.start(), m.end()):
                spans.append((m.start(), m.end()))
                found.append((m.start(), aid))
    res = Resolution(spans=spans)
    if not found:
        _fuzzy(q, table, visible, res)
    else:
        for _, aid in sorted(found):
            target = res.visible if visible is None or aid in visible else res.hidden
            if aid not in target:
                target.append(aid)
        if res.hidden and not res.visible:
            # Only someone else's account matched exactly, e.g. a typo in the rep's own "Bayfeld Pharma" whose
            # "Pharma"-less core happens to be another account's name: the rep's own account, matched on the
            # same words, wins over a refusal.
            mine = Resolution()
            _fuzzy(q, table, visible, mine)
            if mine.visible and any(a < d and c < b for a, b in mine.spans for c, d in spans):
                res = Resolution(spans=mine.spans, visible=mine.visible)
    return res


def _fuzzy(q: str, table: NameTable, visible: set[str] | None, res: Resolution) -> None:
    """Typos: n-grams of the question's words against the names of accounts the asker may see."""
    keys = [k for k in table.keys if not k.cjk and (visible is None or k.account_id in visible)]
    if not keys:
        return
    choices = [k.key for k in keys]
    words = [(m.start(), m.end(), m.group().strip(".'-")) for m in _LATIN_WORD.finditer(q)]
    best: tuple[float, int, int, str] | None = None
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            gram = words[i : i + n]
            if any(w in QUESTION_WORDS for _, _, w in gram[:1] + gram[-1:]):
                continue
            text = " ".join(w for _, _, w in gram).removesuffix("'s")
            if len(text) < 4:
                continue
            cutoff = 88 if len(text) <= 6 else 84
            hit = process.extractOne(text, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
            if hit and (best is None or hit[1] > best[0]):
                best = (hit[1], gram[0][0], gram[-1][1], keys[hit[2]].account_id)
    if best is not None:
        res.visible.append(best[3])
        res.spans.append((best[1], best[2]))


@dataclass
class Lookup:
    """One account asked for by name (a command's argument, not a question)."""

    account_id: str | None = None  # found and visible
    hidden: str | None = None  # found, but the asker may not see it
    candidates: list[str] = field(default_factory=list)  # the name matched several accounts equally


def find_account(store: Store, name: str, visible: set[str] | None = None) -> Lookup:
    """An account by id, name, alias, short name, Chinese name or typo: exactly the way Ask finds the account a
    question names (`kam show`, `kam tiers explain`, the demo console use this too). `visible=None`: all accounts."""
    exact = store.find_account(name.strip())
    if exact is not None:
        return Lookup(account_id=exact) if visible is None or exact in visible else Lookup(hidden=exact)
    res = resolve(name, name_table(store), visible)
    if len(res.visible) == 1:
        return Lookup(account_id=res.visible[0])
    if len(res.visible) > 1:
        return Lookup(candidates=res.visible)
    return Lookup(hidden=res.hidden[0]) if res.hidden else Lookup()


def name_forms(name: str) -> set[str]:
    """A name as the resolver knows it: normalised, plus the cores a rep types (legal form and "The" dropped,
    Chinese place prefix and industry word dropped, a rare word of a longer name, pinyin)."""
    return {normalise(name), *_cores(name)}


def same_company(names: list[str], others: list[str], cutoff: float = 88) -> bool:
    """Whether two lists of names (a name and its aliases) look like one company: a shared form, or two forms
    that differ by a typo. "FEDEX CORP" and "FedEx"; not "ESTEE LAUDER COMPANIES INC" and "Hanshan Packaging Co."."""
    mine = set().union(*(name_forms(n) for n in names))
    theirs = set().union(*(name_forms(n) for n in others))
    if mine & theirs:
        return True
    return any(fuzz.ratio(a, b) >= cutoff for a in mine for b in theirs if min(len(a), len(b)) >= 4)


class AskMatcher:
    """knowledge.importers.filing.AccountMatcher the way Ask finds accounts (`kam import-filing --account`)."""

    def find(self, store: Store, name: str) -> tuple[str | None, list[str]]:
        found = find_account(store, name)
        return found.account_id, found.candidates

    def same_company(self, names: list[str], others: list[str]) -> bool:
        return same_company(names, others)
