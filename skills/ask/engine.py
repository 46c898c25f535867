"""`ask()`: the one entry point. Access control first, then the offline answer; the LLM agent when configured.

The pipeline: who is asking and what they may see -> ground the names in the question against the store (a
hidden account ends it: "denied") -> understand it (one `Query`: concepts, filters, window, sort) -> a portfolio
query run exactly over the store, or one account's records, with evidence from its documents and notes when the
fields do not hold the answer -> a short, cited answer in the question's language.
Thread-safe: no shared mutable state except read-only caches (names, examples) behind locks.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from knowledge.kb import KnowledgeBase
from knowledge.lexical import query_tokens
from knowledge.profile import Person
from knowledge.retrieval import Hit, hybrid_search
from skills.ask import continuity
from skills.ask import evidence as ev
from skills.ask import portfolio_answers as pa
from skills.ask import portfolio_query as pq
from skills.ask.changes import changes_part
from skills.ask.facts import AccountFacts, Part, cited_dimensions
from skills.ask.ground import Grounding, ground
from skills.ask.memory import Memory, recall, remember
from skills.ask.models import Answer, Quote, Source
from skills.ask.phrases import (
    DIM_LABELS,
    METRIC_LABELS,
    ROLE_LABELS,
    TIER_LABELS,
    detect_language,
    label,
    t,
    window_label,
)
from skills.ask.resolve import PRONOUNS, QUESTION_WORDS, Resolution
from skills.ask.understand import Query, understand
from skills.ask.vocab import vocabulary

MAX_LIST = 25  # lines in a portfolio answer before "... and N more"
MAX_ACCOUNTS = 3  # accounts answered in one question ("compare Hanshan and Jiangnan")
_FOLLOW_UP = re.compile(r"^\s*(?:and|what about|how about|same for|also|ok,? and|那|那么|还有|再看)", re.I)
TEXT_KINDS = ("document", "note", "interaction")  # where an empty field's answer may still be written
# concepts whose answer may be in the account's documents, and the dimension to look in first
DOC_DIMENSIONS = {"topic:ceo": "organisation", "topic:cfo": "organisation", "topic:executives": "organisation",
                  "topic:employees": "organisation", "topic:headquarters": "background",
                  "topic:raw_materials": "suppliers",
                  "topic:segments": "background", "topic:largest_customer": "downstream",
                  "dim:competitors": "competitors", "dim:suppliers": "suppliers", "dim:downstream": "downstream",
                  "dim:background": "background", "dim:finance": "finance", "dim:organisation": "organisation",
                  "field:finance.revenue": "finance", "field:finance.budget": "finance",
                  "field:finance.market_share": "finance", "field:finance.sales_volume": "finance",
                  "field:background.strategy": "background", "field:organisation.structure": "organisation",
                  "field:organisation.power": "organisation"}


@dataclass
class Trace:
    """What the engine did, for the evaluation and the LLM path (not part of the answer contract)."""

    person: Person | None = None
    visible: set[str] | None = None
    resolution: Resolution | None = None
    grounding: Grounding | None = None
    query: Query | None = None
    kinds: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # source ids the answer cites, then hybrid hits: best first
    hybrid: list[str] = field(default_factory=list)  # the raw hybrid-search ranking
    portfolio: str | None = None
    language: str = "en"
    quotes: list[Quote] = field(default_factory=list)


def warm_up(kb: KnowledgeBase) -> None:
    """Load what the first question would otherwise wait for: the model, the examples' vectors, the name tables
    and the word lists (a second or two each, once per process)."""
    from skills.ask.evidence import _given_names
    from skills.ask.resolve import name_table, rare_word
    from skills.ask.vocab import examples_for

    kb.index.embedder.embed(["warm up"])
    examples_for(kb.index.embedder)
    rare_word("warm")
    _given_names()
    name_table(kb.store)
    ground(kb.store, "warm up 张敏", set())


def ask(kb: KnowledgeBase, question: str, asker: str, conversation_id: str | None = None,
        today: dt.date | None = None) -> Answer:
    """Answer a rep's question. `asker` is an email or Slack user id; `conversation_id` carries follow-ups."""
    return ask_traced(kb, question, asker, conversation_id, today)[0]


