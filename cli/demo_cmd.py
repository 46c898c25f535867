"""`kam demo`: load the sample accounts and open a console where you type what a rep would type in Slack."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape

from cli.context import console, ctx, fail

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "accounts"
DEFAULT_USER = "alice@example.com"

# name -> (help, handler(console_state, argument_text)); other features add their own entries
COMMANDS: dict[str, tuple[str, Callable[[dict, str], None]]] = {}


def command(name: str, help_text: str) -> Callable[[Callable[[dict, str], None]], Callable[[dict, str], None]]:
    def wrap(fn: Callable[[dict, str], None]) -> Callable[[dict, str], None]:
        COMMANDS[name] = (help_text, fn)
        return fn

    return wrap


@command("help", "this list")
def _help(state: dict, arg: str) -> None:
    console.print("Type a question as a rep would (e.g. [italic]who's the economic buyer at hanshan?[/]), or:")
    for name, (text, _) in sorted(COMMANDS.items()):
        console.print(f"  [bold]{name}[/] - {escape(text)}", highlight=False)


@command("as", "as EMAIL: act as another person from people.yaml (access rules follow)")
def _as(state: dict, arg: str) -> None:
    person = ctx().store.person(arg.strip()) if arg.strip() else None
    if person is None:
        console.print("who? known people: " + ", ".join(p.email for p in ctx().store.people()))
        return
    state["user"] = person.email
    console.print(f"now acting as {person.email} ({person.role})", highlight=False)


@command("accounts", "the accounts you can see")
def _accounts(state: dict, arg: str) -> None:
    store = ctx().store
    person = store.person(state["user"])
    scope = store.visible_account_ids(person) if person else set()
    for s in store.summaries(scope):
        console.print(f"  {s.name}  [dim]({s.owner})[/]", highlight=False)


@command("show", "show ACCOUNT [DIMENSION]: a profile")
def _show(state: dict, arg: str) -> None:
    from cli.knowledge_cmds import show
    from skills.ask.vocab import vocabulary

    parts = shlex.split(arg)
    if not parts:
        console.print("show which account?")
        return
    dim = vocabulary().dimension(parts[-1]) if len(parts) > 1 else None
    name = " ".join(parts[:-1] if dim else parts)
    account_id = visible_account(state, name)
    if account_id is not None:
        show(account_id, dimension=dim, as_json=False)


def visible_account(state: dict, name: str) -> str | None:
    """An account the console's person may see, found as Ask finds one; says why not when there is none."""
    from skills.ask.resolve import find_account

    store = ctx().store
    person = store.person(state["user"])
    scope = store.visible_account_ids(person) if person else set()
    found = find_account(store, name, scope)
    if found.candidates:
        names = [store.summaries([a])[0].name for a in found.candidates]
        console.print(f"{name!r} could be " + " or ".join(names) + "; give more of the name", highlight=False)
    elif found.account_id is None:
        console.print("that account is not in your portfolio (or does not exist)")
    return found.account_id


def answer(state: dict, text: str) -> None:
    """Free text goes to the Ask skill (one conversation per console session, so follow-ups work)."""
    from cli.ask_cmds import print_answer
    from knowledge.kb import KnowledgeBase
    from skills.ask import ask

    c = ctx()
    kb = KnowledgeBase(c.settings, c.store, c.index)
    state.setdefault("conversation", f"demo-{id(state)}")
    print_answer(ask(kb, text, state["user"], conversation_id=f"{state['conversation']}:{state['user']}"))


def repl(user: str, read: Callable[[str], str] = input) -> None:
    state = {"user": user}
    console.print(f"[bold]kam demo[/] - you are {user}. Type [bold]help[/] for commands, [bold]quit[/] to leave.",
                  highlight=False)
    while True:
        try:
            line = read("kam> ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            continue
        if line in ("quit", "exit", "q"):
            return
        head, _, rest = line.partition(" ")
        try:
            if head in COMMANDS:
                COMMANDS[head][1](state, rest)
            else:
                answer(state, line)
        except typer.Exit:
            pass  # a command's error was already printed; the console goes on


def demo(data: Path = typer.Option(EXAMPLES, "--data", help="profile directory to load"),
         user: str = typer.Option(DEFAULT_USER, "--as", help="who you are in the console")) -> None:
    """Load the sample accounts and open an interactive console."""
    from cli.knowledge_cmds import print_report
    from knowledge.importers.profiles import ingest_dir

    if not data.is_dir():
        fail(f"sample data not found at {data}")
    ctx().lock_for_writing()
    report = ingest_dir(ctx().store, data)
    sync = ctx().index.sync(ctx().store)
    report.embedded, report.chunks_unchanged, report.chunks_deleted = sync.embedded, sync.unchanged, sync.deleted
    report.chunks_kept = sync.kept
    print_report(report)
    if ctx().store.person(user) is None:
        fail(f"{user} is not in {data}/people.yaml")
    review_tiers()
    repl(user)


def review_tiers() -> None:
    """A tier review right after loading, so that "my key accounts", `tiers` and the cadence nudges (which follow
    the tiers) work at once, as they would on a deployment whose scheduler has run its first review."""
    from cli.tiers_cmds import _config
    from skills.tiering.history import review

    result = review(ctx().store, _config(), by="kam demo")
    console.print(f"tiers: {result.accounts} accounts reviewed (" + ", ".join(f"{n} {t}" for t, n in
                                                                              result.tiers.items()) + ")",
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(demo)
