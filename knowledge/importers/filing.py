"""`kam import-filing FILE...`: 10-K annual reports (edgar-crawler JSON) as dated documents in the six dimensions.

Item 1 (Business) is split at its subsection headings: Competition -> competitors; raw materials / sources of
supply -> suppliers; customers / distribution / marketing -> downstream; employees / human capital and executive
officers -> organisation; the rest -> background. Items 6, 7, 7A and the start of 8 -> finance; item 10 and the
"Executive officers" part of items 1A-4 -> organisation. Each file is imported in its own transaction; re-importing
a filing replaces its documents. docs/importers.md has the rules.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select

from knowledge import limits
from knowledge.db import AccountRow, DocumentRow
from knowledge.history import diff, file_time, import_actor, record
from knowledge.importers.report import ImportReport
from knowledge.loader import ProfileError, read_text
from knowledge.profile import AccountProfile, Background
from knowledge.store import Store, name_key

REQUIRED_KEYS = ("cik", "company", "filing_type", "filing_date", "item_1")
UNASSIGNED_OWNER = "unassigned@kam.local"
FINANCIAL_STATEMENTS_CHARS = 20_000  # item 8 is mostly flattened tables: its start (statements, key notes) is enough
MIN_SECTION_CHARS = 80  # "ITEM 6. [RESERVED]", "None." and the like are not worth a document

# A heading's text -> dimension; the first pattern that matches wins (order matters: "customer competition").
HEADING_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("competitors", re.compile(r"\bcompetit", re.I)),
    ("organisation", re.compile(r"executive officers|\bemployees\b|human capital|human resource|personnel", re.I)),
    ("suppliers", re.compile(r"raw material|\bmaterials\b|sources? (and availability )?of (supply|raw|materials|"
                             r"components)|\bsuppl(y|ies|ier)|\bsourcing\b|purchas|procurement|\bvendors?\b|foundr|"
                             r"contract manufactur", re.I)),
    ("downstream", re.compile(r"\bcustomer|distribution|marketing|\bsales\b|\bmarkets\b|backlog", re.I)),
)
SECTION_NAMES = {"competitors": ("competition", "Competition"),
                 "suppliers": ("suppliers", "Suppliers and raw materials"),
                 "downstream": ("customers", "Customers, marketing and distribution"),
                 "organisation": ("people", "Employees and executive officers"),
                 "background": ("business", "Business")}
FINANCE_ITEMS = (("item_6", "selected_financial_data", "Selected financial data"),
                 ("item_7", "mdna", "Management's discussion and analysis"),
                 ("item_7A", "market_risk", "Market risk"),
                 ("item_8", "financial_statements", "Financial statements (start)"))
EXEC_ITEMS = ("item_1A", "item_2", "item_3", "item_4")  # where "Executive officers of the registrant" often sits

_PAGE = re.compile(r"^(?:-\s*\d+\s*-|\d{1,3}|page \d+|table of contents|\(continued\))$", re.I)
_ITEM = re.compile(r"^item\s+\d+[a-c]?\b", re.I)
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "our"}


@dataclass
class Section:
    key: str  # stable part of the document id
    dimension: str
    title: str
    text: str


def _is_heading(line: str) -> bool:
    """A short title-like line: capitalised words, no sentence punctuation at the end, not a page number."""
    text = line.strip()
    if not 3 <= len(text) <= 100 or _PAGE.match(text) or text[0] in "•·-*(" or not text[0].isupper():
        return False
    if text[-1] in ",;:" or (text[-1] == "." and len(text.split()) > 6):
        return False
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’&-]*", text) if w.lower() not in _SMALL_WORDS]
    if not words or len(words) > 12:
        return False
    return sum(w[0].isupper() for w in words) / len(words) >= 0.75


def _level(line: str) -> int:
    """1 for ALL-CAPS headings, 2 for Title Case: a caps section runs on past Title Case subheadings."""
    letters = [c for c in line if c.isalpha()]
    return 1 if letters and all(c.isupper() for c in letters) else 2


def _clean(text: str) -> str:
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(ln for ln in lines if ln.strip() and not _PAGE.match(ln.strip())).strip()


def _classify(heading: str) -> str | None:
    return next((dim for dim, rule in HEADING_RULES if rule.search(heading)), None)


def split_business(item_1: str) -> dict[str, list[str]]:
    """Item 1's text per dimension. A classified heading's section runs until the next heading of the same or a
    higher level; "Executive officers" runs to the end of the item (it is followed by a table of short lines)."""
    lines = _clean(item_1).split("\n")
    parts: dict[str, list[str]] = {}
    current, level, buf, to_the_end, has_body = "background", 0, [], False, True

    def flush() -> None:
        if buf:
            parts.setdefault(current, []).append("\n".join(buf))

    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        # a heading is followed by text or another heading, never the end of the item
        heading = (not to_the_end and i > 0 and bool(following) and _is_heading(line)
                   and not _ITEM.match(line.strip()))
        if heading:
            dim, lvl = _classify(line), _level(line)
            # a heading straight after a classified one ("Competition" / "Launch Services" / text) is its subheading
            subheading = dim is None and level > 0 and not has_body
            if not subheading and (dim is not None or level == 0 or lvl <= level):
                flush()
                buf = []
                current, level = (dim, lvl) if dim else ("background", 0)
                to_the_end = dim == "organisation" and bool(re.search(r"executive officers", line, re.I))
            has_body = False
        else:
            has_body = True
        buf.append(line)
    flush()
    return parts


def _exec_officers(text: str) -> str | None:
    """From an "Executive officers" heading to the end of the item (Items 1A-4 hold it in many filings)."""
    lines = _clean(text).split("\n")
    for i, line in enumerate(lines):
        if re.search(r"executive officers", line, re.I) and len(line) <= 120 and (
                _is_heading(line) or _ITEM.match(line.strip()) or line.isupper()):
            return "\n".join(lines[i:])
    return None


def _body_chars(text: str) -> int:
    """Characters after the item's own heading line."""
    return len(text.split("\n", 1)[1]) if "\n" in text else len(text)


