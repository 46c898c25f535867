"""Ask: "where is <rival> gaining?", "哪些客户<对手>的份额在上升?": the rival's accounts where its share rose over
the last 90 days, from `rivals_report` (the same figures as `kam rivals`). Phrasing in phrases.yaml beside this."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.profile import Person
from knowledge.store import Store
from skills.ask.models import Answer, Source
from skills.rivals.report import canonical_names, rivals_report
from skills.rivals.vocab import fold, phrase_pattern

CONCEPT = "rival_gaining"  # the vocabulary concept (skills/ask/data/vocab.yaml)
DAYS = 90


@lru_cache(maxsize=1)
def _phrases() -> dict[str, dict[str, str]]:
    return yaml.safe_load(Path(__file__).with_name("phrases.yaml").read_text(encoding="utf-8"))


def _t(lang: str, key: str, **kw: object) -> str:
    entry = _phrases()[key]
    return str(entry.get(lang, entry["en"])).format(**kw)


def rival_in(question: str, grounded: list[str], supplier_names: list[str]) -> str | None:
    """The rival a question names: a grounded supplier, else a stored supplier name or alias in its text."""
    if grounded:
        return grounded[0]
    canon = canonical_names()
    pattern = phrase_pattern([*canon, *supplier_names])
    m = pattern.search(fold(question)) if pattern else None
    return canon.get(m.group(0), m.group(0)) if m else None


def gaining_answer(store: Store, person: Person, question: str, grounded: list[str], supplier_names: list[str],
                   lang: str, today: dt.date, tiers: dict[str, str] | None = None) -> Answer | None:
    """The answer, or None when the question names no rival (the caller answers it another way)."""
    name = rival_in(question, grounded, supplier_names)
    if name is None:
        return None
    views = rivals_report(store, person, today, tiers, rival=name)
    if not views:
        return Answer(answer=_t(lang, "not_present", rival=name), status="unknown", language=lang)
    v = views[0]
    sources = [Source(account=a.account, dimension="suppliers", updated=a.updated, owner=a.owner,
                      id=f"{a.account_id}:suppliers") for a in v.accounts]
    gaining = [a for a in v.accounts if a.gaining]
    if gaining:
        lines = [_t(lang, "gaining", rival=v.rival, n=len(gaining), days=DAYS)]
        for a in sorted(gaining, key=lambda a: -(a.change_90d or 0)):
            sat = _t(lang, "satisfaction", value=a.satisfaction) if a.satisfaction is not None else ""
            lines.append(_t(lang, "gaining_line", account=a.account, then=_pct(a.share_90d_ago), now=_pct(a.share),
                            points=(a.change_90d or 0) * 100, satisfaction=sat))
        lines.append(_t(lang, "exposure", exposure=sum(a.exposure for a in gaining)))
        text = "\n".join(lines)
        sources = [s for s in sources if s.account in {a.account for a in gaining}]
    else:
        where = _t(lang, "separator").join(f"{a.account} {_pct(a.share)}" for a in v.accounts)
        text = _t(lang, "not_gaining", rival=v.rival, days=DAYS, where=where)
    return Answer(answer=text, status="answered", language=lang, sources=sources,
                  account_ids=[a.account_id for a in (gaining or v.accounts)])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"
