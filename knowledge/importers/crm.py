"""`kam import-crm DIR`: a CRM export (accounts, sales_pipeline, sales_teams, products CSVs) into accounts.

The layout is Maven Analytics' "CRM Sales Opportunities" export (docs/importers.md has the mapping rules).
Everything is read and validated before anything is written: a missing file, a missing column or a non-UTF-8
file stops the import with an error naming the file (and line), and the store is left as it was.
Data quirks (blank accounts, `GTXPro` vs `GTX Pro`, misspelt sectors and countries, unknown agents, unreadable
dates or numbers) are repaired or skipped and reported as counted warnings, never one line per row.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import math
import os
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pydantic import ValidationError
from slugify import slugify
from sqlalchemy import delete, select

from knowledge import limits
from knowledge.db import InteractionRow, KeyDateRow, PersonRow, YearlyRevenueRow, utcnow
from knowledge.fields import records
from knowledge.history import diff, file_time, import_actor, record
from knowledge.importers.report import ImportReport
from knowledge.loader import ProfileError, read_text
from knowledge.profile import AccountProfile, Background, Finance, Interaction, KeyDate, Metrics, Organisation, Person
from knowledge.store import Store, name_key

EMAIL_DOMAIN = "crm.example"
SOURCE = "crm"
OPEN_STAGES = ("Engaging", "Prospecting")
STAGES = ("Won", "Lost", *OPEN_STAGES)
# the fields the CRM sets on an account kept elsewhere (a profile file): all it may change there
CRM_METRICS = {"metrics.revenue", "metrics.growth", "metrics.as_of"}
DEFAULT_CYCLE_DAYS = 30  # used only when the export has no closed deal to measure the sales cycle from

# (required columns, optional columns) per file; the optional ones only enrich the profile text
LAYOUT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accounts.csv": (("account", "sector", "office_location"),
                     ("year_established", "revenue", "employees", "subsidiary_of")),
    "sales_pipeline.csv": (("opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date",
                            "close_date", "close_value"), ()),
    "sales_teams.csv": (("sales_agent", "manager"), ("regional_office",)),
    "products.csv": (("product",), ("series", "sales_price")),
}

# Sector names a misspelt sector is matched against (difflib ratio >= 0.85, e.g. "technolgy" -> "technology").
SECTORS = (
    "agriculture", "automotive", "banking", "chemicals", "construction", "consulting", "education", "employment",
    "energy", "engineering", "entertainment", "finance", "food", "government", "healthcare", "hospitality",
    "insurance", "logistics", "manufacturing", "marketing", "media", "medical", "mining", "pharmaceuticals",
    "real estate", "retail", "services", "software", "technology", "telecommunications", "transportation",
    "utilities", "wholesale",
)


@dataclass
class Deal:
    line: int
    id: str
    agent: str
    product: str
    account: str
    stage: str
    engage: dt.date | None
    close: dt.date | None
    value: float | None


@dataclass
class Quirks:
    """Counted data problems: key -> count, plus the message that explains the key."""

    counts: Counter = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, message: str, n: int = 1) -> None:
        self.counts[key] += n
        self.messages.setdefault(key, message)

    def lines(self) -> list[str]:
        return [self.messages[k].format(n=n) for k, n in self.counts.items()]


# ------------------------------------------------------------------ reading
def read_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a UTF-8 CSV whose header has every required column."""
    if not os.path.lexists(path):
        raise ProfileError(path, "missing file: a CRM export needs " + ", ".join(LAYOUT))
    text = read_text(path, limits.MAX_CSV_BYTES)
    # strict: a stray or unclosed quote is an error, never a field that silently swallows the rows after it
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line the current record starts on
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ProfileError(path, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                     f"(found: {', '.join(header) or 'nothing'})", line=1, field=missing[0])
        rows = []
        start = reader.line_num + 1
        for values in reader:
            if not any(v.strip() for v in values):
                start = reader.line_num + 1
                continue
            if len(values) != len(header):  # a shifted row (e.g. a quote that swallowed commas) is never guessed
                raise ProfileError(path, f"{len(values)} fields but the header has {len(header)}", line=start)
            row = {}
            for i, h in enumerate(header):
                value = values[i].strip() if i < len(values) else ""
                _check_cell(path, start, h, value)
                row[h] = _as_text(value)
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        unclosed = "unexpected end of data" in str(exc)
        raise ProfileError(path, "a quoted value is never closed (a missing \")" if unclosed else
                           f"malformed CSV: {exc}", line=start) from exc
    return rows