def filing_sections(filing: dict) -> list[Section]:
    out: list[Section] = []
    for dim, chunks in split_business(filing.get("item_1") or "").items():
        key, title = SECTION_NAMES[dim]
        text = "\n\n".join(chunks)
        if _body_chars(text) >= MIN_SECTION_CHARS:
            out.append(Section(key, dim, title, text))
    for item in EXEC_ITEMS:
        found = _exec_officers(filing.get(item) or "")
        if found and _body_chars(found) >= MIN_SECTION_CHARS:
            out.append(Section(f"executive_officers_{item[5:].lower()}", "organisation", "Executive officers", found))
    for item, key, title in FINANCE_ITEMS:
        text = _clean(filing.get(item) or "")
        if item == "item_8" and len(text) > FINANCIAL_STATEMENTS_CHARS:
            cut = text.rfind("\n", 0, FINANCIAL_STATEMENTS_CHARS)
            text = text[: cut if cut > 0 else FINANCIAL_STATEMENTS_CHARS] + (
                f"\n[first {FINANCIAL_STATEMENTS_CHARS // 1000}k of {len(text):,} characters]")
        if _body_chars(text) >= MIN_SECTION_CHARS:
            out.append(Section(key, "finance", title, text))
    item_10 = _clean(filing.get("item_10") or "")
    if _body_chars(item_10) >= MIN_SECTION_CHARS:
        out.append(Section("directors_officers", "organisation", "Directors and executive officers (Item 10)",
                           item_10))
    return [s for s in out if s.text.strip()]


