"""The Slack surface: bolt app, event/command/interactivity handlers, Block Kit rendering and the Notifier."""
