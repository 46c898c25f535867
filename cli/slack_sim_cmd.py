"""`kam slack-sim`: see the bot as Slack would show it, without a Slack workspace (bot/slack_sim.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import typer
from rich.markup import escape

from cli.context import console, ctx
from cli.terminal import to_terminal

DEFAULT_SECRET = "kam-sim-signing-secret"
HELP = ("type  @kam QUESTION  (a mention in #kam-sim),  dm QUESTION,  /kam SUBCOMMAND  (e.g. /kam tiers),  "
        "click N  (a button shown as [N]),  as EMAIL,  quit")


def _show(sim, stop: threading.Event) -> None:  # noqa: ANN001 - bot.slack_sim.SlackSim
    """Print what the bot posts, as it posts it."""
    while not stop.is_set():
        for post in sim.posts():
            console.print(f"[bold magenta]<- {escape(post.method)} {escape(post.where)}[/]", highlight=False)
            console.print(to_terminal(post.text, mrkdwn=True), highlight=False)
            if post.buttons:
                console.print("   " + "  ".join(f"[bold][{n}][/] {escape(b.label)}" for n, b in post.buttons),
                              highlight=False)
        time.sleep(0.1)


def slack_sim(port: int = typer.Option(3001, "--port", help="port of the stand-in Slack Web API"),
              bot: str = typer.Option("http://127.0.0.1:3000/slack/events", "--bot",
                                      help="the bot's events URL (`kam run --http`)"),
              secret: str | None = typer.Option(None, "--secret", help="the signing secret the bot checks (default: "
                                                "SLACK_SIGNING_SECRET, else a fixed one printed at start)"),
              user: str = typer.Option("alice@example.com", "--as", help="who you are in Slack")) -> None:
    """A local Slack stand-in: records what the bot posts and sends it signed mentions, DMs, /kam and clicks."""
    run_sim(port, bot, secret or ctx().settings.slack_signing_secret or DEFAULT_SECRET, user)


def run_sim(port: int, bot: str, secret: str, user: str, read: Callable[[str], str] = input) -> None:
    from bot.slack_sim import SlackSim

    try:
        people = {p.email: p.slack_id for p in ctx().store.people()}
    except Exception:  # noqa: BLE001 - no database yet: Slack knows only you
        people = {}
    sim = SlackSim(bot, secret, people or {user: None}).start(port)
    console.print(f"Slack stand-in: Web API on [bold]{sim.api_url}[/]; the bot is expected at {escape(bot)}.\n"
                  "Start the bot beside it (another terminal, same KAM_HOME):\n"
                  f"  [bold]SLACK_API_URL={sim.api_url} SLACK_BOT_TOKEN=xoxb-sim SLACK_SIGNING_SECRET={escape(secret)} "
                  f"kam run --http --port {bot.rsplit(':', 1)[-1].split('/')[0]}[/]\n"
                  "or in Socket Mode (what a self-hosted team runs; no port, the bot connects to the stand-in):\n"
                  f"  [bold]SLACK_API_URL={sim.api_url} SLACK_BOT_TOKEN=xoxb-sim SLACK_APP_TOKEN=xapp-sim kam run[/]\n"
                  f"You are {escape(user)}. {escape(HELP)}", highlight=False, soft_wrap=True)
    stop = threading.Event()
    printer = threading.Thread(target=_show, args=(sim, stop), daemon=True, name="slack-sim-show")
    printer.start()
    try:
        while True:
            try:
                line = read("slack> ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if line in ("quit", "exit", "q"):
                break
            if line:
                user = _do(sim, user, line)
    finally:
        time.sleep(0.3)  # the last posts are printed before leaving
        stop.set()
        printer.join(timeout=2)
        sim.stop()


def _do(sim, user: str, line: str) -> str:  # noqa: ANN001 - bot.slack_sim.SlackSim
    """One typed line: sends what it says; returns who is typing next."""
    head, _, rest = line.partition(" ")
    try:
        if head in ("@kam", "mention"):
            status, body = sim.mention(user, rest)
        elif head == "dm":
            status, body = sim.dm(user, rest)
        elif head == "/kam":
            status, body = sim.slash(user, rest)
        elif head == "click" and rest.strip().isdigit():
            if int(rest) not in sim.buttons:
                console.print(f"no button [{rest.strip()}]", highlight=False)
                return user
            status, body = sim.click(user, int(rest))
        elif head == "as" and "@" in rest:
            console.print(f"now {rest.strip()}", highlight=False)
            return rest.strip()
        else:
            console.print(HELP, highlight=False)
            return user
    except OSError as exc:
        console.print(f"[red]the bot is not reachable at {escape(sim.bot_url)}: {escape(str(exc))}[/]",
                      highlight=False)
        return user
    if status != 200:
        console.print(f"[red]the bot answered HTTP {status}[/] {escape(body[:200])}"
                      + (" (is SLACK_SIGNING_SECRET the same on both sides?)" if status == 401 else ""),
                      highlight=False)
    elif body.strip():  # a slash command's immediate reply
        console.print(f"[bold magenta]<- HTTP reply[/] {escape(body[:500])}", highlight=False)
    return user


def register(app: typer.Typer) -> None:
    app.command("slack-sim")(slack_sim)