def _check_cell(path: Path, line: int, column: str, value: str) -> None:
    if "\n" in value or "\r" in value:  # no CRM column holds several lines: an unbalanced quote joined rows
        raise ProfileError(path, "a quoted value runs over several lines (an unbalanced \")", line=line,
                           field=column)
    if len(value) > limits.MAX_CSV_FIELD_CHARS:
        raise ProfileError(path, f"{len(value):,} characters (limit {limits.MAX_CSV_FIELD_CHARS:,})", line=line,
                           field=column)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(value: str) -> str:
    """A cell a spreadsheet would run as a formula (`=CMD(...)`, `@SUM`, `+1+1`) is kept as text: prefixed with
    an apostrophe, the spreadsheet convention, so it is never exported or shown as a live formula. Numbers
    (`-12.5`) are left as they are."""
    if value.startswith(_FORMULA_START):
        try:
            float(value.replace(",", ""))
        except ValueError:
            return "'" + value
    return value


def agent_email(name: str, domain: str = EMAIL_DOMAIN) -> str:
    """`Mei-Mei Johns` -> `mei-mei.johns@crm.example`: each name part slugified, joined with dots."""
    parts = [slugify(p) for p in name.split()]
    local = ".".join(p for p in parts if p) or "agent"
    return f"{local}@{domain}"


MAX_NUMBER = 1e13  # a deal value, revenue or head count beyond this is a typo, not a figure
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_YEARS_AHEAD = 10  # an expected close date further out than this is a typo (9999-12-31), not a plan


def _date(value: str) -> dt.date | None:
    """An ISO date within a plausible range; "" is None; anything else raises ValueError."""
    if not value:
        return None
    day = dt.date.fromisoformat(value)
    latest = dt.date.today().replace(year=dt.date.today().year + LATEST_YEARS_AHEAD, day=1)
    if not EARLIEST_DATE <= day <= latest:
        raise ValueError(f"{value} is outside {EARLIEST_DATE}..{latest}")
    return day


def _number(value: str) -> float | None:
    if not value:
        return None
    number = float(value.replace(",", ""))
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise ValueError(value)
    return number


