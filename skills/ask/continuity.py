"""Ask: "what's Acme's lifetime value?", "who held Acme before me?" and "what did I inherit from Bob?".

Lifetime value comes from skills/clv.py; who held an account from the history of its `owner` field
(skills/handover.py reads it), so handovers, imports and edits all count. Phrasings: data/continuity.yaml.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path

import yaml

from knowledge.profile import Person
from knowledge.store import Store
from skills.ask.facts import AccountFacts, Part
from skills.ask.models import Answer, Source
from skills.ask.vocab import normalise

DATA = Path(__file__).parent / "data" / "continuity.yaml"
INHERITED = "handover:inherited"


@cache
def _phrases() -> dict[str, dict[str, str]]:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))["phrases"]


def say(lang: str, key: str, **kw: object) -> str:
    texts = _phrases()[key]
    return texts.get(lang, texts["en"]).format(**kw)


def _who(store: Store, ident: str) -> str:
    p = store.person(ident)
    return f"{p.name} ({p.email})" if p and p.name else ident


def clv_part(store: Store, fx: AccountFacts, today: dt.date) -> Part:
    from skills.clv import ClvConfigError, account_clv, money

    try:
        c = account_clv(store, fx.id, today)
    except ClvConfigError as exc:
        return Part([str(exc)], [], known=False)
    if c.value is None:
        return Part([say(fx.lang, "clv_unknown", account=fx.name)], [], known=False)
    line = say(fx.lang, "clv", account=fx.name, value=money(c.value), years=f"{c.years:.1f}", tier=c.tier or "-",
               margin=f"{c.margin:.0%}", assumed=say(fx.lang, "clv_assumed") if c.margin_source == "assumed" else "",
               growth=f"{c.growth:+.0%}", rate=f"{c.discount_rate:.0%}")
    return Part([line, *(say(fx.lang, "clv_note", note=n) for n in c.notes)],
                [fx.src("metrics", f"{fx.id}:clv", fx.p.metrics.as_of)])


def owners_part(store: Store, fx: AccountFacts) -> Part:
    from skills.handover import owner_history

    spells = owner_history(store, fx.id)
    source = fx.src(None, f"{fx.id}:history", None)
    if len(spells) <= 1:
        return Part([say(fx.lang, "owners_none", account=fx.name, owner=_who(store, fx.p.owner))], [source],
                    known=bool(spells))
    before = [s.owner for s in spells[:-1]][::-1]
    lines = [say(fx.lang, "owners_before", account=fx.name, owner=_who(store, spells[-1].owner),
                 previous=", ".join(_who(store, o) for o in dict.fromkeys(before))),
             say(fx.lang, "owners", account=fx.name)]
    for s in spells:
        how = say(fx.lang, "owner_how", source=s.source, by=f", {s.by}" if s.by else "") if s.source else ""
        lines.append(say(fx.lang, "owner_row", owner=_who(store, s.owner),
                         since=s.since.date().isoformat() if s.since else say(fx.lang, "owner_start"),
                         until=s.until.date().isoformat() if s.until else say(fx.lang, "owner_now"), how=how))
    return Part(lines, [source])


def named_person(store: Store, question: str, asker: Person) -> Person | None:
    """The person a question names (email, full name, first name or the email's local part), not the asker."""
    text = normalise(question)
    best: tuple[int, Person] | None = None
    for p in store.people():
        if p.email == asker.email:
            continue
        names = [p.email, p.email.split("@")[0], *([p.name, *p.name.split()] if p.name else [])]
        for n in map(normalise, names):  # ASCII boundaries: "从bob那里" names bob too
            found = n and re.search(rf"(?<![a-z0-9@.]){re.escape(n)}(?![a-z0-9@])", text)
            if found and (best is None or len(n) > best[0]):
                best = (len(n), p)
    return best[1] if best else None


def inherited_answer(store: Store, asker: Person, question: str, lang: str) -> Answer:
    from skills.handover import inherited

    previous = named_person(store, question, asker)
    if previous is None:
        return Answer(answer=say(lang, "inherited_who"), status="unknown", language=lang)
    got = inherited(store, asker, previous)
    if not got:
        return Answer(answer=say(lang, "inherited_none", previous=_who(store, previous.email)), status="unknown",
                      language=lang)
    lines = [say(lang, "inherited", n=len(got), previous=_who(store, previous.email))]
    lines += [say(lang, "inherited_row", account=name, date=at.date().isoformat(), source=source or "-")
              for _, name, at, source in got]
    sources = [Source(account=name, dimension=None, updated=at.date(), owner=asker.email, id=f"{aid}:history")
               for aid, name, at, _ in got]
    return Answer(answer="\n".join(lines), status="answered", language=lang, sources=sources,
                  account_ids=[aid for aid, *_ in got])
