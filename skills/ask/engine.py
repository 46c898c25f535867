"""`ask()`: the one entry point. Access control first, then the offline answer; the LLM agent when configured.

Order of work: who is asking and what they may see -> which accounts are named (a hidden one ends it: "denied")
-> what is asked (portfolio list or one account's record) -> exact answers from the store, hybrid retrieval for
the supporting chunks and for free-text questions -> a short, cited answer in the question's language.
Thread-safe: no shared mutable state except the name-table cache (locked) and the store/index (session-based).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from knowledge.kb import KnowledgeBase
from knowledge.lexical import query_tokens
from knowledge.profile import Person
from knowledge.retrieval import Hit, hybrid_search
from skills.ask import portfolio_answers as pa
from skills.ask.facts import AccountFacts, Part, cited_dimensions
from skills.ask.intent import Intent, detect
from skills.ask.memory import Memory, recall, remember
from skills.ask.models import Answer, Source
from skills.ask.phrases import DIM_LABELS, TIER_LABELS, detect_language, label, t, window_label
from skills.ask.resolve import PRONOUNS, QUESTION_WORDS, Resolution, name_table, resolve

MAX_LIST = 25  # lines in a portfolio answer before "... and N more"
MAX_ACCOUNTS = 3  # accounts answered in one question ("compare Hanshan and Jiangnan")
DEFAULT_RENEWAL_DAYS = 90
DEFAULT_CONTACT_DAYS = 30
CLOSEST_MIN, CLOSEST_MARGIN = 0.25, 0.1  # cosine of the offline model: a distinct nearest chunk, measured on the eval
_FOLLOW_UP = re.compile(r"^\s*(?:and|what about|how about|same for|also|ok,? and|那|那么|还有|再看)", re.I)


@dataclass
class Trace:
    """What the engine did, for the evaluation and the LLM path (not part of the answer contract)."""

    person: Person | None = None
    visible: set[str] | None = None
    resolution: Resolution | None = None
    intent: Intent | None = None
    kinds: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # source ids the answer cites, then hybrid hits: best first
    hybrid: list[str] = field(default_factory=list)  # the raw hybrid-search ranking
    portfolio: str | None = None
    language: str = "en"


def ask(kb: KnowledgeBase, question: str, asker: str, conversation_id: str | None = None,
        today: dt.date | None = None) -> Answer:
    """Answer a rep's question. `asker` is an email or Slack user id; `conversation_id` carries follow-ups."""
    return ask_traced(kb, question, asker, conversation_id, today)[0]


def ask_traced(kb: KnowledgeBase, question: str, asker: str, conversation_id: str | None = None,
               today: dt.date | None = None) -> tuple[Answer, Trace]:
    today = today or dt.date.today()
    question = " ".join(question.split())
    answer, trace = offline_answer(kb, question, asker, conversation_id, today)
    if kb.settings.llm_enabled and trace.person is not None and answer.status != "denied":
        from skills.ask.llm import llm_answer  # LangChain is imported only when an LLM is configured

        answer = llm_answer(kb, question, trace, answer, today)
    if trace.person is not None and answer.status != "denied" and not trace.portfolio and trace.accounts:
        remember(kb.store, conversation_id, trace.person.email, Memory(trace.accounts, trace.kinds))
    return answer, trace


# ---------------------------------------------------------------------------------------------- offline
def offline_answer(kb: KnowledgeBase, question: str, asker: str, conversation_id: str | None,
                   today: dt.date) -> tuple[Answer, Trace]:
    store = kb.store
    trace = Trace()
    person = store.person(asker.strip())
    if person is None:
        lang = detect_language(question)
        return Answer(answer=t(lang, "no_access", asker=asker), status="denied", language=lang), trace
    trace.person = person
    visible = store.visible_account_ids(person)
    trace.visible = visible
    res = resolve(question, name_table(store), visible)
    trace.resolution = res
    lang = trace.language = detect_language(question, res.spans)
    if res.hidden:  # before any retrieval: nothing of a hidden account is read, not even for a comparison
        return Answer(answer=t(lang, "denied"), status="denied", language=lang), trace
    memory = recall(store, conversation_id, person.email)
    memory_accounts = [a for a in memory.account_ids if visible is None or a in visible]
    refers_back = bool(memory_accounts) and not res.visible and not res.unmatched and bool(PRONOUNS.search(question))
    intent = detect(question, today, named_accounts=bool(res.visible) or refers_back)
    trace.intent = intent
    if intent.portfolio:
        trace.portfolio = intent.portfolio
        return _portfolio(kb, intent, visible, lang, today), trace

    accounts = list(res.visible)
    kinds = list(intent.kinds)
    if not accounts and not res.unmatched and memory_accounts:
        accounts = memory_accounts
    if not kinds and memory.intents and (_FOLLOW_UP.search(question) or not _content_tokens(question, spans=res.spans)):
        kinds = list(memory.intents)  # "and Jiangnan?" / "what about Acme?": the same question about another account
    if not accounts:
        if res.unmatched:
            return Answer(answer=t(lang, "not_found", name=res.unmatched), status="unknown", language=lang), trace
        return _search_all(kb, question, visible, lang, trace), trace
    trace.accounts, trace.kinds = accounts[:MAX_ACCOUNTS], kinds
    return _single(kb, question, trace.accounts, kinds, lang, today, trace), trace


