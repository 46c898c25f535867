"""The competitor watch: alerts when a rival moves in (watch.py), the note and case scan (mentions.py), and the
per-rival view behind `kam rivals` and Ask (report.py). Plain data in and out; no Slack."""
