"""`kam run`: start the Slack bot (Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP at /slack/events)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.context import console, ctx, fail

if TYPE_CHECKING:
    from knowledge.settings import Settings


def run(
    http: bool = typer.Option(False, "--http", help="serve Slack's HTTP requests even if SLACK_APP_TOKEN is set"),
    host: str = typer.Option(None, "--host", help="bind address (default KAM_HTTP_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="port (default KAM_HTTP_PORT, 3000)"),
) -> None:
    """Run the Slack bot until interrupted."""
    from bot.app import create_app, socket_mode_handler
    from knowledge.kb import KnowledgeBase

    c = ctx()
    settings = c.settings
    if not settings.slack_bot_token:
        fail("SLACK_BOT_TOKEN is not set (the xoxb- token from the app's OAuth & Permissions page); "
             "see docs/slack-setup.md")
    socket_mode = bool(settings.slack_app_token) and not http
    if not socket_mode and not settings.slack_signing_secret:
        fail("HTTP mode needs SLACK_SIGNING_SECRET (Basic Information > Signing Secret), "
             "or set SLACK_APP_TOKEN for Socket Mode; see docs/slack-setup.md")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Answer threads are CPU-bound; a shorter GIL switch interval (default 5 ms) lets the threads that only
    # verify and acknowledge Slack's requests run sooner, so acks stay fast while answers are computed.
    sys.setswitchinterval(settings.kam_gil_switch_ms / 1000)
    kb = KnowledgeBase(settings, c.store, c.lock_for_writing())  # notes from Slack are indexed: a writer
    from skills.ask.engine import warm_up

    warm_up(kb)  # load the model and the engine now, not during the first rep's question
    try:
        app = create_app(kb, settings)
    except Exception as exc:  # e.g. auth.test rejects the token
        fail(f"could not start the Slack app: {exc}")
    from scheduler.clock import clock_for
    from scheduler.runner import start_in_background

    scheduler = (start_in_background(kb, settings, app.kam_notifier, clock_for(settings))  # type: ignore[attr-defined]
                 if settings.kam_run_scheduler else None)
    try:
        if socket_mode:
            console.print("kam-bot: Socket Mode (SLACK_APP_TOKEN set); Ctrl-C to stop")
            socket_mode_handler(app, settings).start()
        else:
            from bot.http import BotServer

            host = host or settings.kam_http_host
            port = settings.kam_http_port if port is None else port
            if settings.kam_http_front:  # the bot listens on loopback; a front process acks Slack on host:port
                server = BotServer(app, settings.slack_signing_secret or "", "127.0.0.1", 0, settings.kam_http_threads)
                server.start()
                front = start_front(host, port, server.url, settings)
                console.print(f"kam-bot: HTTP mode, Slack requests at http://{host}:{front.port}/slack/events "
                              "(front process; Ctrl-C to stop)", highlight=False)
                front.proc.wait()
                fail(f"the HTTP front process ended (exit code {front.proc.returncode})")
            server = BotServer(app, settings.slack_signing_secret or "", host, port, settings.kam_http_threads)
            console.print(f"kam-bot: HTTP mode, Slack requests at {server.url}; Ctrl-C to stop", highlight=False)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if scheduler is not None:
            scheduler.stop()
        app.kam_executor.shutdown(wait=False, cancel_futures=True)  # type: ignore[attr-defined]
        c.close()


def front(
    backend: list[str] = typer.Option(..., "--backend", help="a bot worker's events URL, e.g. "
                                      "http://10.0.0.5:3001/slack/events (repeat for each worker)"),
    host: str = typer.Option(None, "--host", help="bind address (default KAM_HTTP_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="port (default KAM_HTTP_PORT, 3000)"),
) -> None:
    """Run the HTTP front alone, in front of bot workers started with KAM_HTTP_FRONT=false (docs/deployment.md)."""
    from bot.front import main

    c = ctx()
    settings = c.settings
    if not settings.slack_signing_secret:
        fail("SLACK_SIGNING_SECRET is not set")
    c.store  # noqa: B018 - brings the schema up to date: the front journals events in its slack_inbox table
    os.environ.setdefault("SLACK_SIGNING_SECRET", settings.slack_signing_secret)
    os.environ["DATABASE_URL"] = settings.db_url  # the journal's database (the front reads no settings)
    main(["--host", host or settings.kam_http_host, "--port", str(settings.kam_http_port if port is None else port),
          *[arg for url in backend for arg in ("--backend", url)]])


@dataclass
class FrontProcess:
    proc: subprocess.Popen
    port: int


def start_front(host: str, port: int, backend_url: str, settings: Settings) -> FrontProcess:
    """Start bot/front.py as a child process on host:port; it exits when this process does (its stdin closes)."""
    env = {**os.environ, "SLACK_SIGNING_SECRET": settings.slack_signing_secret or "",
           "DATABASE_URL": settings.db_url}  # the front journals acknowledged events in the bot's database
    proc = subprocess.Popen([sys.executable, "-m", "bot.front", "--host", host, "--port", str(port), "--backend",
                             backend_url, "--threads", str(settings.kam_http_threads), "--with-parent"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=Path(__file__).parents[1])
    line = proc.stdout.readline().decode().strip() if proc.stdout else ""
    if not line.startswith("listening "):
        proc.kill()
        fail(f"the HTTP front could not listen on {host}:{port} (is the port in use?)")
    return FrontProcess(proc, int(line.rsplit(":", 1)[1]))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("front")(front)