def ask_traced(kb: KnowledgeBase, question: str, asker: str, conversation_id: str | None = None,
               today: dt.date | None = None) -> tuple[Answer, Trace]:
    today = today or dt.date.today()
    question = unicodedata.normalize("NFKC", " ".join(question.split()))
    answer, trace = offline_answer(kb, question, asker, conversation_id, today)
    if kb.settings.llm_enabled and trace.person is not None and answer.status != "denied" \
            and trace.portfolio != "rivals":  # exact figures from the dated history; no tool gives the model them
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
    g = ground(store, question, visible)
    trace.grounding, trace.resolution = g, g.resolution
    lang = trace.language = detect_language(question, [(a, b) for a, b, m in g.spans if m in "XPS"])
    if g.resolution.hidden:  # before any retrieval: nothing of a hidden account is read, not even for a comparison
        return Answer(answer=t(lang, "denied"), status="denied", language=lang), trace
    q = understand(question, g, today, kb.index.embedder)
    trace.query = q
    if "rival_gaining" in q.concepts:  # "where is Siemens gaining?": the competitor watch (skills/rivals/ask.py)
        rivals = _rival_answer(kb, person, question, g, lang, today)
        if rivals is not None:
            trace.portfolio = "rivals"  # about many accounts: no follow-up memory of one
            return rivals, trace
        q.concepts.remove("rival_gaining")
    if continuity.INHERITED in q.concepts:  # "what did I inherit from Bob?": about a person, not an account
        return continuity.inherited_answer(store, person, question, lang), trace

    accounts = list(g.accounts)
    for c in g.contacts:  # "who is Zhang Min?": the contact's account
        if c.account_id not in accounts and not g.accounts:
            accounts.append(c.account_id)
    memory = recall(store, conversation_id, person.email)
    memory_accounts = [a for a in memory.account_ids if visible is None or a in visible]
    grounded_other = bool(g.accounts or g.contacts or g.unknown or g.items or g.places)
    if q.offtopic and not accounts:
        return Answer(answer=t(lang, "offtopic"), status="unknown", language=lang), trace
    if g.unknown and not accounts:
        key = "no_person_any" if _about_person(q) and not g.unknown_is_place else "unknown_name"
        return Answer(answer=t(lang, key, name=g.unknown), status="unknown", language=lang), trace
    kinds = [] if q.from_examples and (g.items or _FOLLOW_UP.search(question)) else list(q.concepts)
    refers_back = bool(PRONOUNS.search(question) or _FOLLOW_UP.search(question))
    if not accounts and memory_accounts and not grounded_other and refers_back and not q.portfolio_cue:
        accounts = memory_accounts  # "and how many employees do they have?"
    if not accounts and q.has("cases") and not g.unknown:  # "which of my accounts have overdue cases"
        from skills.ask.case_answers import portfolio_cases

        trace.portfolio = "cases"
        return portfolio_cases(kb, q, person, visible, lang, today), trace
    if not accounts and _is_portfolio(q, g):
        trace.portfolio = "query"
        return _portfolio(kb, q, g, visible, lang, today, trace), trace
    if not accounts and memory_accounts and not grounded_other and kinds:
        accounts = memory_accounts
    if g.accounts and not kinds and memory.intents and (_FOLLOW_UP.search(question) or not q.leftover):
        kinds = list(memory.intents)  # "and Jiangnan?" / "what about Acme?": the same question about another account
    if not accounts:
        return _search_all(kb, q, visible, lang, trace), trace
    trace.accounts, trace.kinds = accounts[:MAX_ACCOUNTS], kinds
    return _single(kb, q, g, trace.accounts, kinds, lang, today, trace), trace


def _rival_answer(kb: KnowledgeBase, person: Person, question: str, g: Grounding, lang: str,
                  today: dt.date) -> Answer | None:
    from skills.nudges import load_tiers
    from skills.rivals.ask import gaining_answer

    grounded = [i.name for i in g.items if i.dimension == "suppliers"]
    names = sorted({i.name for i in g.items})
    return gaining_answer(kb.store, person, question, grounded, names, lang, today, load_tiers(kb.store))