def _key(text: str) -> str:
    """Spelling-insensitive key: `GTXPro`, `GTX Pro` and `gtx-pro` are one product."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


@cache
def _country_names() -> tuple[str, ...]:
    import pycountry

    names = set()
    for c in pycountry.countries:
        names.update(filter(None, (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None))))
    return tuple(sorted(names))


def _correct(value: str, vocabulary: tuple[str, ...]) -> str:
    """The vocabulary word a value is a misspelling of, or the value unchanged."""
    if not value or value.casefold() in (v.casefold() for v in vocabulary):
        return value
    match = difflib.get_close_matches(value.casefold(), [v.casefold() for v in vocabulary], n=1, cutoff=0.85)
    if not match:
        return value
    return next(v for v in vocabulary if v.casefold() == match[0])


# ------------------------------------------------------------------ the export
@dataclass
class Export:
    directory: Path
    accounts: list[tuple[int, dict]]
    deals: list[Deal]
    teams: dict[str, str | None]  # agent -> manager name
    quirks: Quirks
    export_date: dt.date  # latest date in the pipeline: the export's "as of"
    cycle_days: int  # median engage -> close of closed deals
    changed_at: dt.datetime = field(default_factory=utcnow)  # the newest file's time: when the CRM data changed
    actor: str | None = None  # who runs the import


def read_export(directory: Path) -> Export:
    directory = Path(directory)
    if not directory.is_dir():
        raise ProfileError(directory, "not a directory (expected a CRM export with " + ", ".join(LAYOUT) + ")")
    tables = {name: read_csv(directory / name, *cols) for name, cols in LAYOUT.items()}
    quirks = Quirks()
    pipeline = "sales_pipeline.csv"

    products = {_key(r["product"]): r["product"] for _, r in tables["products.csv"] if r["product"]}
    teams: dict[str, str | None] = {}
    for _, r in tables["sales_teams.csv"]:
        if r["sales_agent"]:
            teams[r["sales_agent"]] = r["manager"] or None

    deals: list[Deal] = []
    seen_ids: set[str] = set()
    blank_by_stage: Counter = Counter()
    for line, r in tables[pipeline]:
        stage = r["deal_stage"].strip().capitalize()
        if stage not in STAGES:
            quirks.add(f"unknown_stage:{r['deal_stage']}", f"{pipeline}: {{n}} rows with unknown deal_stage "
                       f"{r['deal_stage']!r} skipped (first at line {line})")
            continue
        if r["opportunity_id"] in seen_ids:
            quirks.add("duplicate_opportunity", f"{pipeline}: {{n}} rows repeat an opportunity_id already seen; "
                       f"the first row is kept (first repeat at line {line})")
            continue
        seen_ids.add(r["opportunity_id"])
        dates: dict[str, dt.date | None] = {}
        for col in ("engage_date", "close_date"):
            try:
                dates[col] = _date(r[col])
            except ValueError:
                dates[col] = None
                quirks.add(f"bad_date:{col}", f"{pipeline}: {{n}} rows with an unreadable {col} (ignored; "
                           f"first at line {line}: {r[col]!r})")
        try:
            value = _number(r["close_value"])
        except ValueError:
            value = None
            quirks.add("bad_number:close_value", f"{pipeline}: {{n}} rows with an unreadable close_value "
                       f"(ignored; first at line {line}: {r['close_value']!r})")
        product = r["product"]
        canonical = products.get(_key(product))
        if canonical is None:
            quirks.add(f"unknown_product:{product}", f"{pipeline}: product {product!r} is not in products.csv "
                       "({n} rows; kept as written)")
        elif canonical != product:
            quirks.add(f"product_normalised:{product}", f"{pipeline}: product {product!r} read as "
                       f"{canonical!r} from products.csv ({{n}} rows)")
            product = canonical
        agent = r["sales_agent"] or "unknown agent"
        if agent not in teams:
            quirks.add(f"agent_not_in_teams:{agent}", f"{pipeline}: agent {agent!r} is not in sales_teams.csv "
                       "({n} rows); imported as a rep without a manager")
        if not r["account"]:  # counted after the repairs above, so their counts cover every row
            blank_by_stage[stage] += 1
            continue
        deals.append(Deal(line, r["opportunity_id"], agent, product, r["account"], stage, dates["engage_date"],
                          dates["close_date"], value))
    if blank_by_stage:
        by_stage = ", ".join(f"{s} {n}" for s, n in sorted(blank_by_stage.items()))
        quirks.add("blank_account", f"{pipeline}: {{n}} rows with a blank account skipped ({by_stage})",
                   sum(blank_by_stage.values()))
    for d in deals:
        if d.stage == "Won" and (d.close is None or d.value is None):
            quirks.add("won_incomplete", f"{pipeline}: {{n}} won deals without a readable close_date or "
                       "close_value are left out of revenue")
    all_dates = [x for d in deals for x in (d.engage, d.close) if x]
    export_date = max(all_dates) if all_dates else dt.date.today()
    cycles = [(d.close - d.engage).days for d in deals
              if d.stage in ("Won", "Lost") and d.close and d.engage and d.close >= d.engage]
    cycle = round(statistics.median(cycles)) if cycles else DEFAULT_CYCLE_DAYS
    undated = sum(d.stage in OPEN_STAGES and not d.engage and not d.close for d in deals)
    if undated:
        quirks.add("open_without_dates", f"{pipeline}: {{n}} open opportunities have neither engage_date nor "
                   f"close_date; their decision key date is the export date {export_date} + the typical "
                   f"{cycle}-day cycle", undated)
    return Export(directory, tables["accounts.csv"], deals, teams, quirks, export_date, cycle)


# ------------------------------------------------------------------ mapping
def crm_people(export: Export) -> tuple[list[Person], dict[str, str]]:
    """Agents become reps (with their manager), managers become managers. Returns (people, name -> email).

    Two names that give one email get -2, -3 ... in sorted name order, so the rule stays deterministic."""
    agents = sorted(set(export.teams) | {d.agent for d in export.deals})
    managers = sorted({m for m in export.teams.values() if m})
    emails: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(set(agents) | set(managers)):
        email, n = agent_email(name), 2
        while email in taken:
            local, domain = agent_email(name).split("@")
            email, n = f"{local}-{n}@{domain}", n + 1
        taken.add(email)
        emails[name] = email
    people = [Person(email=emails[m], name=m, role="manager") for m in managers]
    people += [Person(email=emails[a], name=a, role="rep",
                      manager=emails[export.teams[a]] if export.teams.get(a) else None)
               for a in agents if a not in managers]
    return people, emails


def owner_and_team(deals: list[Deal], emails: dict[str, str]) -> tuple[str, list[str]]:
    """Owner: the agent with most deals on the account (ties: more won value, then name). Team: the others."""
    count: Counter = Counter(d.agent for d in deals)
    won: Counter = Counter()
    for d in deals:
        if d.stage == "Won" and d.value:
            won[d.agent] += d.value
    ranked = sorted(count, key=lambda a: (-count[a], -won[a], a))
    return emails[ranked[0]], [emails[a] for a in ranked[1:]]


def yearly_revenue(deals: list[Deal]) -> dict[int, tuple[float, int]]:
    out: dict[int, list] = defaultdict(lambda: [0.0, 0])
    for d in deals:
        if d.stage == "Won" and d.close and d.value is not None:
            out[d.close.year][0] += d.value
            out[d.close.year][1] += 1
    return {y: (round(v, 2), n) for y, (v, n) in sorted(out.items())}


def revenue_metrics(years: dict[int, tuple[float, int]], full_year: int | None,
                    export_years: set[int]) -> tuple[float | None, float | None]:
    """(revenue of the latest full year, growth over the year before). Growth is None when the year before is
    outside the export or had no revenue with us (growth from zero is not a number)."""
    if full_year is None:
        return None, None
    revenue = years.get(full_year, (0.0, 0))[0]
    before = years.get(full_year - 1, (0.0, 0))[0]
    if full_year - 1 not in export_years or before <= 0:
        return revenue, None
    return revenue, round((revenue - before) / before, 4)


def _money(value: float) -> str:
    return f"USD {value:,.0f}"


def build_profile(name: str, facts: dict | None, deals: list[Deal], emails: dict[str, str], export: Export,
                  full_year: int | None, export_years: set[int], quirks: Quirks) -> tuple[AccountProfile, dict]:
    owner, team = owner_and_team(deals, emails)
    years = yearly_revenue(deals)
    revenue, growth = revenue_metrics(years, full_year, export_years)
    updated = export.export_date
    industry = region = None
    background_bits: list[str] = []
    finance = Finance(updated=updated)
    organisation = Organisation()
    if facts is not None:
        sector, country = facts["sector"], facts["office_location"]
        industry = _correct(sector, SECTORS) or None
        if sector and industry != sector:
            quirks.add(f"sector_corrected:{sector}", f"accounts.csv: sector {sector!r} corrected to {industry!r} "
                       "({n} account(s))")
        region = _correct(country, _country_names()) or None
        if country and region != country:
            quirks.add(f"country_corrected:{country}", f"accounts.csv: office_location {country!r} corrected to "
                       f"{region!r} ({{n}} account(s))")
        line = facts["_line"]
        numbers = {}
        for col in ("year_established", "revenue", "employees"):
            try:
                numbers[col] = _number(facts.get(col, ""))
            except ValueError:
                numbers[col] = None
                quirks.add(f"bad_number:{col}", f"accounts.csv: {{n}} rows with an unreadable {col} (ignored; "
                           f"first at line {line}: {facts[col]!r})")
        sentence = f"{name} is a {industry or 'company'} company"
        if numbers["year_established"]:
            sentence += f" established in {numbers['year_established']:.0f}"
        if region:
            sentence += f", with its office in {region}"
        background_bits.append(sentence + ".")
        if numbers["employees"]:
            background_bits.append(f"Employees: {numbers['employees']:,.0f}.")
        parent = facts.get("subsidiary_of")
        if parent:
            background_bits.append(f"Subsidiary of {parent}.")
            organisation = Organisation(structure=f"Subsidiary of {parent}", updated=updated)
        if numbers["revenue"] is not None:
            finance.revenue = f"USD {numbers['revenue']:,.2f} million annual revenue (CRM accounts.csv)"
    history = "; ".join(f"{y}: {_money(v)} from {n} won deal{'s' * (n != 1)}" for y, (v, n) in years.items())
    open_deals = sum(d.stage in OPEN_STAGES for d in deals)
    finance.sales_volume = f"Revenue with us (CRM won deals) - {history or 'no won deals yet'}"
    finance.summary = (f"{len(deals)} CRM opportunities: {sum(d.stage == 'Won' for d in deals)} won, "
                       f"{sum(d.stage == 'Lost' for d in deals)} lost, {open_deals} open.")
    profile = AccountProfile(
        account=name, owner=owner, team=team, industry=industry, region=region,
        background=Background(summary=" ".join(background_bits) or None, updated=updated),
        finance=finance, organisation=organisation,
        metrics=Metrics(revenue=revenue, growth=growth, as_of=updated),
    )
    return profile, years


def crm_records(deals: list[Deal], emails: dict[str, str], export: Export) -> tuple[list[Interaction], list[KeyDate]]:
    """Engagements -> meetings by the agent; open opportunities -> a review key date when a decision is due:
    the close_date if the CRM has one, else engage_date + the typical cycle, else the export date + the cycle."""
    interactions, key_dates = [], []
    cycle = dt.timedelta(days=export.cycle_days)
    for d in sorted(deals, key=lambda d: d.id):
        if d.engage:
            outcome = {"Won": f"won on {d.close} for {_money(d.value or 0)}" if d.close else "won",
                       "Lost": f"lost on {d.close}" if d.close else "lost"}.get(d.stage, d.stage.lower())
            interactions.append(Interaction(date=d.engage, kind="meeting", by=emails[d.agent],
                                            summary=f"CRM opportunity {d.id} engaged: {d.product} ({outcome})"))
        if d.stage in OPEN_STAGES:
            due = d.close or ((d.engage + cycle) if d.engage else export.export_date + cycle)
            key_dates.append(KeyDate(date=due, kind="review",
                                     title=f"Decision due on opportunity {d.id}: {d.product} "
                                           f"({d.stage}, {d.agent})"))
    return interactions, key_dates


# ------------------------------------------------------------------ writing
def _crm_rows(s, account_id: str) -> tuple:  # noqa: ANN001 - a Session
    inter = sorted((r.date, r.kind, r.by, r.summary) for r in s.scalars(
        select(InteractionRow).where(InteractionRow.account_id == account_id, InteractionRow.source == SOURCE)))
    dates = sorted((r.date, r.kind, r.title) for r in s.scalars(
        select(KeyDateRow).where(KeyDateRow.account_id == account_id, KeyDateRow.source == SOURCE)))
    years = sorted((r.year, r.revenue, r.deals) for r in s.scalars(
        select(YearlyRevenueRow).where(YearlyRevenueRow.account_id == account_id)))
    return inter, dates, years


def write_crm_records(store: Store, account_id: str, interactions: list[Interaction], key_dates: list[KeyDate],
                      years: dict[int, tuple[float, int]], actor: str | None = None, origin: str | None = None) -> bool:
    """Replace the account's CRM-sourced records in one transaction, recording the added and removed ones in the
    history; nothing is written (and the revision is not bumped) when they are already as wanted."""
    wanted = (sorted((i.date, i.kind, i.by, i.summary) for i in interactions),
              sorted((k.date, k.kind, k.title) for k in key_dates),
              sorted((y, v, n) for y, (v, n) in years.items()))
    with store.session() as s:
        if _crm_rows(s, account_id) == wanted:
            return False
        before = records(store.profile_in(s, account_id))
        for table in (InteractionRow, KeyDateRow):
            s.execute(delete(table).where(table.account_id == account_id, table.source == SOURCE))
        s.execute(delete(YearlyRevenueRow).where(YearlyRevenueRow.account_id == account_id))
        s.add_all(InteractionRow(account_id=account_id, source=SOURCE, **i.model_dump()) for i in interactions)
        s.add_all(KeyDateRow(account_id=account_id, source=SOURCE, **k.model_dump()) for k in key_dates)
        s.add_all(YearlyRevenueRow(account_id=account_id, year=y, revenue=v, deals=n) for y, (v, n) in years.items())
        s.flush()
        after = records(store.profile_in(s, account_id))
        record(s, account_id, diff(before, after), source=SOURCE, actor=actor, origin=origin)
        store.bump(s, account_id)
        return True


def import_crm(store: Store, directory: Path, progress: Callable[[int, int], None] | None = None,
               today: dt.date | None = None, actor: str | None = None) -> ImportReport:
    """Import a CRM export; each account in its own transaction, merged field by field into what is stored
    (Store.import_profile, base "crm"). Re-importing the same export changes nothing."""
    today = today or dt.date.today()
    export = read_export(Path(directory))  # raises ProfileError before anything is written
    export.actor = actor or import_actor()
    export.changed_at = max(file_time(export.directory / name) for name in LAYOUT
                            if (export.directory / name).exists())
    directory = export.directory.resolve()
    report = ImportReport("crm")
    quirks = export.quirks

    stored_people = {p.email: p for p in store.people()}
    people, emails = crm_people(export)
    teams_source = f"{SOURCE}:{directory / 'sales_teams.csv'}"
    with store.session() as s:  # people defined elsewhere (people.yaml) keep their Slack id, role and manager
        sources = {r.email: r.source for r in s.scalars(select(PersonRow))}
    fresh = [p for p in people if not sources.get(p.email) or sources[p.email].startswith(f"{SOURCE}:")]
    for p in people:
        if p not in fresh:
            quirks.add("person_kept", "{n} CRM agents/managers are already in the people list from another "
                       "source; their entries were kept")
    changed_people = [p for p in fresh if stored_people.get(p.email) != p or sources.get(p.email) != teams_source]
    if changed_people:
        store.save_people(changed_people, teams_source)
    report.people = len(people)

    facts: dict[str, dict] = {}
    for line, r in export.accounts:
        if not r["account"]:
            quirks.add("accounts_blank", "accounts.csv: {n} rows without an account name skipped")
            continue
        if name_key(r["account"]) in facts:
            quirks.add("accounts_duplicate", f"accounts.csv: {{n}} repeated account names; the first row is kept "
                       f"(first repeat at line {line})")
            continue
        facts[name_key(r["account"])] = {**r, "_line": line}
    by_account: dict[str, list[Deal]] = defaultdict(list)
    names: dict[str, str] = {k: f["account"] for k, f in facts.items()}
    for d in export.deals:
        key = name_key(d.account)
        if key not in facts:
            quirks.add(f"account_not_in_accounts:{d.account}", f"sales_pipeline.csv: account {d.account!r} is not "
                       "in accounts.csv ({n} rows); imported without company facts")
        names.setdefault(key, d.account)
        by_account[key].append(d)

    export_years = {d.close.year for d in export.deals if d.stage == "Won" and d.close}
    full_years = [y for y in export_years if y < today.year]
    full_year = max(full_years) if full_years else None
    summaries = {name_key(s.name): s for s in store.summaries()}
    keys = sorted(names, key=lambda k: names[k].casefold())
    for i, key in enumerate(keys, 1):
        name, deals = names[key], by_account.get(key, [])
        if not deals:
            quirks.add("account_without_deals", "accounts.csv: {n} accounts have no opportunities; skipped "
                       "(an account needs an owner, and the owner comes from the deals)")
        else:
            try:
                _import_account(store, name, facts.get(key), deals, emails, export, full_year, export_years,
                                directory, summaries, report)
            except ProfileError as exc:
                report.skipped.append((f"{directory}: {name}", str(exc)))
            except ValidationError as exc:  # a value the profile model refuses (a 5,000-character name, ...)
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                report.skipped.append((f"{directory}: {name}", f"{directory}: account {name[:80]!r}: {where}: "
                                                               f"{first['msg']}"))
        if progress:
            progress(i, len(keys))
    report.warnings = quirks.lines()
    report.quirks = dict(quirks.counts)
    return report


def _import_account(store: Store, name: str, facts: dict | None, deals: list[Deal], emails: dict[str, str],
                    export: Export, full_year: int | None, export_years: set[int], directory: Path,
                    summaries: dict, report: ImportReport) -> None:
    profile, years = build_profile(name, facts, deals, emails, export, full_year, export_years, export.quirks)
    interactions, key_dates = crm_records(deals, emails, export)
    existing_id = store.find_account(name)
    existing = summaries.get(name_key(name))
    if existing_id and existing is None:
        existing = next(iter(store.summaries([existing_id])), None)
    actor, origin, when = export.actor, str(directory), export.changed_at
    if existing is not None and not existing.source.startswith(f"{SOURCE}:"):
        # an account kept elsewhere (a YAML profile): its profile stays; CRM adds revenue history and records
        export.quirks.add("account_from_other_source", "{n} CRM accounts already exist from another source "
                          "(e.g. a profile file): their profile was kept, CRM revenue, meetings and key dates added")
        result = store.import_profile(profile, existing.source, kind=SOURCE, base_key=SOURCE, actor=actor,
                                      origin=origin, source_time=when, account_id=existing.id, scope=CRM_METRICS)
        report.add_result(origin, name, result)
        changed = write_crm_records(store, existing.id, interactions, key_dates, years, actor, origin)
        (report.imported if changed or result.changed else report.unchanged).append(existing.id)
        return
    # source names the account: Store.import_profile matches an unknown name to the account of the same source
    result = store.import_profile(profile, f"{SOURCE}:{directory}#{name}", kind=SOURCE, base_key=SOURCE,
                                  actor=actor, origin=origin, source_time=when)
    report.add_result(origin, name, result)
    changed = write_crm_records(store, result.account_id, interactions, key_dates, years, actor, origin)
    (report.imported if result.changed or changed else report.unchanged).append(result.account_id)
