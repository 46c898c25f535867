"""The `kam` entry point: assembles the command groups."""

from __future__ import annotations

import typer

from cli import ask_cmds, bot_cmds, demo_cmd, knowledge_cmds, schedule_cmds, tiers_cmds

app = typer.Typer(help="kam-bot: key-account knowledge, answers, nudges and tiers.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
knowledge_cmds.register(app)
demo_cmd.register(app)
tiers_cmds.register(app)
ask_cmds.register(app)
bot_cmds.register(app)
schedule_cmds.register(app)


if __name__ == "__main__":
    app()
