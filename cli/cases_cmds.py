"""`kam cases ...`: list, open and work service cases (ack, resolve, confirm, reopen); see docs/cases.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from cli import demo_cmd
from cli.context import console, ctx, fail, print_json

if TYPE_CHECKING:
    from knowledge.profile import Person
    from skills.cases import Case

cases_app = typer.Typer(help="Service cases: open -> acknowledged -> resolved -> closed (confirmed) or reopened.",
                        no_args_is_help=False)
STATE_STYLE = {"open": "bold red", "reopened": "bold red", "acknowledged": "yellow", "resolved": "cyan",
               "closed": "dim"}


def _now() -> Any:
    """The scheduler's clock: the system clock, or the simulation's (KAM_CLOCK_FILE)."""
    from scheduler.clock import clock_for

    return clock_for(ctx().settings).now()


def _person(ident: str | None, required: bool = True) -> Person | None:
    if ident is None:
        if required:
            fail("--as: who is acting (an email or Slack id from people.yaml) is required")
        return None
    person = ctx().store.person(ident.strip())
    if person is None:
        fail(f"--as: unknown person {ident!r}: not in people.yaml")
    return person


def _account(name: str) -> str:
    from cli.knowledge_cmds import resolve_account

    return resolve_account(name)


def _print(case: Case, verb: str | None = None) -> None:
    style = STATE_STYLE.get(case.state, "")
    head = f"case #{case.id} [{style}]{case.state}[/]" + (f" ({verb})" if verb else "")
    console.print(f"{head}  {case.account}  severity {case.severity}  owner {case.owner}", highlight=False)
    console.print(f"  {case.text}", highlight=False, soft_wrap=True, markup=False)
    for st in case.stages:
        late = case.overdue and case.state in ("open", "acknowledged", "reopened")
        status = f"met {st.met_at:%Y-%m-%d %H:%M}" if st.met_at else ("[bold red]overdue[/]" if late else "running")
        if case.state in ("resolved", "closed") and not st.met_at:
            status = "-"
        console.print(f"  {st.stage}: {st.target}, due {st.due:%a %Y-%m-%d %H:%M %Z}  {status}", highlight=False)
    if case.satisfaction is not None:
        console.print(f"  customer satisfaction {case.satisfaction}/5" + (f": {case.note}" if case.note else ""),
                      highlight=False, markup=False)


def _run(action: str, case_id: int, as_email: str, as_json: bool, **kwargs: Any) -> None:
    from skills.cases import CaseError, act, history

    store = ctx().store
    try:
        case = act(store, ctx().settings, case_id, action, _person(as_email), now=_now(), **kwargs)
    except CaseError as exc:
        fail(str(exc))
    if as_json:
        print_json({**case.to_json(), "history": history(store, case.id)})
        return
    _print(case, {"ack": "acknowledged", "resolve": "resolved", "confirm": "confirmed", "reopen": "reopened"}[action])


@cases_app.callback(invoke_without_command=True)
def cases(typer_ctx: typer.Context,
          account: str | None = typer.Option(None, "--account", help="only this account (name, alias or id)"),
          open_only: bool = typer.Option(False, "--open", help="only cases not closed yet"),
          overdue: bool = typer.Option(False, "--overdue", help="only cases past a response or resolution target"),
          as_email: str | None = typer.Option(None, "--as", help="only the accounts this person may see"),
          as_json: bool = typer.Option(False, "--json", help="print the cases as JSON")) -> None:
    """List service cases, newest first, with their service levels."""
    if typer_ctx.invoked_subcommand:
        return
    from skills.cases import CaseError, list_cases

    person = _person(as_email, required=False)
    ids = {_account(account)} if account else None
    try:
        found = list_cases(ctx().store, ctx().settings, person=person, account_ids=ids, open_only=open_only,
                           overdue_only=overdue, now=_now())
    except CaseError as exc:
        fail(str(exc))
    if as_json:
        print_json([c.to_json() for c in found])
        return
    table = Table("id", "account", "state", "severity", "owner", "opened", "due", "text")
    for c in found:
        running = [s for s in c.stages if s.met_at is None and c.state in ("open", "acknowledged", "reopened")]
        due = f"{running[0].due:%Y-%m-%d %H:%M}" + (" [bold red]overdue[/]" if c.overdue else "") if running else "-"
        text = c.text if len(c.text) <= 60 else c.text[:59] + "…"
        table.add_row(str(c.id), c.account, f"[{STATE_STYLE.get(c.state, '')}]{c.state}[/]", c.severity, c.owner,
                      f"{c.opened_at:%Y-%m-%d}", due, text.replace("[", r"\["))
    console.print(table)
    console.print(f"{len(found)} case{'s' * (len(found) != 1)}")


@cases_app.command("open")
def open_cmd(account: str = typer.Argument(..., help="account name, alias or id"),
             text: str = typer.Option(..., "--text", help="what happened, in the customer's words"),
             as_email: str = typer.Option(None, "--as", help="who opens it (email or Slack id)"),
             severity: str = typer.Option("normal", "--severity", help="low | normal | high"),
             assign: str | None = typer.Option(None, "--assign", help="a team member to own it (default: the "
                                                                     "account owner)"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Open a service case at an account."""
    from skills.cases import CaseError, open_case

    person = _person(as_email)
    try:
        case = open_case(ctx().store, ctx().settings, _account(account), text, person, severity=severity,
                         assign=assign, source="cli", now=_now())
    except CaseError as exc:
        fail(str(exc))
    if as_json:
        print_json(case.to_json())
        return
    _print(case, "opened")


