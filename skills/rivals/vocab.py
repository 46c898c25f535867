"""The competitor watch's words (watch.yaml beside this file): key roles, leaving phrases, rival aliases."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

WATCH_FILE = Path(__file__).with_name("watch.yaml")


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def is_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3400-\u9fff]", text))


def phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One pattern for folded phrases: Latin ones on word boundaries ("SMC" is not in "smc-like"... but "Omron's"
    is Omron), CJK ones anywhere (Chinese has no spaces)."""
    parts = []
    for p in sorted({fold(p) for p in phrases if p.strip()}, key=len, reverse=True):
        esc = re.escape(p)
        parts.append(esc if is_cjk(p) else rf"(?<![\w]){esc}(?![^\W_'’])")
    return re.compile("|".join(parts)) if parts else None


@dataclass(frozen=True)
class WatchVocab:
    key_roles: frozenset[str]
    leaving: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]  # canonical rival name -> other names

    @property
    def leaving_pattern(self) -> re.Pattern[str] | None:
        return _leaving(self.leaving)


@lru_cache(maxsize=8)
def _leaving(words: tuple[str, ...]) -> re.Pattern[str] | None:
    return phrase_pattern(list(words))


@lru_cache(maxsize=1)
def watch_vocab(path: Path = WATCH_FILE) -> WatchVocab:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    leaving = data.get("leaving") or {}
    words = [w for lang in leaving.values() for w in (lang or [])] if isinstance(leaving, dict) else list(leaving)
    aliases = {str(k): tuple(str(a) for a in (v or [])) for k, v in (data.get("aliases") or {}).items()}
    return WatchVocab(frozenset(data.get("key_roles") or ()), tuple(str(w) for w in words), aliases)
