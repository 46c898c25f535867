"""Turning an account into retrievable chunks: one per dimension, contact, note, interaction and document part."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from knowledge.db import DocumentRow
from knowledge.profile import DIMENSION_TITLES, DIMENSIONS, AccountProfile

DOC_CHUNK_CHARS = 1200
DOC_CHUNK_OVERLAP = 150


@cache

def contact_key(name: str) -> str:
    """The stable part of a contact's chunk id (`<account>:contact:<key>`): a hash of the name, case-folded."""
    return hashlib.sha1(name.casefold().encode()).hexdigest()[:10]

def _splitter():  # noqa: ANN202 - langchain's splitter, loaded only when a document is chunked (not at start-up)
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=DOC_CHUNK_CHARS, chunk_overlap=DOC_CHUNK_OVERLAP, separators=["\n\n", "\n", ". ", "。", " ", ""]
    )


@dataclass(frozen=True)
class Chunk:
    id: str  # stable: account id + what the chunk is about
    account_id: str
    account: str
    kind: str  # profile | dimension | contact | key_dates | interaction | note | document
    dimension: str  # one of DIMENSIONS, or "" for records outside the six
    text: str
    updated: dt.date | None
    owner: str
    team: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        meta = f"{self.account}|{self.kind}|{self.dimension}|{self.updated}|{self.owner}|{','.join(self.team)}"
        return hashlib.sha256(f"{meta}\n{self.text}".encode()).hexdigest()[:32]


def _fmt_pct(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:.0f}%"


def dimension_text(profile: AccountProfile, dim: str, words: Mapping[str, str] | None = None,
                   colon: str = ": ") -> str:
    """The dimension as readable lines ("Field: value"), the form both the index and answers quote from. `words`
    names the fields in another language (answers to a Chinese question); the index always gets the English."""
    section = profile.dimension(dim).model_dump(exclude_none=True, exclude={"updated"})
    words = words or {}

    def word(key: str) -> str:
        return words.get(key, key.replace("_", " "))

    lines = []
    for key, value in section.items():
        if key == "items":
            for item in value:
                parts = [item["name"]]
                if item.get("share") is not None:
                    parts.append(f"{word('share')} {_fmt_pct(item['share'])}")
                if item.get("satisfaction") is not None:
                    parts.append(f"{word('satisfaction')} {item['satisfaction']:g}/5")
                for extra in ("needs", "notes"):
                    if item.get(extra):
                        parts.append(f"{word(extra)}{colon}{item[extra]}")
                lines.append("- " + "; ".join(parts))
        elif value not in ("", []):
            lines.append(f"{word(key).capitalize() if not words else word(key)}{colon}{value}")
    return "\n".join(lines)


def _names(profile: AccountProfile) -> str:
    return profile.account + (f" ({', '.join(profile.aliases)})" if profile.aliases else "")


def profile_chunks(account_id: str, profile: AccountProfile, documents: list[DocumentRow] = ()) -> list[Chunk]:
    owner, team = profile.owner, tuple(profile.team)
    names = _names(profile)

    def chunk(key: str, kind: str, dim: str, text: str, updated: dt.date | None) -> Chunk:
        return Chunk(f"{account_id}:{key}", account_id, profile.account, kind, dim, text, updated, owner, team)

    out = [chunk("profile", "profile", "", "\n".join(filter(None, [
        f"{names}: account profile.",
        f"Industry: {profile.industry}" if profile.industry else None,
        f"Region: {profile.region}" if profile.region else None,
        f"Owner: {profile.owner}",
        f"Team: {', '.join(profile.team)}" if profile.team else None,
    ])), None)]
    for dim in DIMENSIONS:
        body = dimension_text(profile, dim)
        section = profile.dimension(dim)
        if body:
            out.append(chunk(f"dim:{dim}", "dimension", dim, f"{names} - {DIMENSION_TITLES[dim]}\n{body}",
                             section.updated))
    org_updated = profile.organisation.updated
    seen_contacts: set[str] = set()
    for c in profile.contacts:
        key = contact_key(c.name)
        while key in seen_contacts:  # two contacts with one name: keep ids unique and stable
            key += "x"
        seen_contacts.add(key)
        bits = [f"{c.name}", c.title, c.role.replace("_", " ") if c.role else None,
                f"influence {c.influence}" if c.influence else None, c.notes]
        out.append(chunk(f"contact:{key}", "contact", "organisation",
                         f"{names} - contact: " + "; ".join(b for b in bits if b), org_updated))
    if profile.key_dates:
        lines = [f"- {d.date.isoformat()} {d.kind}: {d.title}" for d in profile.key_dates]
        out.append(chunk("key_dates", "key_dates", "", f"{names} - key dates\n" + "\n".join(lines), None))
    for it in profile.interactions[-20:]:  # recent contact history is what reps ask about
        key = hashlib.sha1(f"{it.date}{it.kind}{it.summary}".encode()).hexdigest()[:10]
        out.append(chunk(f"interaction:{key}", "interaction", "",
                         f"{names} - {it.kind} on {it.date.isoformat()}"
                         + (f" by {it.by}" if it.by else "") + (f": {it.summary}" if it.summary else ""), it.date))
    for n in profile.notes:
        key = hashlib.sha1(f"{n.date}{n.dimension}{n.text}".encode()).hexdigest()[:10]
        out.append(chunk(f"note:{key}", "note", n.dimension,
                         f"{names} - note ({n.dimension}, {n.date.isoformat()}): {n.text}", n.date))
    for doc in documents:
        for j, part in enumerate(_splitter().split_text(doc.text)):
            out.append(chunk(f"doc:{doc.id}:{j}", "document", doc.dimension,
                             f"{names} - {doc.title}\n{part}", doc.dated))
    # a note or interaction recorded twice (same date, kind and text) has one id: index it once
    unique: dict[str, Chunk] = {}
    for c in out:
        unique.setdefault(c.id, c)
    return list(unique.values())