def _about_person(q: Query) -> bool:
    return q.answer_type == "person" or any(c in q.concepts for c in ("birthday", "attr:email", "attr:phone",
                                                                       "attr:title", "contacts"))


def _is_portfolio(q: Query, g: Grounding) -> bool:
    return bool(q.portfolio_cue or q.filters - {"missing"} or q.tier or q.sort or q.count or g.items
                or (g.places and not q.concepts)
                or (q.window and (q.has("key_dates") or q.has("birthday"))))


def _content(q: Query, g: Grounding) -> set[str]:
    """Words that carry meaning beyond the names: not stopwords, question words or grounded names."""
    text = g.masked(q.text.casefold())
    return {tok for tok in query_tokens(text) if tok not in QUESTION_WORDS and tok not in ("x", "p", "s", "r")
            and not tok.isdigit() and not (len(tok) == 1 and tok in "的是谁吗呢么有在和与了我们他她它哪什怎")}


def _owner_name(kb: KnowledgeBase, owner: str) -> str:
    p = kb.store.person(owner)
    return f"{p.name} ({p.email})" if p and p.name else owner


def _clean_kinds(kinds: list[str], has_items: bool) -> list[str]:
    """Drop general concepts that a more specific one in the same question already answers."""
    out = list(dict.fromkeys(kinds))
    drop: set[str] = set()
    if any(k.startswith("role:") for k in out):
        drop |= {"contacts", "dim:organisation", "field:organisation.power", "field:organisation.structure",
                 "topic:executives"}
    for k in out:
        if k.startswith("field:"):
            drop.add("dim:" + k[6:].split(".")[0])
        if k.startswith("metric:"):
            drop |= {"metrics", "field:finance.revenue", "dim:finance"} if k == "metric:revenue" else {"metrics"}
        if k.startswith("key_dates:"):
            drop.add("key_dates")
        if k.startswith("topic:"):
            drop |= {"contacts", "dim:organisation", "dim:background", "overview", "topic:executives"} - {k}
        if k.startswith("attr:") or k == "birthday":
            drop |= {"contacts", "overview"}
    if "topic:largest_customer" in out:
        drop |= {"dim:downstream", "field:finance.revenue"}
    if "last_contact" in out:
        drop |= {"key_dates:visit", "notes", "key_dates"}
    if "changes" in out:  # "what changed at X", "any updates to X's profile": the history, not the notes
        drop |= {"notes", "overview", "key_dates"}
    if any(k.startswith("cases") for k in out):  # the cases are the complaints on record
        drop |= {"metric:complaints", "metrics", "notes", "overview", "cases"} - ({"cases"} if "cases:overdue"
                                                                                  not in out else set())
    if has_items:
        drop |= {"dim:suppliers", "dim:competitors", "dim:downstream", "metric:satisfaction", "contacts", "metrics"}
    out = [k for k in out if k not in drop]
    if len(out) > 1:
        out = [k for k in out if k not in ("overview", "notes")] or out
    return out[:3]


def _evidence_part(kb: KnowledgeBase, q: Query, aid: str, fx: AccountFacts, dims: list[str] | None,
                   trace: Trace, lead: str | None = None, strong: bool = False,
                   kinds: tuple[str, ...] | None = None) -> Part | None:
    found, hits = ev.find(kb, q, {aid}, dims, min_score=ev.STRONG_SCORE if strong else ev.MIN_SCORE, kinds=kinds)
    trace.hybrid += [h.chunk_id for h in hits if h.chunk_id not in trace.hybrid]
    if not found:
        return None
    lines = [lead] if lead else []
    sources = []
    for e in found:
        h = e.hit
        title = h.text.split("\n", 1)[0].split(" - ", 1)[-1] if h.kind == "document" else \
            f"{fx.name} {label(DIM_LABELS, fx.lang, h.dimension or h.kind)}"
        head = t(fx.lang, "evidence", title=title, date=h.updated.isoformat()) if h.updated else \
            t(fx.lang, "evidence_undated", title=title)
        lines += [head, f"- \"{e.text}\""]
        sources.append(Source(account=h.account, dimension=h.dimension or h.kind, updated=h.updated, owner=h.owner,
                              id=h.chunk_id))
        trace.quotes.append(Quote(text=e.text, source_id=h.chunk_id))
    return Part(lines, sources)