@cases_app.command("show")
def show_cmd(case_id: int = typer.Argument(..., help="the case id"),
             as_email: str | None = typer.Option(None, "--as", help="only if this person may see it"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """One case with its service levels and every step taken on it."""
    from skills.cases import CaseError, get_case, history

    try:
        case = get_case(ctx().store, ctx().settings, case_id, person=_person(as_email, required=False), now=_now())
    except CaseError as exc:
        fail(str(exc))
    steps = history(ctx().store, case_id)
    if as_json:
        print_json({**case.to_json(), "history": steps})
        return
    _print(case)
    for h in steps:
        console.print(f"  {h['at']} {h['action']}" + (f" by {h['by']}" if h["by"] else "")
                      + (f": {h['note']}" if h["note"] else ""), highlight=False, markup=False)


@cases_app.command("ack")
def ack_cmd(case_id: int = typer.Argument(..., help="the case id"),
            as_email: str = typer.Option(None, "--as", help="who acknowledges it"),
            note: str | None = typer.Option(None, "--note", help="what you are doing about it"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Acknowledge a case: the owner has seen it and is on it (meets the response target)."""
    _run("ack", case_id, as_email, as_json, note=note)


@cases_app.command("resolve")
def resolve_cmd(case_id: int = typer.Argument(..., help="the case id"),
                as_email: str = typer.Option(None, "--as", help="who resolved it"),
                note: str | None = typer.Option(None, "--note", help="what was done"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark a case resolved: it now waits for the customer's confirmation (meets the resolution target)."""
    _run("resolve", case_id, as_email, as_json, note=note)


@cases_app.command("confirm")
def confirm_cmd(case_id: int = typer.Argument(..., help="the case id"),
                as_email: str = typer.Option(None, "--as", help="who records the customer's confirmation"),
                satisfaction: str = typer.Option(None, "--satisfaction", help="the customer's satisfaction, 1-5"),
                note: str | None = typer.Option(None, "--note", help="the customer's words"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Close a resolved case with the customer's confirmation, satisfaction (1-5) and a note."""
    _run("confirm", case_id, as_email, as_json, satisfaction=satisfaction, note=note)


@cases_app.command("reopen")
def reopen_cmd(case_id: int = typer.Argument(..., help="the case id"),
               as_email: str = typer.Option(None, "--as", help="who reopens it"),
               note: str | None = typer.Option(None, "--note", help="why (the customer is not satisfied, ...)"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Reopen a resolved or closed case; its service levels count again from now."""
    _run("reopen", case_id, as_email, as_json, note=note)


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")


@demo_cmd.command("case", "case ACCOUNT [high|low]: TEXT opens a service case; case ack|resolve|reopen ID; "
                          "case confirm ID SATISFACTION [NOTE]")
def _demo_case(state: dict, arg: str) -> None:
    words = arg.split()
    if words and words[0] in ("ack", "resolve", "reopen", "confirm"):
        if len(words) < 2 or not words[1].lstrip("#").isdigit() or (words[0] == "confirm" and len(words) < 3):
            console.print("usage: case ack|resolve|reopen ID, or case confirm ID SATISFACTION [NOTE]", markup=False)
            return
        extra = {"satisfaction": words[2], "note": " ".join(words[3:]) or None} if words[0] == "confirm" else {}
        _run(words[0], int(words[1].lstrip("#")), state["user"], False, **extra)
        return
    from skills.cases import parse_case_command

    parsed = parse_case_command(arg)  # the syntax of `/kam case`
    if parsed is None or not parsed[0]:
        console.print("usage: case ACCOUNT [high|low]: what happened", markup=False)
        return
    name, severity, text = parsed
    account_id = demo_cmd.visible_account(state, name)
    if account_id is not None:
        open_cmd(account_id, text=text.strip(), as_email=state["user"], severity=severity, assign=None,
                 as_json=False)


@demo_cmd.command("cases", "cases [overdue]: the open service cases at your accounts")
def _demo_cases(state: dict, arg: str) -> None:
    from skills.cases import list_cases

    found = list_cases(ctx().store, ctx().settings, person=_person(state["user"]), open_only=True,
                       overdue_only=arg.strip() == "overdue", now=_now())
    for c in found:
        _print(c)
    if not found:
        console.print("no open service case at your accounts" if arg.strip() != "overdue" else
                      "no service case past its target at your accounts")
