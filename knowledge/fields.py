"""A profile as readable field paths, and back: what merges and the change history work on.

`finance.revenue`, `contacts[Zhang Min].title`, `suppliers.items[SMC].share`, `metrics.growth`: one path per
value. List items with a name (contacts, competitors, suppliers, customers) are addressed by that name (a second
item of the same name gets `#2`), so a merge never pairs two different people because their order changed. An
item's `.name` path is there as long as the item is; removing it removes the item.

Records (key dates, interactions, notes) are events, not fields: they are addressed whole, e.g.
`key_dates[2026-06-30 renewal: Contract renewal]`, and are only ever added or removed.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.profile import DIMENSIONS, AccountProfile

RECORDS = ("key_dates", "interactions", "notes")
NAMED_LISTS = {f"{d}.items" for d in ("competitors", "suppliers", "downstream")} | {"contacts"}
_SEGMENT = re.compile(r"([A-Za-z_]+)(?:\[((?:[^\]\\]|\\.)*)\])?")


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("]", "\\]")


def _unquote(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def _named(prefix: str, items: list[dict], out: dict[str, Any]) -> None:
    seen: dict[str, int] = {}
    for item in items:
        name = str(item.get("name", ""))
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        for key, value in item.items():
            out[f"{prefix}[{_quote(label)}].{key}"] = value


def flatten(profile: AccountProfile | dict) -> dict[str, Any]:
    """Every field of a profile (not its records) as {path: JSON value}; empty values are absent."""
    data = profile.model_dump(mode="json", exclude_none=True) if isinstance(profile, AccountProfile) else profile
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in RECORDS or value in (None, "", [], {}):
            continue
        if key == "contacts":
            _named("contacts", value, out)
        elif key in DIMENSIONS or key == "metrics":
            for sub, v in value.items():
                if v in (None, "", [], {}):
                    continue
                if sub == "items":
                    _named(f"{key}.items", v, out)
                else:
                    out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def parse(path: str) -> list[tuple[str, str | None]]:
    """`contacts[Zhang Min].title` -> [("contacts", "Zhang Min"), ("title", None)]; ValueError if malformed."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None:
            raise ValueError(f"malformed field path {path!r}")
        parts.append((m.group(1), _unquote(m.group(2)) if m.group(2) is not None else None))
        pos = m.end()
        if pos < len(path):
            if path[pos] != ".":
                raise ValueError(f"malformed field path {path!r}")
            pos += 1
    if not parts:
        raise ValueError("empty field path")
    return parts


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The profile mapping for a {path: value} dict (list items in the order they first appear)."""
    out: dict[str, Any] = {}
    lists: dict[tuple[str, ...], dict[str, dict]] = {}
    for path, value in flat.items():
        if value is None:
            continue
        parts = parse(path)
        node = out
        for i, (key, selector) in enumerate(parts):
            last = i == len(parts) - 1
            if selector is None:
                if last:
                    node[key] = value
                else:
                    node = node.setdefault(key, {})
                continue
            where = tuple(f"{k}[{s}]" for k, s in parts[:i]) + (key,)
            items = lists.setdefault(where, {})
            if selector not in items:
                items[selector] = {}
                node.setdefault(key, []).append(items[selector])
            if last:
                raise ValueError(f"field path {path!r} names an item, not one of its fields")
            node = items[selector]
    # an item whose `.name` was removed is removed
    if "contacts" in out:
        out["contacts"] = [c for c in out["contacts"] if "name" in c]
    for dim in DIMENSIONS:
        section = out.get(dim)
        if isinstance(section, dict) and "items" in section:
            section["items"] = [c for c in section["items"] if "name" in c]
    return out


def records(profile: AccountProfile) -> dict[str, Any]:
    """Key dates, interactions and notes as {path: record}, e.g. `notes[2026-05-01 suppliers by bob@x.com]`."""
    out: dict[str, Any] = {}
    data = profile.model_dump(mode="json", exclude_none=True)
    for kind in RECORDS:
        for item in data.get(kind, []):
            if kind == "key_dates":
                label = f"{item['date']} {item['kind']}: {item['title']}"
            elif kind == "interactions":
                label = f"{item['date']} {item['kind']}" + (f" by {item['by']}" if item.get("by") else "")
            else:
                label = f"{item['date']} {item['dimension']}" + (f" by {item['by']}" if item.get("by") else "")
            path, n = f"{kind}[{_quote(label)}]", 2
            while path in out:
                path, n = f"{kind}[{_quote(label)}#{n}]", n + 1
            out[path] = item
    return out
