"""Knowledge-base commands: init, ingest, imports, accounts, show, search."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cli.context import console, ctx, fail, print_json, progress_bar
from knowledge.dimensions import DIMENSION_TITLES, DIMENSIONS

if TYPE_CHECKING:
    from knowledge.importers.report import ImportReport

# The commands import what they use when they run: `kam --help` loads none of it (bench/startup.py).


def _sync_and_report(report: ImportReport, as_json: bool) -> None:
    with progress_bar("indexing") as bar:
        sync = ctx().index.sync(ctx().store, progress=bar)
    report.embedded, report.chunks_unchanged, report.chunks_deleted = sync.embedded, sync.unchanged, sync.deleted
    report.chunks_kept = sync.kept
    report.not_indexed = sync.failed
    if as_json:
        print_json(report.to_json())
    else:
        print_report(report)
    if report.skipped or report.not_indexed:
        raise typer.Exit(1)


def print_report(report: ImportReport) -> None:
    console.print(f"[bold]{report.importer}[/]: {len(report.imported)} imported, {len(report.unchanged)} unchanged, "
                  f"{len(report.skipped)} skipped" + (f", {len(report.removed)} removed" if report.removed else "")
                  + (f", {report.people} people" if report.people else "")
                  + (f", {report.changes} field changes" if report.changes else "")
                  + (f", {len(report.conflicts)} conflicts" if report.conflicts else "")
                  + f"; index: {report.embedded} chunks embedded, {report.chunks_kept} unchanged, "
                  f"{report.chunks_deleted} removed", highlight=False)
    if report.created:
        created = ctx().store.summaries(report.created)
        owners = ", ".join(sorted({s.owner for s in created}))
        console.print(f"  [yellow]created[/] {len(created)} new account(s), unassigned: no rep owns them (owner "
                      f"{owners} until one does: a profile YAML of the same name with its `owner:` assigns one, see "
                      f"docs/profile-format.md): {', '.join(s.name for s in created)}", highlight=False,
                      soft_wrap=True)
    for _source, reason in report.skipped:
        console.print(f"  [red]skipped[/] {reason}", highlight=False, soft_wrap=True)
    for name in report.removed:
        console.print(f"  [yellow]removed[/] {name}: its profile file is gone from the directory", highlight=False)
    if report.people_removed:
        console.print(f"  [yellow]people removed[/] (no longer in people.yaml, no access): "
                      f"{', '.join(report.people_removed)}", highlight=False, soft_wrap=True)
    for account_id, reason in report.not_indexed:
        console.print(f"  [red]not indexed[/] {account_id}: {reason}", highlight=False, soft_wrap=True)
    for c in report.conflicts[:50]:
        kept = "the source's" if c["kept"] == "source" else "the product's"
        console.print(f"  [yellow]conflict[/] {c['file']}: {c['account']}: {c['field']}: source "
                      f"{c['source_value']!r}, product {c['product_value']!r}; kept {kept} (newer)",
                      highlight=False, soft_wrap=True)
    if len(report.conflicts) > 50:
        console.print(f"  ... and {len(report.conflicts) - 50} more conflicts (see --json)")
    for warning in report.warnings[:50]:
        console.print(f"  [yellow]warning[/] {warning}", highlight=False, soft_wrap=True)
    if len(report.warnings) > 50:
        console.print(f"  ... and {len(report.warnings) - 50} more warnings (see --json)")


def init() -> None:
    """Create the data directory, the database and the index."""
    store = ctx().store
    index = ctx().lock_for_writing()
    settings = ctx().settings
    for step in store.migrations:
        console.print(f"schema: {step}", highlight=False)
    console.print(f"kam home: {settings.home}\ndatabase: {settings.db_url_safe}\n"
                  f"index: {index.collection_name} ({index.count()} chunks) in {settings.index_location}, "
                  f"accounts: {store.count_accounts()}", highlight=False)
    if index.drift:
        console.print(f"[yellow]warning[/] {index.drift}", highlight=False)


def migrate() -> None:
    """Bring the database schema to this version's (in place; safe to run again, and while other processes run)."""
    from knowledge.migrations import current, head

    store = ctx().store
    for step in store.migrations:
        console.print(f"schema: {step}", highlight=False)
    with store.engine.connect() as conn:
        revision = current(conn)
    console.print(f"database: {ctx().settings.db_url_safe}\nschema revision: {revision}"
                  + ("" if store.migrations else " (already the newest)") + f" (this version's: {head()})",
                  highlight=False)


def ingest(directory: Path = typer.Argument(..., help="directory of profile YAML files (+ people.yaml)"),
           as_json: bool = typer.Option(False, "--json", help="print the import summary as JSON")) -> None:
    """Load account profiles and people.yaml from DIR (see docs/profile-format.md)."""
    from knowledge.importers.profiles import ingest_dir
    from knowledge.loader import ProfileError

    ctx().lock_for_writing()
    try:
        with progress_bar("profiles") as bar:
            report = ingest_dir(ctx().store, directory, progress=bar)
    except ProfileError as exc:
        fail(str(exc))
    _sync_and_report(report, as_json)