def _owner_name(kb: KnowledgeBase, owner: str) -> str:
    p = kb.store.person(owner)
    return f"{p.name} ({p.email})" if p and p.name else owner


def _clean_kinds(kinds: list[str], has_items: bool) -> list[str]:
    """Drop general intents that a more specific one in the same question already answers."""
    out = list(dict.fromkeys(kinds))
    drop: set[str] = set()
    if any(k.startswith("role:") for k in out):
        drop |= {"contacts", "dim:organisation", "field:organisation.power", "field:organisation.structure"}
    for k in out:
        if k.startswith("field:"):
            drop.add("dim:" + k[6:].split(".")[0])
        if k.startswith("metric:"):
            drop |= {"metrics", "field:finance.revenue"} if k == "metric:revenue" else {"metrics"}
        if k.startswith("key_dates:"):
            drop.add("key_dates")
    if "last_contact" in out:
        drop |= {"key_dates:visit", "notes"}
    if has_items:
        drop |= {"dim:suppliers", "dim:competitors", "dim:downstream", "metric:satisfaction", "contacts", "metrics"}
    out = [k for k in out if k not in drop]
    if len(out) > 1:
        out = [k for k in out if k not in ("overview", "notes")] or out
    return out[:3]


def _single(kb: KnowledgeBase, question: str, accounts: list[str], kinds: list[str], lang: str,
            today: dt.date, trace: Trace) -> Answer:
    settings = kb.settings
    profiles = kb.store.load_profiles(accounts)
    tiers: dict[str, str] | None = None
    blocks: list[str] = []
    sources: list[Source] = []
    known_any = False
    stale = False
    for aid in accounts:
        profile = profiles.get(aid)
        if profile is None:
            continue
        fx = AccountFacts(aid, profile, lang, _owner_name(kb, profile.owner))
        items = fx.named_items(question)
        wanted = _clean_kinds(kinds, items is not None)
        parts: list[Part] = [items] if items else []
        for kind in wanted:
            if kind.startswith("role:"):
                parts.append(fx.role(kind, question))
            elif kind == "contacts":
                parts.append(fx.contacts())
            elif kind == "birthday":
                parts.append(fx.birthdays(question))
            elif kind.startswith("field:"):
                parts.append(fx.field(kind[6:]))
            elif kind.startswith("dim:"):
                parts.append(fx.dimension(kind[4:]))
            elif kind.startswith("metric:"):
                parts.append(fx.metric(kind[7:]))
            elif kind == "metrics":
                parts.append(fx.metrics())
            elif kind.startswith("key_dates"):
                parts.append(fx.key_dates(kind.partition(":")[2] or None, today))
            elif kind == "last_contact":
                parts.append(fx.last_contact())
            elif kind == "tier":
                tiers = tiers if tiers is not None else pa.tier_map(kb.store, today)
                parts.append(fx.tier(tiers))
            elif kind == "notes":
                parts.append(fx.notes())
            elif kind == "overview":
                tiers = tiers if tiers is not None else pa.tier_map(kb.store, today)
                parts.append(fx.overview(tiers, today))
        hits = _hybrid(kb, question, {aid}, trace)
        if not parts:
            content = _content_tokens(question, fx)
            found = (_quote(hits, content, lang, fx.name) or _closest(hits, lang, fx.name)) if content else None
            if found:
                parts.append(found)
            elif content:
                tiers = tiers if tiers is not None else pa.tier_map(kb.store, today)
                parts.append(Part([t(lang, "search_none", account=fx.name), t(lang, "nearest")]
                                  + fx.overview(tiers, today).lines, fx.overview(tiers, today).sources, known=False))
            else:
                tiers = tiers if tiers is not None else pa.tier_map(kb.store, today)
                parts.append(fx.overview(tiers, today))
        lines = [line for p in parts for line in p.lines]
        part_sources = [s for p in parts for s in p.sources]
        known_any = known_any or any(p.known for p in parts)
        old = []
        for dim in sorted(cited_dimensions(part_sources)):
            updated = profile.dimension(dim).updated
            if updated and (today - updated).days > settings.kam_stale_days:
                old.append((dim, updated))
        if old:
            stale = True
            oldest = min(u for _, u in old)
            dims = ", ".join(label(DIM_LABELS, lang, d) for d, _ in old)
            lines.append(t(lang, "stale", dims=dims, updated=oldest.isoformat(), days=(today - oldest).days))
        blocks.append("\n".join(lines))
        sources += part_sources
    sources = _dedupe(sources)
    hybrid = trace.hybrid
    trace.evidence = list(dict.fromkeys([s.id for s in sources] + hybrid))
    return Answer(answer="\n\n".join(blocks), status="answered" if known_any else "unknown", language=lang,
                  sources=sources, stale=stale, account_ids=accounts)