# ------------------------------------------------------------------ reading
def read_filing(path: Path) -> dict:
    """Load and validate one edgar-crawler JSON; errors name the file (and line)."""
    path = Path(path)
    if not os.path.lexists(path):
        raise ProfileError(path, "no such file")
    text = read_text(path, limits.MAX_FILING_BYTES)
    deep = limits.json_depth_error(text)  # before json.loads, which recurses once per level
    if deep:
        raise ProfileError(path, f"not a filing JSON: {deep[0]}", line=deep[1])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ProfileError(path, f"not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise ProfileError(path, "not an edgar-crawler filing JSON: expected an object with cik, company, "
                                 "filing_type, item_1, ...")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ProfileError(path, f"not an edgar-crawler filing JSON: missing key {key!r}", field=key)
    for key in ("cik", "company", "filing_type", "filing_date"):
        if not isinstance(data[key], str | int) or not str(data[key]).strip():
            raise ProfileError(path, "must be a non-empty string", field=key)
    if not str(data["filing_type"]).upper().startswith("10-K"):
        raise ProfileError(path, f"not an annual report: filing_type is {data['filing_type']!r}, expected 10-K",
                           field="filing_type")
    for key in ("filing_date", "period_of_report"):
        value = data.get(key)
        if key == "period_of_report" and not value:
            continue
        try:
            dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ProfileError(path, f"not a date (YYYY-MM-DD): {value!r}", field=key) from exc
    for key, value in data.items():
        if key.startswith("item_") and not isinstance(value, str):
            raise ProfileError(path, f"expected the item's text, got {type(value).__name__}", field=key)
    return data


def company_name(raw: str) -> str:
    """`WALT DISNEY CO/` -> `Walt Disney Co`, `HOME HEALTH CORP OF AMERICA INC \\PA\\` -> `Home Health Corp Of
    America Inc`: EDGAR's state suffixes and slashes dropped, then title case."""
    name = re.sub(r"\\[A-Z]{2}\\", "", raw).replace("/", " ")
    name = " ".join(name.split())
    return name.title() if name.isupper() else name


def _name_candidates(raw: str) -> list[str]:
    name = company_name(raw)
    bare = re.sub(r"[,.]?\s+(inc|corp|corporation|co|company|companies|ltd|llc|plc|holdings?|group)\.?$", "",
                  name, flags=re.I)
    return list(dict.fromkeys([raw.strip(), name, bare]))


def doc_prefix(filing: dict) -> str:
    return f"10k-{str(filing['cik']).strip()}-{filing['filing_date']}-"


# ------------------------------------------------------------------ writing
class AccountMatcher(Protocol):
    """How `--account NAME` is found and compared with the filing's company. The importer's own is exact; the CLI
    passes Ask's (skills/ask/resolve.py: short names, Chinese names, typos), so importers need not know skills."""

    def find(self, store: Store, name: str) -> tuple[str | None, list[str]]:
        """(account id or None, the candidate ids when the name fits several)."""
        ...

    def same_company(self, names: list[str], others: list[str]) -> bool: ...


class ExactMatcher:
    """An id, name or alias as stored; companies compared by their normalised names."""

    def find(self, store: Store, name: str) -> tuple[str | None, list[str]]:
        return store.find_account(name.strip()), []

    def same_company(self, names: list[str], others: list[str]) -> bool:
        return bool({name_key(n) for n in names} & {name_key(o) for o in others})


def _account_for(store: Store, filing: dict, account: str | None, path: Path, actor: str,
                 warnings: list[str] | None = None, matcher: AccountMatcher | None = None) -> tuple[str, bool]:
    """(account id, created). --account must exist (found by `matcher`), and a warning is added when the filing's
    company does not look like it; otherwise: the account already holding this company's filings (same CIK), then
    the company name, else a new minimal account named after the company."""
    if account:
        matcher = matcher or ExactMatcher()
        found, candidates = matcher.find(store, account)
        if candidates:
            raise ProfileError(path, f"{account!r} names several accounts ({', '.join(candidates)}); give "
                                     "more of the name", field="--account")
        if found is None:
            raise ProfileError(path, f"no account named {account!r} (see `kam accounts`)", field="--account")
        summary = store.summaries([found])[0]
        company = str(filing["company"])
        if warnings is not None and not matcher.same_company(_name_candidates(company),
                                                             [summary.name, *summary.aliases]):
            warnings.append(f"{path}: the filing is by {company_name(company)} (CIK {str(filing['cik']).strip()}), "
                            f"which does not look like the account {summary.name!r} it was attached to with "
                            f"--account; check the name (kam import-filing FILE --account NAME again moves it)")
        return found, False
    with store.session() as s:
        same_cik = s.scalars(select(DocumentRow.account_id)
                             .where(DocumentRow.id.like(f"10k-{str(filing['cik']).strip()}-%"))).first()
    if same_cik:
        return same_cik, False
    for candidate in _name_candidates(str(filing["company"])):
        found = store.find_account(candidate)
        if found:
            return found, False
    admins = [p.email for p in store.people() if p.role == "admin"]
    profile = AccountProfile(
        account=company_name(str(filing["company"])), owner=admins[0] if admins else UNASSIGNED_OWNER,
        industry=f"SIC {filing['sic']}" if filing.get("sic") else None,
        region=filing.get("state_location") or None,
        background=Background(summary=f"Created from the {filing['filing_type']} filed {filing['filing_date']} "
                                      f"(CIK {filing['cik']})."),
    )
    result = store.import_profile(profile, f"filing:cik:{str(filing['cik']).strip()}", kind="filing", actor=actor,
                                  origin=str(path), source_time=file_time(path))
    account_id = result.account_id
    return account_id, True