def import_crm(directory: Path = typer.Argument(..., help="directory with accounts.csv, sales_pipeline.csv, ..."),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Import a CRM export (accounts, sales_pipeline, sales_teams, products CSVs)."""
    from knowledge.importers.crm import import_crm as run
    from knowledge.loader import ProfileError

    ctx().lock_for_writing()
    try:
        with progress_bar("crm") as bar:
            report = run(ctx().store, directory, progress=bar)
    except ProfileError as exc:
        fail(str(exc))
    _sync_and_report(report, as_json)


def import_filing(file: list[Path] = typer.Argument(..., help="10-K JSON file(s) written by edgar-crawler"),
                  account: str | None = typer.Option(None, "--account", help="attach to this account"),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Import annual reports (10-K JSON) as dated documents split into the six dimensions."""
    from knowledge.importers.filing import import_filings as run
    from skills.ask.resolve import AskMatcher

    ctx().lock_for_writing()
    with progress_bar("filings") as bar:
        report = run(ctx().store, file, account=account, progress=bar, matcher=AskMatcher())
    _sync_and_report(report, as_json)


def resolve_account(name: str) -> str:
    """An account as Ask finds one (skills/ask/resolve.py): id, name, alias, short name, Chinese name, typo."""
    from skills.ask.resolve import find_account, name_table

    found = find_account(ctx().store, name)
    if found.account_id is not None:
        return found.account_id
    names = name_table(ctx().store).names
    if found.candidates:
        fail(f"{name!r} could be " + " or ".join(repr(names.get(a, a)) for a in found.candidates)
             + "; give more of the name")
    from rapidfuzz import process

    best = process.extractOne(name, list(names.values()), score_cutoff=60)
    hint = f" (did you mean {best[0]!r}?)" if best else ""
    fail(f"no account named {name!r}{hint}")


def dimension_named(text: str | None) -> str | None:
    """A dimension by any of its names in Ask's vocabulary (English or Chinese); fails with the choices."""
    if text is None:
        return None
    from skills.ask.vocab import vocabulary

    dim = vocabulary().dimension(text)
    if dim is None:
        choices = "; ".join(f"{d} ({', '.join(words)})" for d, words in vocabulary().dimension_names().items())
        fail(f"unknown dimension {text!r}; use one of: {choices}")
    return dim


def accounts(tier: str | None = typer.Option(None, "--tier", help="only accounts in this tier"),
             owner: str | None = typer.Option(None, "--owner", help="only accounts owned by this email/Slack id"),
             sort: str = typer.Option("name", "--sort", help="name | clv (lifetime value, highest first)"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """List accounts with owner, completeness, freshness and lifetime value."""
    from knowledge.quality import quality
    from skills.clv import ClvConfigError, portfolio_clv

    if sort not in ("name", "clv"):
        fail(f"--sort must be name or clv, not {sort!r}")

    store, settings = ctx().store, ctx().settings
    tiers = _current_tiers()
    today = dt.date.today()
    rows = []
    for s in store.summaries():
        if owner and s.owner != (owner.lower() if "@" in owner else owner):
            continue
        if tier and tiers.get(s.id) != tier:
            continue
        profile = store.load_profile(s.id)
        q = quality(profile, settings.kam_required_fields, today, settings.kam_stale_days)
        rows.append({"id": s.id, "account": s.name, "aliases": s.aliases, "owner": s.owner, "team": s.team,
                     "industry": s.industry, "region": s.region, "tier": tiers.get(s.id),
                     "completeness": round(q.overall, 2), "stale_dimensions": q.stale, "source": s.source})
    try:
        values = portfolio_clv(store, [r["id"] for r in rows], today)
    except ClvConfigError as exc:
        fail(str(exc))
    for r in rows:
        value = values[r["id"]].value
        r["clv"] = round(value, 2) if value is not None else None
    if sort == "clv":  # highest first; unknown values last
        rows.sort(key=lambda r: (r["clv"] is None, -(r["clv"] or 0)))
    if as_json:
        print_json(rows)
        return
    from skills.clv import money

    table = Table("account", "owner", "tier", "complete", "stale", "lifetime value", "industry")
    for r in rows:
        table.add_row(r["account"], r["owner"], r["tier"] or "-", f"{r['completeness']:.0%}",
                      ", ".join(r["stale_dimensions"]) or "-", money(r["clv"]) if r["clv"] is not None else "-",
                      r["industry"] or "-")
    console.print(table)
    console.print(f"{len(rows)} accounts")


def _current_tiers() -> dict[str, str]:
    try:
        from skills.tiering.current import current_tiers  # added by the tiering feature
    except ImportError:
        return {}
    return current_tiers(ctx().store)


def show(account: str = typer.Argument(..., help="account name, alias, short or Chinese name, or id (typos are "
                                                   "forgiven, as in questions)"),
         dimension: str | None = typer.Option(None, "--dimension", "-d", help=f"one of {', '.join(DIMENSIONS)} "
                                              "(or another name for it, English or Chinese: vendors, 供应商, ...)"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Show an account's profile (or one dimension of it)."""
    from knowledge.chunks import dimension_text
    from knowledge.quality import quality

    dimension = dimension_named(dimension)
    store, settings = ctx().store, ctx().settings
    account_id = resolve_account(account)
    profile = store.load_profile(account_id)
    q = quality(profile, settings.kam_required_fields, dt.date.today(), settings.kam_stale_days)
    if as_json:
        data = profile.model_dump(mode="json", exclude_none=True)
        if dimension:
            data = {"account": profile.account, "owner": profile.owner, dimension: data.get(dimension, {})}
        data["id"] = account_id
        data["quality"] = {"completeness": q.completeness, "overall": q.overall, "missing": q.missing,
                           "age_days": q.age_days, "stale": q.stale}
        data["documents"] = [{"id": d.id, "title": d.title, "dimension": d.dimension, "dated": d.dated}
                             for d in store.documents(account_id) if not dimension or d.dimension == dimension]
        data["clv"] = _clv(account_id).to_json()
        print_json(data)
        return
    console.print(f"[bold]{profile.account}[/]" + (f" ({', '.join(profile.aliases)})" if profile.aliases else "")
                  + f"  owner {profile.owner}  complete {q.overall:.0%}", highlight=False)
    if profile.industry or profile.region:
        console.print(" / ".join(filter(None, [profile.industry, profile.region])), highlight=False)
    for dim in [dimension] if dimension else DIMENSIONS:
        section = profile.dimension(dim)
        body = dimension_text(profile, dim)
        age = f"updated {section.updated}" if section.updated else "never updated"
        flag = " [yellow](stale)[/]" if dim in q.stale else ""
        console.print(f"\n[bold cyan]{DIMENSION_TITLES[dim]}[/] - {age}{flag}", highlight=False)
        console.print(body or "[dim]nothing recorded[/]", highlight=False)
        for note in (n for n in profile.notes if n.dimension == dim):
            console.print(f"  note {note.date} ({note.by or '?'}): {note.text}", highlight=False)
    if not dimension:
        if profile.contacts:
            console.print("\n[bold cyan]Contacts[/]")
            for c in profile.contacts:
                console.print(f"  {c.name} - {c.title or ''} {('[' + c.role + ']') if c.role else ''}"
                              f"{' birthday ' + c.birthday if c.birthday else ''}", highlight=False)
        if profile.key_dates:
            console.print("\n[bold cyan]Key dates[/]")
            for d in profile.key_dates:
                console.print(f"  {d.date} {d.kind}: {d.title}", highlight=False)
        if profile.interactions:
            last = profile.interactions[-1]
            console.print(f"\n[bold cyan]Last contact[/] {last.date} {last.kind} by {last.by or '?'}", highlight=False)
        console.print(f"\n[bold cyan]Lifetime value[/] {_clv(account_id).summary()}", highlight=False)
        if q.missing:
            console.print(f"\n[yellow]missing:[/] {', '.join(q.missing)}", highlight=False)


def _clv(account_id: str):  # noqa: ANN202 - skills.clv.Clv
    from skills.clv import ClvConfigError, account_clv

    try:
        return account_clv(ctx().store, account_id)
    except ClvConfigError as exc:
        fail(str(exc))


def search(text: str = typer.Argument(..., help="what to look for"),
           as_email: str | None = typer.Option(None, "--as", help="search only what this person may see"),
           k: int = typer.Option(8, "--k", help="how many results"),
           dimension: str | None = typer.Option(None, "--dimension", "-d"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Raw hybrid retrieval (vector + lexical) with scores."""
    from knowledge.retrieval import hybrid_search

    store = ctx().store
    scope = None
    if as_email:
        person = store.person(as_email)
        if person is None:
            fail(f"unknown person {as_email!r}: not in people.yaml")
        scope = store.visible_account_ids(person)
    hits = hybrid_search(ctx().index, text, scope, k=k, dimensions=[dimension] if dimension else None)
    if as_json:
        print_json([{"id": h.chunk_id, "account": h.account, "account_id": h.account_id, "kind": h.kind,
                     "dimension": h.dimension, "updated": h.updated, "owner": h.owner, "score": round(h.score, 5),
                     "vector_score": h.vector_score, "lexical_score": h.lexical_score,
                     "vector_rank": h.vector_rank, "lexical_rank": h.lexical_rank, "text": h.text} for h in hits])
        return
    for h in hits:
        console.print(f"[bold]{h.score:.4f}[/] v={h.vector_rank or '-'} l={h.lexical_rank or '-'}  "
                      f"{h.account} / {h.dimension or h.kind}  [dim]{h.chunk_id}[/]", highlight=False)
        console.print("   " + h.text.replace("\n", " ")[:200], highlight=False)
    if not hits:
        console.print("no results")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(migrate)
    app.command()(ingest)
    app.command("import-crm")(import_crm)
    app.command("import-filing")(import_filing)
    app.command()(accounts)
    app.command()(show)
    app.command()(search)