def _dedupe(sources: list[Source]) -> list[Source]:
    seen: dict[str, Source] = {}
    for s in sources:
        seen.setdefault(s.id, s)
    return list(seen.values())


def _hybrid(kb: KnowledgeBase, question: str, scope: set[str] | None, trace: Trace, k: int = 5) -> list[Hit]:
    hits = hybrid_search(kb.index, question, scope, k=k)
    trace.hybrid += [h.chunk_id for h in hits if h.chunk_id not in trace.hybrid]
    return hits


def _content_tokens(question: str, fx: AccountFacts | None = None, spans: list[tuple[int, int]] = ()) -> set[str]:
    """Words that carry the question's meaning: not stopwords, question words or the account's own name."""
    for a, b in sorted(spans, reverse=True):
        question = question[:a] + " " + question[b:]
    names = set()
    if fx is not None:
        for n in [fx.p.account, *fx.p.aliases]:
            names.update(query_tokens(n))
    return {tok for tok in query_tokens(question)
            if tok not in QUESTION_WORDS and tok not in names and not tok.isdigit()
            and not (len(tok) == 1 and tok in "的是谁吗呢么有在和与了我们他她它哪什怎")}


def _quote(hits: list[Hit], content: set[str], lang: str, account: str | None) -> Part | None:
    """The retrieved lines that share the most meaning-carrying words with the question."""
    scored = []
    for rank, h in enumerate(hits):
        for line in h.text.split("\n")[1:] or h.text.split("\n"):
            overlap = len(content & set(query_tokens(line)))
            if overlap:
                scored.append((overlap, -rank, line.strip(), h))
    if not scored:
        return None
    scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
    best = [s for s in scored if s[0] >= max(1, scored[0][0] - 1)][:2]
    first = best[0][3]
    lines = [t(lang, "search", account=account or first.account)]
    lines += [f"- {line.lstrip('- ')}" + (f" ({h.account})" if account is None else "") for _, _, line, h in best]
    sources = [Source(account=h.account, dimension=h.dimension or h.kind, updated=h.updated, owner=h.owner,
                      id=h.chunk_id) for _, _, _, h in best]
    return Part(lines, sources)


def _closest(hits: list[Hit], lang: str, account: str) -> Part | None:
    """No shared words (often a question in one language about notes in another): quote the semantically nearest
    chunk, but only when it stands clearly apart from the rest; a flat ranking means nothing on file fits."""
    ranked = sorted((h for h in hits if h.vector_rank), key=lambda h: h.vector_rank or 0)
    if not ranked or (ranked[0].vector_score or 0) < CLOSEST_MIN:
        return None
    runner_up = ranked[1].vector_score or 0 if len(ranked) > 1 else 0.0
    if (ranked[0].vector_score or 0) - runner_up < CLOSEST_MARGIN:
        return None
    h = ranked[0]
    body = [line.strip() for line in h.text.split("\n")[1:] or h.text.split("\n") if line.strip()][:3]
    if len(body) == 1 and " - " in body[0]:
        body = [body[0].split(" - ", 1)[1]]
    lines = [t(lang, "search", account=account)] + [f"- {line.lstrip('- ')}" for line in body]
    return Part(lines, [Source(account=h.account, dimension=h.dimension or h.kind, updated=h.updated, owner=h.owner,
                               id=h.chunk_id)])


