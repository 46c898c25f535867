"""The `kam` entry point: assembles the command groups."""

from __future__ import annotations

import sys

import typer

from cli import (
    ask_cmds,
    bot_cmds,
    cases_cmds,
    demo_cmd,
    errors,
    handover_cmds,
    history_cmds,
    knowledge_cmds,
    kpis_cmds,
    rivals_cmds,
    schedule_cmds,
    slack_sim_cmd,
    tiers_cmds,
)

app = typer.Typer(help="kam-bot: key-account knowledge, answers, nudges and tiers.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
knowledge_cmds.register(app)
history_cmds.register(app)
demo_cmd.register(app)
tiers_cmds.register(app)
ask_cmds.register(app)
bot_cmds.register(app)
schedule_cmds.register(app)
slack_sim_cmd.register(app)
cases_cmds.register(app)
rivals_cmds.register(app)
handover_cmds.register(app)
kpis_cmds.register(app)


def run() -> None:
    """`kam`: the app, with anything unhandled reported as one clear line (cli/errors.py), never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        from cli.context import ctx, err_console

        if errors.debug():
            errors.print_traceback()
        try:
            home = str(ctx().settings.home)
        except Exception:  # noqa: BLE001 - the settings themselves may be what failed
            home = "KAM_HOME"
        message, code = errors.explain(exc, home)
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        sys.exit(code)


if __name__ == "__main__":
    run()
