"""Ask: short, correct, cited answers to reps' questions (offline by default, an LLM agent when configured)."""

from skills.ask.engine import ask
from skills.ask.models import Answer, Source

__all__ = ["Answer", "Source", "ask"]
