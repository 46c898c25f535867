"""The scan of a new note (and, later, a service case's text) for a rival's name or a key contact leaving.

`NoteScanner.scan(account_id, text, source, when)` is the one entry point: notes call it from the watch
(skills/rivals/watch.py), and any other text that arrives dated at an account (a service case) can call it the same
way. Rivals are every supplier ever named on a stored supplier list plus the aliases in watch.yaml; key contacts are the
account's contacts whose role is in watch.yaml's `key_roles`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from knowledge.db import ContactRow
from knowledge.store import Store
from knowledge.supplier_history import OURS, SupplierHistoryRow
from skills.rivals.vocab import WatchVocab, fold, phrase_pattern, watch_vocab

_SENTENCES = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Finding:
    account_id: str
    kind: str  # rival_mentioned | key_contact_leaving
    name: str  # the rival (canonical name) or the contact
    matched: str  # the words of the text that named it
    excerpt: str  # the sentence it was found in
    source: str  # where the text came from: a note's source (slack, cli, file, ...), "case", ...
    when: dt.datetime
    role: str | None = None  # key_contact_leaving: the contact's role


class NoteScanner:
    def __init__(self, rivals: Iterable[str], key_contacts: dict[str, list[tuple[str, str | None]]],
                 vocab: WatchVocab | None = None):
        vocab = vocab or watch_vocab()
        self.vocab = vocab
        self._canon: dict[str, str] = {}
        for name in rivals:
            self._canon.setdefault(fold(name), name)
        for name, others in vocab.aliases.items():
            canon = self._canon.get(fold(name), name)
            self._canon.setdefault(fold(name), canon)
            for other in others:
                self._canon.setdefault(fold(other), canon)
        self._rivals = phrase_pattern(list(self._canon))
        self._contacts = {aid: [(fold(n), n, role) for n, role in names] for aid, names in key_contacts.items()}

    @classmethod
    def from_store(cls, store: Store, account_ids: set[str] | None = None) -> NoteScanner:
        """Rivals: every supplier ever on a stored supplier list (the dated history keeps them all, one index scan
        instead of decoding every account's list); key contacts of `account_ids` (all: None)."""
        vocab = watch_vocab()
        contacts: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        h = SupplierHistoryRow
        with store.session() as s:
            rivals = {p for (p,) in s.execute(select(h.party).distinct().where(h.party != OURS))}
            q = select(ContactRow.account_id, ContactRow.name, ContactRow.role).where(
                ContactRow.role.in_(sorted(vocab.key_roles)))
            ids = sorted(account_ids) if account_ids is not None else None
            for chunk in ([ids[i:i + 500] for i in range(0, len(ids), 500)] if ids is not None else [None]):
                for aid, name, role in s.execute(q if chunk is None else q.where(ContactRow.account_id.in_(chunk))):
                    contacts[aid].append((name, role))
        return cls(sorted(rivals), dict(contacts), vocab)

    def scan(self, account_id: str, text: str, source: str, when: dt.datetime) -> list[Finding]:
        """Rivals named in `text` (once each) and the account's key contacts said to be leaving."""
        out: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        leaving = self.vocab.leaving_pattern
        for sentence in _SENTENCES.split(text or ""):
            folded = fold(sentence)
            if not folded:
                continue
            excerpt = sentence.strip()[:EXCERPT_CHARS]
            for m in self._rivals.finditer(folded) if self._rivals else ():
                name = self._canon[m.group(0)]
                if ("rival_mentioned", name) not in seen:
                    seen.add(("rival_mentioned", name))
                    out.append(Finding(account_id, "rival_mentioned", name, m.group(0), excerpt, source, when))
            if leaving is None or not (gone := leaving.search(folded)):
                continue
            for key, name, role in self._contacts.get(account_id, []):
                if key in folded and ("key_contact_leaving", name) not in seen:
                    seen.add(("key_contact_leaving", name))
                    out.append(Finding(account_id, "key_contact_leaving", name, gone.group(0), excerpt, source, when,
                                       role))
        return out

    def says_leaving(self, text: str | None) -> str | None:
        """The leaving words in a contact's own notes or title, if any."""
        pattern = self.vocab.leaving_pattern
        m = pattern.search(fold(text or "")) if pattern else None
        return m.group(0) if m else None


def scan_text(store: Store, account_id: str, text: str, source: str, when: dt.datetime) -> list[Finding]:
    """One text at one account (a service case as it is opened, say): the rivals it names and the account's key
    contacts it says are leaving. The watch itself scans notes and cases in bulk with one `NoteScanner`."""
    return NoteScanner.from_store(store, {account_id}).scan(account_id, text, source, when)