def _single(kb: KnowledgeBase, q: Query, g: Grounding, accounts: list[str], kinds: list[str], lang: str,
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
        named = [c for ref in g.contacts if ref.account_id == aid
                 for c in profile.contacts if c.name == ref.name]
        items = fx.named_items(q.text, {i.name for i in g.items if aid in i.account_ids}) if g.items or named \
            else None
        wanted = _clean_kinds(kinds, items is not None)
        parts: list[Part] = []
        attrs = [k[5:] for k in wanted if k.startswith("attr:")] + (["birthday"] if "birthday" in wanted else [])
        ranks = vocabulary().title_ranks
        if attrs and not named and q.titles - ranks:  # "email for the plant manager?"
            named = fx.titled(q.titles, ranks)
        unknown_person = g.unknown or (q.leftover_name if attrs and not named else None)
        if named and attrs:
            parts += [fx.contact_attr(c, a) for c in named for a in attrs]
            wanted = [k for k in wanted if not k.startswith("attr:") and k != "birthday"]
        elif attrs and unknown_person:  # a person asked by a name that is no contact here: never someone else's data
            parts.append(Part([t(lang, "no_person", name=unknown_person, account=fx.name)], [], known=False))
            wanted = []
        elif attrs and any(k.startswith("topic:") for k in wanted):
            # "the CEO's birthday": documents may name the person, but only contacts have birthdays and emails
            wanted = [k for k in wanted if not k.startswith("topic:")]
        elif named:
            parts += [fx.contact_card(c) for c in named]
            wanted = [k for k in wanted if k not in ("contacts", "overview", "attr:title")]
        elif items:
            parts.append(items)
        elif (by_title := _by_title(fx, q, wanted)) is not None:  # "the procurement head", "their CEO"
            parts.append(by_title)
            wanted = [k for k in wanted if not k.startswith(("topic:", "role:", "contacts"))]
        if len(q.leftover) >= 2 and wanted and not named and not items and not any(
                k.startswith("topic:") for k in wanted) and _mentioned(kb, q, aid):
            # words beyond the concept ("is a rival offering them a free servo trial?"): a sentence that says it
            found = _evidence_part(kb, q, aid, fx, None, trace, strong=True)
            if found:
                parts.append(found)
        tiers_ref = [tiers]
        for kind in wanted:
            part = _part(kb, fx, kind, q, today, tiers_ref)
            tiers = tiers_ref[0]
            if part is not None and not part.known and kind in DOC_DIMENSIONS:
                # the field is empty: the account's documents and notes may still say it
                better = _evidence_part(kb, q, aid, fx, [DOC_DIMENSIONS[kind]], trace,
                                        lead=t(lang, "not_in_fields", account=fx.name), kinds=TEXT_KINDS)
                part = better or part
            if part is None and kind.startswith("topic:"):
                part = _evidence_part(kb, q, aid, fx, [DOC_DIMENSIONS[kind]], trace) or Part(
                    [t(lang, "search_none", account=fx.name)], [], known=False)
            if part is not None:
                parts.append(part)
        _hybrid(kb, q.search_text, {aid}, trace)  # recorded for the evaluation's retrieval recall
        if not parts:
            content = _content(q, g)
            found = _evidence_part(kb, q, aid, fx, None, trace) if content else None
            if found:
                parts.append(found)
            else:
                tiers = tiers if tiers is not None else pa.tier_map(kb.store, today)
                overview = fx.overview(tiers, today)
                if content:
                    parts.append(Part([t(lang, "search_none", account=fx.name), t(lang, "nearest")] + overview.lines,
                                      overview.sources, known=False))
                else:
                    parts.append(overview)
        parts = _unique_quotes(parts)
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
    trace.evidence = list(dict.fromkeys([s.id for s in sources] + trace.hybrid))
    return Answer(answer="\n\n".join(blocks), status="answered" if known_any else "unknown", language=lang,
                  sources=sources, stale=stale, account_ids=accounts, evidence=list(trace.quotes))


def _mentioned(kb: KnowledgeBase, q: Query, aid: str) -> bool:
    """Cheap check before quoting free-text evidence: some chunk of the account shares two of the question's own
    words (lexical search only; no sentence is embedded for questions the fields answer)."""
    found = kb.index.lexical.search(" ".join(sorted(q.leftover)), {aid}, 3)
    if not found:
        return False
    texts = kb.index.lexical.get([cid for cid, _ in found])
    return any(len(q.leftover & set(query_tokens(row["text"]))) >= 2 for row in texts.values())


def _unique_quotes(parts: list[Part]) -> list[Part]:
    """The same sentence found by two steps (a topic and the free-text words) is quoted once."""
    seen: set[str] = set()
    out = []
    for p in parts:
        quotes = [line for line in p.lines if line.startswith('- "')]
        if quotes and all(line in seen for line in quotes):
            continue
        seen.update(quotes)
        out.append(p)
    return out


def _by_title(fx: AccountFacts, q: Query, wanted: list[str]) -> Part | None:
    ranks = vocabulary().title_ranks
    if any(k.startswith("role:") for k in wanted):
        return None  # a role asked by name ("the economic buyer") is answered from roles, not from job titles
    asks_person = q.answer_type == "person" or any(k.startswith("topic:") for k in wanted)
    if not q.titles - ranks or not (asks_person or not [k for k in wanted if k != "contacts"]):
        return None  # "coo at pacrim?": a title alone asks for the person
    return fx.by_title(q.titles, ranks)


def _part(kb: KnowledgeBase, fx: AccountFacts, kind: str, q: Query, today: dt.date,
          tiers_ref: list) -> Part | None:
    if kind.startswith("role:"):
        return fx.role(kind, q.text)
    if kind == "contacts":
        return fx.contacts()
    if kind == "birthday":
        return fx.birthdays(q.text)
    if kind.startswith("field:"):
        return fx.field(kind[6:])
    if kind.startswith("dim:"):
        return fx.dimension(kind[4:])
    if kind.startswith("metric:"):
        return fx.metric(kind[7:])
    if kind == "metrics":
        return fx.metrics()
    if kind.startswith("key_dates"):
        return fx.key_dates(kind.partition(":")[2] or None, today)
    if kind == "last_contact":
        return fx.last_contact()
    if kind in ("tier", "overview"):
        if tiers_ref[0] is None:
            tiers_ref[0] = pa.tier_map(kb.store, today)
        return fx.tier(tiers_ref[0]) if kind == "tier" else fx.overview(tiers_ref[0], today)
    if kind == "notes":
        return fx.notes()
    if kind == "changes":
        return changes_part(kb.store, fx, q.window, q.days, today)
    if kind.startswith("cases"):  # service cases (skills/cases.py)
        from skills.ask.case_answers import cases_part

        return cases_part(kb, fx, kind, q, today)
    if kind == "clv":
        return continuity.clv_part(kb.store, fx, today)
    if kind == "handover:previous_owners":
        return continuity.owners_part(kb.store, fx)
    return None  # topic:* and attr:* without a named contact: documents, or the caller's fallback


def _dedupe(sources: list[Source]) -> list[Source]:
    seen: dict[str, Source] = {}
    for s in sources:
        seen.setdefault(s.id, s)
    return list(seen.values())


def _hybrid(kb: KnowledgeBase, question: str, scope: set[str] | None, trace: Trace, k: int = 5) -> list[Hit]:
    hits = hybrid_search(kb.index, question, scope, k=k)
    trace.hybrid += [h.chunk_id for h in hits if h.chunk_id not in trace.hybrid]
    return hits


def _search_all(kb: KnowledgeBase, q: Query, visible: set[str] | None, lang: str, trace: Trace) -> Answer:
    """No account named or remembered: the best evidence in everything the asker may see, or a plain question."""
    g = trace.grounding
    if g is None or not _content(q, g):
        return Answer(answer=t(lang, "no_account"), status="unknown", language=lang)
    found, hits = ev.find(kb, q, visible)
    trace.hybrid += [h.chunk_id for h in hits if h.chunk_id not in trace.hybrid]
    if not found:
        return Answer(answer=t(lang, "search_none_any"), status="unknown", language=lang)
    lines, sources = [], []
    for e in found:
        h = e.hit
        lines.append(f"- **{h.account}**: \"{e.text}\"")
        sources.append(Source(account=h.account, dimension=h.dimension or h.kind, updated=h.updated, owner=h.owner,
                              id=h.chunk_id))
        trace.quotes.append(Quote(text=e.text, source_id=h.chunk_id))
    ids = list(dict.fromkeys(e.hit.account_id for e in found))
    trace.accounts = ids
    trace.evidence = list(dict.fromkeys([s.id for s in sources] + trace.hybrid))
    return Answer(answer="\n".join(lines), status="answered", language=lang, sources=_dedupe(sources),
                  account_ids=ids, evidence=list(trace.quotes))


# ---------------------------------------------------------------------------------------------- portfolio
def _conditions(lang: str, conditions: list[tuple[str, dict]]) -> str:
    """What a portfolio answer filtered and sorted by, in the question's language: " (key tier, by revenue)"."""
    words = []
    for key, values in conditions:
        values = dict(values)
        if "tier" in values:
            values["tier"] = label(TIER_LABELS, lang, values["tier"])
        if "metric" in values:
            values["metric"] = label(METRIC_LABELS, lang, values["metric"])
        if "roles" in values:
            values["roles"] = " / ".join(label(ROLE_LABELS, lang, r) for r in values["roles"])
        words.append(t(lang, key, **values))
    if not words:
        return ""
    return f" ({', '.join(words)})" if lang != "zh" else f"（{'，'.join(words)}）"


def _portfolio(kb: KnowledgeBase, q: Query, g: Grounding, visible: set[str] | None, lang: str, today: dt.date,
               trace: Trace) -> Answer:
    store = kb.store
    if visible is not None and not visible:
        return Answer(answer=t(lang, "p_empty"), status="unknown", language=lang)
    tiers = pa.tier_map(store, today)
    if q.tier and not tiers:
        return Answer(answer=t(lang, "p_tiers_missing", tier=label(TIER_LABELS, lang, q.tier)), status="unknown",
                      language=lang)
    result = pq.run(store, q, g, visible, today, tiers, kb.settings.kam_stale_days, lang)
    rows = result.rows
    if result.subject == "accounts":
        for r in rows:
            r.text = label(TIER_LABELS, lang, r.text) if r.text in TIER_LABELS["en"] else r.text
        cond = _conditions(lang, result.conditions)
        if result.count_only:
            head = t(lang, "p_count", n=len(rows), cond=cond)
        else:
            head = t(lang, "p_accounts", n=len(rows), cond=cond)
        empty = t(lang, "p_accounts_none", cond=cond)
    else:
        assert result.window is not None
        wl = window_label(lang, result.window[2])
        if result.subject == "birthdays":
            head, empty = t(lang, "p_birthdays", label=wl, n=len(rows)), t(lang, "p_birthdays_none", label=wl)
        else:
            kinds = result.conditions[0][1]["kinds"] if result.conditions else []
            key = "p_renewals" if kinds == ["renewal"] else "p_dates"
            head, empty = t(lang, key, label=wl, n=len(rows)), t(lang, key + "_none", label=wl)
    trace.accounts = list(dict.fromkeys(r.account_id for r in rows))
    if not rows:
        return Answer(answer=empty, status="answered", language=lang)
    lines = [head] + [t(lang, "list_row", account=f"**{r.account}**", text=r.text) for r in rows[:MAX_LIST]]
    if len(rows) > MAX_LIST:
        lines.append(t(lang, "more", n=len(rows) - MAX_LIST))
    sources = _dedupe([Source(account=r.account, dimension=r.dimension, updated=r.updated, owner=r.owner,
                              id=r.source_id) for r in rows[:MAX_LIST]])
    trace.evidence = [s.id for s in sources]
    return Answer(answer="\n".join(lines), status="answered", language=lang, sources=sources,
                  account_ids=list(dict.fromkeys(r.account_id for r in rows)))
