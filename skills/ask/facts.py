"""Single-account answers composed from the structured profile: contacts by role, fields, items, dates, metrics.

Every line is quoted from stored data and carries the source it came from; a missing fact is said plainly with
the nearest thing that is known.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from knowledge.chunks import dimension_text, profile_chunks
from knowledge.profile import DIMENSIONS, AccountProfile, Contact
from skills.ask.models import Source
from skills.ask.phrases import (
    ATTR_LABELS,
    DIM_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    LABELS,
    METRIC_LABELS,
    ROLE_LABELS,
    TIER_LABELS,
    label,
    t,
)
from skills.ask.portfolio_answers import when


@dataclass
class Part:
    lines: list[str]
    sources: list[Source] = field(default_factory=list)
    known: bool = True  # False: the data does not hold the answer (the lines say so)


class AccountFacts:
    """One account's profile with the ids of its chunks, ready to quote."""

    def __init__(self, account_id: str, profile: AccountProfile, lang: str, owner_name: str):
        self.id, self.p, self.lang, self.owner_name = account_id, profile, lang, owner_name
        chunks = profile_chunks(account_id, profile)
        contact_ids = [c.id for c in chunks if c.kind == "contact"]
        self.contact_ids = {id(c): cid for c, cid in zip(profile.contacts, contact_ids, strict=False)}
        inter = [c.id for c in chunks if c.kind == "interaction"]
        self.interaction_ids = {id(i): cid for i, cid in zip(profile.interactions[-20:], inter, strict=False)}
        notes = [c.id for c in chunks if c.kind == "note"]
        self.note_ids = {id(n): cid for n, cid in zip(profile.notes, notes, strict=False)}
        self.chunk_ids = {c.id for c in chunks}

    # ------------------------------------------------------------ helpers
    @property
    def name(self) -> str:
        return self.p.account

    def src(self, dimension: str | None, source_id: str, updated: dt.date | None) -> Source:
        return Source(account=self.p.account, dimension=dimension, updated=updated, owner=self.p.owner, id=source_id)

    def dim_source(self, dim: str) -> Source:
        sid = f"{self.id}:dim:{dim}"
        return self.src(dim, sid if sid in self.chunk_ids else f"{self.id}:{dim}", self.p.dimension(dim).updated)

    def person(self, c: Contact) -> str:
        level = label(LABELS["influence"], self.lang, c.influence) if c.influence else None
        extra = t(self.lang, "person_extra_sep").join(
            filter(None, [c.title, t(self.lang, "influence", level=level) if level else None]))
        return f"**{c.name}**" + (t(self.lang, "paren", text=extra) if extra else "")

    def contact_source(self, c: Contact) -> Source:
        return self.src("contacts", self.contact_ids.get(id(c), f"{self.id}:contacts"), self.p.organisation.updated)

    def _people(self, contacts: list[Contact]) -> str:
        return "; ".join(self.person(c) for c in contacts)

    # ------------------------------------------------------------ contacts
    def role(self, kind: str, question: str) -> Part:
        roles = {"role:economic_buyer": ["economic_buyer"], "role:decision_maker": ["decision_maker"],
                 "role:signer": ["decision_maker", "economic_buyer"]}.get(kind, [kind.split(":", 1)[1]])
        if kind == "role:decision_maker" and re.search(r"procure|purchas|buying|采购", question.casefold()):
            roles = ["decision_maker", "economic_buyer"]  # "采购决策人": whoever decides the purchase
        lines, sources = [], []
        for role in roles:
            people = [c for c in self.p.contacts if c.role == role]
            if people:
                lines.append(t(self.lang, "role", role=label(ROLE_LABELS, self.lang, role).capitalize()
                               if self.lang == "en" else label(ROLE_LABELS, self.lang, role),
                               account=self.name, people=self._people(people)))
                sources += [self.contact_source(c) for c in people]
        if lines:
            return Part(lines, sources)
        wanted = roles[0]
        if wanted in ("decision_maker", "economic_buyer"):
            other = "economic_buyer" if wanted == "decision_maker" else "decision_maker"
            people = [c for c in self.p.contacts if c.role == other]
            if people:  # the nearest known thing: who else decides the purchase
                return Part([t(self.lang, "role_instead", role=label(ROLE_LABELS, self.lang, wanted),
                               account=self.name, other=label(ROLE_LABELS, self.lang, other),
                               people=self._people(people))], [self.contact_source(c) for c in people])
        return self._role_missing(wanted)

    def _role_missing(self, role: str) -> Part:
        lines = [t(self.lang, "role_none", role=label(ROLE_LABELS, self.lang, role), account=self.name)]
        sources = []
        if self.p.contacts:
            people = "; ".join(f"{self.person(c)}" + (f" - {label(ROLE_LABELS, self.lang, c.role)}" if c.role else "")
                               for c in self.p.contacts)
            lines.append(t(self.lang, "contacts_known", people=people))
            sources += [self.contact_source(c) for c in self.p.contacts]
        if self.p.organisation.power:
            lines.append(t(self.lang, "power", text=self.p.organisation.power))
            sources.append(self.dim_source("organisation"))
        for n in self.p.notes:
            if n.dimension == "organisation":
                lines.append(t(self.lang, "note_line_short", date=n.date.isoformat(), by=n.by or "?", text=n.text))
                sources.append(self.src("organisation", self.note_ids.get(id(n), f"{self.id}:notes"), n.date))
        return Part(lines, sources, known=False)

    def contacts(self) -> Part:
        if not self.p.contacts:
            return Part([t(self.lang, "no_contacts", account=self.name)], [], known=False)
        people = "; ".join(f"{self.person(c)}" + (f" - {label(ROLE_LABELS, self.lang, c.role)}" if c.role else "")
                           for c in self.p.contacts)
        return Part([t(self.lang, "contacts", account=self.name, people=people)],
                    [self.contact_source(c) for c in self.p.contacts])

    def birthdays(self, question: str) -> Part:
        q = question.casefold()
        named = [c for c in self.p.contacts if c.name.casefold() in q]
        people = [c for c in (named or self.p.contacts) if c.birthday]
        if not people:
            return Part([t(self.lang, "birthday_none", account=self.name)], [], known=False)
        text = "; ".join(f"**{c.name}** {c.birthday.lstrip('-') if c.birthday.startswith('--') else c.birthday}"
                         for c in people)
        return Part([t(self.lang, "birthday", account=self.name, people=text)],
                    [self.contact_source(c) for c in people])

    def contact_card(self, c: Contact) -> Part:
        bits = [self.person(c)]
        if c.role:
            bits.append(label(ROLE_LABELS, self.lang, c.role))
        if c.notes:
            bits.append(c.notes)
        return Part([t(self.lang, "item", account=self.name, line=" - ".join(bits))], [self.contact_source(c)])

    def contact_attr(self, c: Contact, attr: str) -> Part:
        """One attribute of a named contact; when it is not recorded, say so and show what is."""
        value = getattr(c, attr, None)
        if attr == "birthday" and value:
            value = value.lstrip("-") if value.startswith("--") else value
        lbl = label(ATTR_LABELS, self.lang, attr)
        if value:
            return Part([t(self.lang, "attr", person=f"**{c.name}**", label=lbl, value=value, account=self.name)],
                        [self.contact_source(c)])
        known = [f"{label(ATTR_LABELS, self.lang, a)} {getattr(c, a)}" for a in ("title", "email", "phone")
                 if a != attr and getattr(c, a, None)]
        lines = [t(self.lang, "attr_none", person=f"**{c.name}**", label=lbl, account=self.name)]
        if known:
            lines.append(t(self.lang, "attr_known", known="; ".join(known)))
        return Part(lines, [self.contact_source(c)], known=False)

    def by_title(self, wanted: set[str], ranks: set[str]) -> Part | None:
        """Contacts whose job title carries the asked function words ("procurement head", "quality VP", "CEO")."""
        people = self.titled(wanted, ranks)
        if not people:
            return None
        return Part([t(self.lang, "item", account=self.name, line=" - ".join(
            filter(None, [self.person(c), label(ROLE_LABELS, self.lang, c.role) if c.role else None])))
            for c in people], [self.contact_source(c) for c in people])

    def titled(self, wanted: set[str], ranks: set[str]) -> list[Contact]:
        """The contacts whose titles fit the asked title words best (none when nothing fits)."""
        from skills.ask.vocab import vocabulary

        function = wanted - ranks
        best: list[tuple[int, Contact]] = []
        for c in self.p.contacts:
            have = vocabulary().title_canon(c.title or "")
            if function:
                if not function & have:
                    continue
                score = 2 * len(function & have) + len(wanted & have & ranks)
            else:  # only rank words asked ("the president"): the title must be just that
                if not have or not have <= wanted:
                    continue
                score = len(have)
            best.append((score, c))
        if not best:
            return []
        top = max(s for s, _ in best)
        return [c for s, c in best if s == top]

    # ------------------------------------------------------------ fields and dimensions
    def field(self, path: str) -> Part:
        dim, _, name = path.partition(".")
        section = self.p.dimension(dim)
        value = getattr(section, name, None)
        lbl = label(FIELD_LABELS, self.lang, path)
        if value:
            return Part([t(self.lang, "field", account=self.name, label=lbl, value=value)], [self.dim_source(dim)])
        return self._missing(dim, lbl)

    def _missing(self, dim: str, lbl: str) -> Part:
        section = self.p.dimension(dim)
        dim_lbl = label(DIM_LABELS, self.lang, dim)
        if section.updated:
            lines = [t(self.lang, "field_none", label=lbl, account=self.name, dim=dim_lbl,
                       updated=section.updated.isoformat(), owner=self.owner_name)]
        else:
            lines = [t(self.lang, "field_none_undated", label=lbl, account=self.name, dim=dim_lbl,
                       owner=self.owner_name)]
        sources = [self.dim_source(dim)] if section.updated or not section.is_empty() else []
        if section.summary:
            lines.append(t(self.lang, "summary_line", dim=dim_lbl.capitalize() if self.lang == "en" else dim_lbl,
                           summary=section.summary))
        for n in self.p.notes:
            if n.dimension == dim:
                lines.append(t(self.lang, "note_line_short", date=n.date.isoformat(), by=n.by or "?", text=n.text))
                sources.append(self.src(dim, self.note_ids.get(id(n), f"{self.id}:notes"), n.date))
        return Part(lines, sources, known=False)

    def dimension(self, dim: str) -> Part:
        words = LABELS["profile_fields"][self.lang] if self.lang != "en" else None
        body = dimension_text(self.p, dim, words, t(self.lang, "colon"))
        if not body:
            return self._missing(dim, label(DIM_LABELS, self.lang, dim))
        lines = [t(self.lang, "dim", account=self.name, dim=label(DIM_LABELS, self.lang, dim)), body]
        sources = [self.dim_source(dim)]
        for n in self.p.notes[-3:]:
            if n.dimension == dim:
                lines.append(t(self.lang, "note_line", date=n.date.isoformat(), by=n.by or "?", text=n.text))
                sources.append(self.src(dim, self.note_ids.get(id(n), f"{self.id}:notes"), n.date))
        return Part(lines, sources)

    def named_items(self, question: str, names: set[str] = frozenset()) -> Part | None:
        """Suppliers, competitors, customers or contacts the question names ("what share does Siemens get");
        `names`: stored item names grounded from a short form ("Toyota" for "Toyota Motor Thailand")."""
        q = question.casefold()
        lines, sources = [], []
        for dim in ("suppliers", "competitors", "downstream"):
            for item in getattr(self.p, dim).items:
                key = item.name.casefold()
                if item.name in names or len(key) >= 3 and re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", q) or (
                        re.search(r"[\u3400-\u9fff]", key) and key in q):
                    bits = [f"**{item.name}**"]
                    share = getattr(item, "share", None)
                    sat = getattr(item, "satisfaction", None)
                    if share is not None:
                        bits.append(f"{label(LABELS['profile_fields'], self.lang, 'share')} {share * 100:.0f}%")
                    if sat is not None:
                        bits.append(f"{label(LABELS['profile_fields'], self.lang, 'satisfaction')} {sat:g}/5")
                    for extra in ("needs", "notes"):
                        if getattr(item, extra, None):
                            bits.append(getattr(item, extra))
                    kind = label(DIM_LABELS, self.lang, dim)
                    lines.append(t(self.lang, "item", account=self.name, line=f"{kind} - " + "; ".join(bits)))
                    sources.append(self.dim_source(dim))
                    for n in self.p.notes:
                        if n.dimension == dim and key in n.text.casefold():
                            lines.append(t(self.lang, "note_line", date=n.date.isoformat(), by=n.by or "?",
                                           text=n.text))
                            sources.append(self.src(dim, self.note_ids.get(id(n), f"{self.id}:notes"), n.date))
        for c in self.p.contacts:
            if c.name.casefold() in q:
                bits = [self.person(c)]
                if c.role:
                    bits.append(label(ROLE_LABELS, self.lang, c.role))
                if c.notes:
                    bits.append(c.notes)
                lines.append(t(self.lang, "item", account=self.name, line=" - ".join(bits)))
                sources.append(self.contact_source(c))
        return Part(lines, sources) if lines else None

    # ------------------------------------------------------------ records
    def metric(self, name: str) -> Part:
        m = self.p.metrics
        value = getattr(m, name, None)
        lbl = label(METRIC_LABELS, self.lang, name)
        source = self.src("metrics", f"{self.id}:metrics", m.as_of)
        if value is None:
            return Part([t(self.lang, "metric_none", label=lbl, account=self.name)], [], known=False)
        if name in ("profit_margin", "purchase_share", "growth"):
            text = f"{value * 100:.0f}%"
        elif name in ("satisfaction", "potential", "footprint", "tech_cooperation"):
            text = f"{value:g}/5"
        elif name == "revenue":
            text = f"{value:,.0f}"
        else:
            text = f"{value:g}"
        as_of = m.as_of.isoformat() if m.as_of else "?"
        return Part([t(self.lang, "metric", account=self.name, label=lbl, value=text, as_of=as_of)], [source])

    def metrics(self) -> Part:
        names = [n for n in METRIC_LABELS["en"] if getattr(self.p.metrics, n, None) is not None]
        if not names:
            return Part([t(self.lang, "metric_none", label="metrics", account=self.name)], [], known=False)
        parts = [self.metric(n) for n in names]
        return Part([line for p in parts for line in p.lines], parts[0].sources)

    def key_dates(self, kind: str | None, today: dt.date) -> Part:
        source = self.src("key_dates", f"{self.id}:key_dates", None)
        dates = sorted(self.p.key_dates, key=lambda d: d.date)
        wanted = [d for d in dates if kind is None or d.kind == kind]
        upcoming = [d for d in wanted if d.date >= today]
        chosen = (upcoming[:1] if kind and upcoming else upcoming) or wanted[-1:]

        def line(d) -> str:  # noqa: ANN001
            return "- " + t(self.lang, "date_line", date=f"**{d.date.isoformat()}**",
                            kind=label(KIND_LABELS, self.lang, d.kind), title=d.title,
                            when=when(self.lang, d.date, today))

        if chosen:
            return Part([t(self.lang, "dates", account=self.name), *(line(d) for d in chosen)], [source])
        kind_lbl = label(KIND_LABELS, self.lang, kind or "other")
        others = [d for d in dates if d.date >= today]
        if others:
            return Part([t(self.lang, "dates_other", kind=kind_lbl, account=self.name), *(line(d) for d in others)],
                        [source], known=False)
        return Part([t(self.lang, "dates_none", kind=kind_lbl, account=self.name)], [], known=False)

    def last_contact(self) -> Part:
        if not self.p.interactions:
            return Part([t(self.lang, "last_contact_none", account=self.name)], [], known=False)
        it = max(self.p.interactions, key=lambda i: i.date)
        kind = label(LABELS["interactions"], self.lang, it.kind)
        text = (t(self.lang, "interaction", date=it.date.isoformat(), kind=kind, by=it.by) if it.by
                else t(self.lang, "interaction_anon", date=it.date.isoformat(), kind=kind)) + (
            f" - {it.summary.rstrip('.。')}" if it.summary else "")
        sid = self.interaction_ids.get(id(it), f"{self.id}:interactions")
        return Part([t(self.lang, "last_contact", account=self.name, line=text)],
                    [self.src("interactions", sid, it.date)])

    def tier(self, tiers: dict[str, str]) -> Part:
        if not tiers:
            return Part([t(self.lang, "tier_none", account=self.name)], [], known=False)
        tier = tiers.get(self.id)
        if tier is None:
            return Part([t(self.lang, "tier_none", account=self.name)], [], known=False)
        return Part([t(self.lang, "tier", account=self.name, tier=label(TIER_LABELS, self.lang, tier))],
                    [self.src("tier", f"{self.id}:tier", None)])

    def notes(self) -> Part:
        if not self.p.notes:
            return Part([t(self.lang, "notes_none", account=self.name)], [], known=False)
        recent = sorted(self.p.notes, key=lambda n: n.date)[-3:]
        lines = [t(self.lang, "notes", account=self.name)]
        lines += [t(self.lang, "note_row", date=n.date.isoformat(), dim=label(DIM_LABELS, self.lang, n.dimension),
                    by=n.by or "?", text=n.text) for n in reversed(recent)]
        return Part(lines, [self.src(n.dimension, self.note_ids.get(id(n), f"{self.id}:notes"), n.date)
                            for n in reversed(recent)])

    def overview(self, tiers: dict[str, str], today: dt.date) -> Part:
        tier = label(TIER_LABELS, self.lang, tiers[self.id]) if self.id in tiers else None
        extra = t(self.lang, "person_extra_sep").join(filter(None, [
            self.p.industry, self.p.region, t(self.lang, "overview_tier", tier=tier) if tier else None,
            t(self.lang, "overview_owner", owner=self.owner_name)]))
        lines = [t(self.lang, "overview_head", account=f"**{self.name}**", extra=extra)]
        sources = [self.src(None, f"{self.id}:profile", None)]
        if self.p.background.summary:
            lines.append(self.p.background.summary)
            sources.append(self.dim_source("background"))
        deciders = [c for c in self.p.contacts if c.role in ("decision_maker", "economic_buyer")]
        if deciders:
            lines.append("; ".join(t(self.lang, "overview_line", label=label(ROLE_LABELS, self.lang, c.role),
                                     value=self.person(c)) for c in deciders))
            sources += [self.contact_source(c) for c in deciders]
        upcoming = [d for d in sorted(self.p.key_dates, key=lambda d: d.date) if d.date >= today][:1]
        for d in upcoming:
            lines.append(t(self.lang, "overview_line", label=label(KIND_LABELS, self.lang, d.kind),
                           value=f"{d.date.isoformat()} - {d.title}"))
            sources.append(self.src("key_dates", f"{self.id}:key_dates", None))
        return Part(lines, sources)


def cited_dimensions(sources: list[Source]) -> set[str]:
    """The six dimensions an answer relied on (contacts count as organisation), for the stale warning."""
    out = set()
    for s in sources:
        if s.dimension in DIMENSIONS and ":dim:" in s.id:
            out.add(s.dimension)
        elif s.dimension == "contacts":
            out.add("organisation")
    return out