def _search_all(kb: KnowledgeBase, question: str, visible: set[str] | None, lang: str, trace: Trace) -> Answer:
    """No account named: search what the asker may see ("who is Zhang Min?")."""
    content = _content_tokens(question)
    if not content:
        return Answer(answer=t(lang, "no_account"), status="unknown", language=lang)
    hits = _hybrid(kb, question, visible, trace)
    part = _quote(hits, content, lang, None)
    if part is None:
        return Answer(answer=t(lang, "search_none_any"), status="unknown", language=lang)
    ids = list(dict.fromkeys(h.account_id for h in hits if h.chunk_id in {s.id for s in part.sources}))
    trace.accounts = ids
    trace.evidence = list(dict.fromkeys([s.id for s in part.sources] + trace.hybrid))
    return Answer(answer="\n".join(part.lines), status="answered", language=lang, sources=_dedupe(part.sources),
                  account_ids=ids)


# ---------------------------------------------------------------------------------------------- portfolio
def _portfolio(kb: KnowledgeBase, intent: Intent, visible: set[str] | None, lang: str, today: dt.date) -> Answer:
    store, settings = kb.store, kb.settings
    kind = intent.portfolio
    status = "answered"
    if visible is not None and not visible:
        return Answer(answer=t(lang, "p_empty"), status="unknown", language=lang)
    if kind in ("tier", "list"):
        tiers = pa.tier_map(store, today)
        if kind == "tier" and not tiers:
            return Answer(answer=t(lang, "p_tiers_missing", tier=label(TIER_LABELS, lang, intent.tier or "")),
                          status="unknown", language=lang)
        rows = pa.accounts_in_tier(store, visible, intent.tier if kind == "tier" else None, tiers)
        if kind == "list":
            for r in rows:
                r.text = label(TIER_LABELS, lang, r.text) if r.text in TIER_LABELS["en"] else r.text
        head = (t(lang, "p_tier", tier=label(TIER_LABELS, lang, intent.tier or ""), n=len(rows)) if kind == "tier"
                else t(lang, "p_list", n=len(rows)))
        empty = t(lang, "p_tier_none", tier=label(TIER_LABELS, lang, intent.tier or ""))
    elif kind in ("renewals", "dates"):
        window = intent.window
        if window is None:
            start, end, wl = today, today + dt.timedelta(days=DEFAULT_RENEWAL_DAYS), \
                f"in the next {DEFAULT_RENEWAL_DAYS} days"
        else:
            start, end, wl = window.start, window.end, window.label
        wl = window_label(lang, wl)
        rows = pa.dates_between(store, visible, start, end, today, ("renewal",) if kind == "renewals" else None)
        head = t(lang, f"p_{kind}", label=wl, n=len(rows))
        empty = t(lang, f"p_{kind}_none", label=wl)
    elif kind in ("supplier", "competitor", "customer"):
        dim = {"supplier": "suppliers", "competitor": "competitors", "customer": "downstream"}[kind]
        rows = pa.where_listed(store, visible, intent.name or "", dim)
        head = t(lang, f"p_{kind}", name=intent.name, n=len(rows))
        empty = t(lang, f"p_{kind}_none", name=intent.name)
    elif kind == "no_dm":
        rows = pa.without_decision_maker(store, visible)
        head, empty = t(lang, "p_no_dm", n=len(rows)), t(lang, "p_no_dm_none")
    elif kind == "stale":
        days = intent.days or settings.kam_stale_days
        rows = pa.stale_accounts(store, visible, today, days)
        head, empty = t(lang, "p_stale", days=days, n=len(rows)), t(lang, "p_stale_none", days=days)
    else:  # not_contacted
        days = intent.days or DEFAULT_CONTACT_DAYS
        rows = pa.not_contacted(store, visible, today, days)
        head, empty = t(lang, "p_not_contacted", days=days, n=len(rows)), t(lang, "p_not_contacted_none", days=days)
    if not rows:
        return Answer(answer=empty, status=status, language=lang)
    lines = [head] + [f"- **{r.account}**: {r.text}" for r in rows[:MAX_LIST]]
    if len(rows) > MAX_LIST:
        lines.append(t(lang, "more", n=len(rows) - MAX_LIST))
    sources = _dedupe([Source(account=r.account, dimension=r.dimension, updated=r.updated, owner=r.owner,
                              id=r.source_id) for r in rows[:MAX_LIST]])
    return Answer(answer="\n".join(lines), status=status, language=lang, sources=sources,
                  account_ids=list(dict.fromkeys(r.account_id for r in rows)))