def import_filing(store: Store, path: Path, account: str | None = None,
                  report: ImportReport | None = None, actor: str | None = None,
                  matcher: AccountMatcher | None = None) -> tuple[str, int, bool]:
    """Attach one filing's sections to an account, recorded in its history (`documents[ID]`). Returns (account id,
    documents, changed); the accounts it creates and its warnings go to `report` when given."""
    path = Path(path)
    actor = actor or import_actor()
    filing = read_filing(path)
    sections = filing_sections(filing)
    if not sections:
        raise ProfileError(path, "no section with text (items 1, 6-8, 10 are all empty)")
    account_id, created = _account_for(store, filing, account, path, actor, report.warnings if report else None,
                                       matcher)
    if created and report is not None:
        report.created.append(account_id)
    dated = dt.date.fromisoformat(str(filing.get("period_of_report") or filing["filing_date"]))
    year = str(filing["filing_date"])[:4]
    prefix = doc_prefix(filing)
    with store.session() as s:
        name = s.get(AccountRow, account_id).name
        wanted = {}
        for sec in sections:
            doc_id = prefix + sec.key
            wanted[doc_id] = dict(id=doc_id, account_id=account_id, dimension=sec.dimension, kind="10-K",
                                  title=f"10-K {year} {name}: {sec.title}", section=sec.key, dated=dated,
                                  source=str(path.resolve()), text=sec.text)
        old = {d.id: d for d in s.scalars(select(DocumentRow).where(DocumentRow.id.like(prefix + "%")))}
        fields = ("account_id", "dimension", "title", "section", "dated", "text")
        same = old.keys() == wanted.keys() and all(
            all(getattr(old[k], f) == wanted[k][f] for f in fields) for k in wanted)
        if same:
            return account_id, len(wanted), created
        for acc in {d.account_id for d in old.values()} | {account_id}:
            store.bump(s, acc)  # the previous owner of a moved filing re-indexes too
        s.execute(delete(DocumentRow).where(DocumentRow.id.like(prefix + "%")))
        s.flush()
        s.add_all(DocumentRow(**w) for w in wanted.values())
        for acc in {d.account_id for d in old.values()} | {account_id}:
            was = {k: d.title for k, d in old.items() if d.account_id == acc}
            now = {k: w["title"] for k, w in wanted.items() if w["account_id"] == acc}
            record(s, acc, diff({f"documents[{k}]": v for k, v in was.items()},
                                {f"documents[{k}]": v for k, v in now.items()}),
                   source="filing", actor=actor, origin=str(path))
    return account_id, len(wanted), True


def import_filings(store: Store, files: list[Path], account: str | None = None,
                   progress: Callable[[int, int], None] | None = None, actor: str | None = None,
                   matcher: AccountMatcher | None = None) -> ImportReport:
    """Each file in its own transaction: a bad file is reported and skipped, the others still load."""
    report = ImportReport("10-K filings")
    actor = actor or import_actor()
    for i, path in enumerate(files, 1):
        try:
            account_id, docs, changed = import_filing(store, Path(path), account, report, actor, matcher)
            (report.imported if changed else report.unchanged).append(account_id)
            report.warnings.extend([] if docs else [f"{path}: no sections found"])
        except ProfileError as exc:
            report.skipped.append((str(path), str(exc)))
        except OSError as exc:
            report.skipped.append((str(path), f"{path}: cannot read: {exc.strerror or exc}"))
        if progress:
            progress(i, len(files))
    return report
