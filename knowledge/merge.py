"""The three-way merge of an import into the stored profile (rules in docs/profile-format.md, "Merge rules").

For each field path: `base` is what this import source delivered last time, `theirs` what it delivers now,
`current` what the product holds (changed since by Slack, a handover, another import, ...).

* theirs == current: nothing to do.
* theirs == base (the source did not change the field): current stays, whatever it is.
* current == base (nobody changed it in the product): theirs is taken.
* both changed: the newer wins (the source's time against the field's last change in the history), and the
  conflict is reported with both values.

Without a base (the first import from this source) a field the source does not have never removes one the
product has; a field the product does not have is taken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

_ABSENT = object()


@dataclass
class Conflict:
    path: str
    source_value: Any
    product_value: Any
    winner: str  # "source" (the file, the CRM, ...) | "product"


def merge(base: dict[str, Any] | None, theirs: dict[str, Any], current: dict[str, Any], *,
          source_time: dt.datetime, changed_at: dict[str, dt.datetime],
          scope: set[str] | None = None) -> tuple[dict[str, Any], list[Conflict]]:
    """The merged {path: value} (in theirs' order, then the product's own paths) and the conflicts.
    Only paths in `scope` (all when None) are merged; the others keep the current value."""
    merged: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for path in dict.fromkeys([*theirs, *current]):
        t, c = theirs.get(path), current.get(path)
        value = c
        if (scope is None or path in scope) and t != c:
            b = base.get(path, _ABSENT) if base is not None else _ABSENT
            b = None if b is _ABSENT and base is not None else b
            if b is not _ABSENT and t == b:
                value = c  # the source did not change it
            elif b is not _ABSENT and c == b:
                value = t  # the product did not change it
            elif b is _ABSENT and c is None:
                value = t  # new to the product
            elif b is _ABSENT and t is None:
                value = c  # the source never had it
            else:
                product_time = changed_at.get(path)
                source_wins = product_time is None or source_time >= product_time
                value = t if source_wins else c
                conflicts.append(Conflict(path, t, c, "source" if source_wins else "product"))
        if value is not None:
            merged[path] = value
    for path in list(merged):  # an item kept for a field changed in the product keeps its name (and so stays)
        head, sep, _ = path.rpartition("].")
        name = head + "].name"
        if sep and name not in merged and (current.get(name) or theirs.get(name)):
            merged[name] = current.get(name) or theirs.get(name)
    return merged, conflicts
