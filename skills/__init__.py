"""What the bot can do (ask, tiering, nudges, digests), as plain functions returning plain data; no Slack here."""
