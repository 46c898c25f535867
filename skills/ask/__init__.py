"""Ask: short, correct, cited answers to reps' questions (offline by default, an LLM agent when configured).

`ask`, `Answer` and `Source` are loaded on first use, so that importing a light submodule (resolve, vocab, phrases)
does not load the engine and its models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skills.ask.engine import ask
    from skills.ask.models import Answer, Source

__all__ = ["Answer", "Source", "ask"]


def __getattr__(name: str) -> Any:
    if name == "ask":
        from skills.ask.engine import ask

        return ask
    if name in ("Answer", "Source"):
        from skills.ask import models

        return getattr(models, name)
    raise AttributeError(f"module 'skills.ask' has no attribute {name!r}")
