"""Editing a profile from a form (Slack modals): who may edit, which fields a form has (with current values and
required flags), and applying submitted values through `Store.edit_profile`. Plain data, nothing Slack-specific.

A form edits one *target* of an account:
- a dimension (`finance`, ...): its own fields (`finance.revenue`, ...); `background` also holds industry and region;
- `metrics`: the metrics fields;
- a named item: `contacts[Zhang Min]`, `suppliers.items[SMC]`; the bare list (`contacts`, `competitors.items`) is a
  form for adding a new one;
- `key_dates`: a new key date (records are only ever added).

Fields come from the pydantic models (knowledge/profile.py): the input kind follows the type (a date, a choice of the
Literal's values, a number with the model's bounds, a line or a longer text), so a field added to the model shows up
in its form without a table here. Only labels that read badly from the field name are spelled out (`LABELS`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError

from knowledge import limits
from knowledge.fields import flatten
from knowledge.profile import (
    DIMENSION_TITLES,
    DIMENSIONS,
    AccountProfile,
    Contact,
    KeyDate,
    Metrics,
    Person,
)

NONE_CHOICE = "-"  # the "(none)" option of an optional choice: clears it
Kind = Literal["text", "line", "number", "integer", "date", "choice", "list"]

# labels that the field name does not give by itself; everything else is the name, capitalised
LABELS = {
    "updated": "As of (date of this information)",
    "as_of": "As of",
    "remind": "Remind me (days before, comma-separated)",
    "share": "Share of their spend in our category (0-1)",
    "birthday": "Birthday (YYYY-MM-DD, or --MM-DD)",
    "tech_cooperation": "Technical cooperation",
    "purchase_share": "Our share of their purchases (0-1)",
    "profit_margin": "Profit margin (0.12 = 12%)",
    "growth": "Growth year over year (0.1 = 10%)",
    "name": "Name",
}
# fields outside a dimension's own model that a dimension form also edits
EXTRA_FIELDS = {"background": ("industry", "region")}
_ITEM_TITLES = {"contacts": "contact", "competitors.items": "competitor", "suppliers.items": "supplier",
                "downstream.items": "customer"}
FORM_ALIASES = {
    "contact": "contacts", "contacts": "contacts", "people": "contacts",
    "metrics": "metrics", "metric": "metrics", "kpi": "metrics", "kpis": "metrics", "scores": "metrics",
    "date": "key_dates", "dates": "key_dates", "key_dates": "key_dates", "keydate": "key_dates",
    "competitor": "competitors.items", "supplier": "suppliers.items", "customer": "downstream.items",
}


@dataclass
class FormField:
    name: str  # the field within the target (`revenue`, `title`); also the form's key
    path: str | None  # the profile field path, None for a key date (a record)
    label: str
    kind: Kind
    value: str | None = None  # the current value as the form shows it
    required: bool = False  # needed for a complete profile (settings.kam_required_fields) or by the model
    model_required: bool = False  # the model has no default: the form cannot be sent without it
    choices: tuple[str, ...] = ()
    hint: str | None = None
    multiline: bool = False


@dataclass
class Form:
    account_id: str
    account: str
    target: str
    title: str
    fields: list[FormField] = field(default_factory=list)
    new_item: bool = False


class EditError(Exception):
    """Submitted values that cannot be stored: {form field name: message}; `None` keys the whole form."""

    def __init__(self, errors: dict[str | None, str]):
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors


# ------------------------------------------------------------------ who may edit


def may_edit(store: Any, person: Person | None, account_id: str) -> bool:
    """The account's owner and team, their managers (up the chain) and admins: the same people who may see it
    (knowledge.store.Store.visible_account_ids is the one access rule)."""
    if person is None:
        return False
    visible = store.visible_account_ids(person)
    return visible is None or account_id in visible


# ------------------------------------------------------------------ targets


def parse_target(target: str) -> tuple[str, str | None]:
    """`contacts[Zhang Min]` -> ("contacts", "Zhang Min"); `finance` -> ("finance", None). ValueError if unknown."""
    base, sep, rest = target.partition("[")
    name = rest[:-1] if sep and rest.endswith("]") else None
    if sep and name is None:
        raise ValueError(f"unknown edit target {target!r}")
    if base in DIMENSIONS or base in ("metrics", "key_dates"):
        if name is not None:
            raise ValueError(f"unknown edit target {target!r}")
        return base, None
    if base in _ITEM_TITLES:
        return base, name
    raise ValueError(f"unknown edit target {target!r}")


def target_for_word(word: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """A word from `/kam edit <account> <word>`: a dimension (or one of `aliases`), `contacts`, `metrics`, `dates`."""
    w = word.lower().strip()
    if w in DIMENSIONS:
        return w
    return FORM_ALIASES.get(w) or (aliases or {}).get(w)


def item_model(base: str) -> type[BaseModel]:
    if base == "contacts":
        return Contact
    dim = base.split(".")[0]
    return typing.get_args(AccountProfile.model_fields[dim].annotation.model_fields["items"].annotation)[0]


def _model_for(base: str) -> type[BaseModel]:
    if base == "metrics":
        return Metrics
    if base == "key_dates":
        return KeyDate
    if base in _ITEM_TITLES:
        return item_model(base)
    return AccountProfile.model_fields[base].annotation  # a dimension section


def target_title(target: str) -> str:
    base, name = parse_target(target)
    if base in DIMENSIONS:
        return DIMENSION_TITLES.get(base, base.capitalize())
    if base == "metrics":
        return "Metrics"
    if base == "key_dates":
        return "New key date"
    noun = _ITEM_TITLES[base]
    return f"{noun.capitalize()}: {name}" if name is not None else f"New {noun}"


def targets(profile: AccountProfile) -> list[tuple[str, str]]:
    """Every form of an account as (target, button label): dimensions, each contact and item, and the "add" forms."""
    out = [(d, DIMENSION_TITLES.get(d, d)) for d in DIMENSIONS]
    out.append(("metrics", "Metrics"))
    out += [(f"contacts[{c.name}]", c.name) for c in profile.contacts]
    out.append(("contacts", "Add contact"))
    out.append(("key_dates", "Add key date"))
    for dim in ("competitors", "suppliers", "downstream"):
        out.append((f"{dim}.items", f"Add {_ITEM_TITLES[f'{dim}.items']}"))
    return out


# ------------------------------------------------------------------ fields of a form


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The core type under Optional/Annotated, with the Annotated metadata collected."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            meta += extra
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation, meta


def _kind(info: Any) -> tuple[Kind, tuple[str, ...], list[Any]]:
    core, meta = _unwrap(info.annotation)
    meta = [*meta, *info.metadata]
    if typing.get_origin(core) is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(core)), meta
    if core is dt.date:
        return "date", (), meta
    if core is float:
        return "number", (), meta
    if core is int:
        return "integer", (), meta
    if typing.get_origin(core) is list:
        return "list", (), meta
    longest = max((getattr(m, "max_length", 0) or 0 for m in meta), default=0)
    return ("text" if longest > limits.MAX_LINE_CHARS else "line"), (), meta


def _bounds(meta: list[Any]) -> str | None:
    lo = next((m.ge for m in meta if isinstance(m, Ge)), None)
    hi = next((m.le for m in meta if isinstance(m, Le)), None)
    if lo is None and hi is None or (hi is not None and hi >= 1e6):
        return None if lo is None else f"At least {lo:g}."
    return f"From {lo:g} to {hi:g}." if lo is not None else f"At most {hi:g}."


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def as_text(value: Any) -> str | None:
    """A stored value as a form shows it (numbers without a trailing .0, lists comma-separated)."""
    if value is None or value in ("", []):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _required_names(base: str, name: str | None, required: list[str]) -> set[str]:
    """The fields of a form that `required` (settings.kam_required_fields) asks for."""
    out = set()
    for path in required:
        head, _, rest = path.partition(".")
        if base in DIMENSIONS and head == base and rest and "." not in rest and rest != "items":
            out.add(rest)
        elif base in EXTRA_FIELDS and path in EXTRA_FIELDS[base]:
            out.add(path)
        elif base == "metrics" and head == "metrics" and rest:
            out.add(rest)
        elif base == "contacts" and head == "contacts" and rest:
            out.add("role")  # `contacts.decision_maker`: a contact with that role
    return out


def form(profile: AccountProfile, account_id: str, target: str, required: list[str] | None = None) -> Form:
    """The form for `target`: its fields, the current values filled in, required ones flagged.
    KeyError when the target names an item that is not on file."""
    base, name = parse_target(target)
    model = _model_for(base)
    flat = flatten(profile)
    if base in _ITEM_TITLES and name is not None:
        if f"{base}[{name}].name" not in flat:
            raise KeyError(target)
        prefix = f"{base}[{name}]."
    elif base in _ITEM_TITLES:
        prefix = None  # a new item: its paths are known once the name is
    elif base == "key_dates":
        prefix = None
    else:
        prefix = f"{base}."
    wanted = _required_names(base, name, required or [])
    out = Form(account_id, profile.account, target, target_title(target),
               new_item=(base in _ITEM_TITLES and name is None) or base == "key_dates")
    names: list[tuple[str, Any]] = []
    if base in EXTRA_FIELDS:
        names += [(n, AccountProfile.model_fields[n]) for n in EXTRA_FIELDS[base]]
    names += [(n, info) for n, info in model.model_fields.items() if n != "items"]
    for fname, info in names:
        kind, choices, meta = _kind(info)
        path = fname if base in EXTRA_FIELDS and fname in EXTRA_FIELDS[base] else (
            prefix + fname if prefix else None)
        value = as_text(flat.get(path)) if path else None
        if base == "key_dates" and fname == "kind":
            value = "other"
        out.fields.append(FormField(
            name=fname, path=path, label=_label(fname), kind=kind, value=value, choices=choices,
            required=fname in wanted or info.is_required(), model_required=info.is_required(),
            hint=_bounds(meta), multiline=kind == "text"))
    return out


# ------------------------------------------------------------------ applying a submitted form


def fingerprint(value: str | None) -> str:
    """A short hash of a shown value: a submission changes only the fields the editor changed, so two people
    editing different fields of one form do not overwrite each other."""
    return hashlib.sha256((value or "").strip().encode()).hexdigest()[:8]


def _convert(f: FormField, raw: str | None) -> Any:
    if raw is None or not str(raw).strip() or (f.kind == "choice" and raw == NONE_CHOICE):
        return None
    text = str(raw).strip()
    if f.kind == "list":
        return [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    return text  # pydantic converts numbers and dates, and says what is wrong with them


def _field_errors(exc: ValidationError, names: set[str]) -> dict[str | None, str]:
    errors: dict[str | None, str] = {}
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if isinstance(p, str)]
        msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        key = next((p for p in reversed(loc) if p in names), None)
        if key is None:  # a rule over several fields (the suppliers' shares): the field its message names
            key = next((n for n in sorted(names, key=len, reverse=True) if n.replace("_", " ") in msg.lower()),
                       None)
        errors.setdefault(key, msg[:150])
    return errors


DATED = {**{d: "updated" for d in DIMENSIONS}, "metrics": "as_of"}  # the "as of" field of a form


def apply(store: Any, form_: Form, values: Mapping[str, str | None], *, actor: str,
          shown: Mapping[str, str] | None = None, today: dt.date | None = None) -> list:
    """Store a submitted form: `values` {field name: text, None/"" = empty}; `shown` {field name: fingerprint of
    the value the form showed}: fields the editor did not change are left alone. With `today`, a change to a
    dimension (or the metrics) dates it today unless the editor set its "as of" date themselves, so an edited
    dimension is no longer stale. Returns the changes recorded. Raises EditError ({field name: message}) and stores
    nothing when a value is invalid."""
    base, name = parse_target(form_.target)
    by_name = {f.name: f for f in form_.fields}
    submitted = {n: _convert(by_name[n], v) for n, v in values.items() if n in by_name}
    missing = {f.name: "Required." for f in form_.fields if f.model_required and submitted.get(f.name) is None
               and (f.name in submitted or form_.new_item)}  # a field not sent (too long to show) is kept
    if missing:
        raise EditError(missing)
    if base == "key_dates":
        data = {k: v for k, v in submitted.items() if v is not None}
        try:
            record = KeyDate.model_validate(data)
        except ValidationError as exc:
            raise EditError(_field_errors(exc, set(by_name))) from exc
        return _edit(store, form_, {}, add=[record], actor=actor, names=set(by_name))
    if base in _ITEM_TITLES and name is None:  # a new item, addressed by its name
        new_name = str(submitted["name"])
        if any(p == f"{base}[{new_name}].name" for p in flatten(store.load_profile(form_.account_id) or {})):
            raise EditError({"name": f"There is already a {_ITEM_TITLES[base]} called {new_name}; edit that one."})
        fields = {f"{base}[{new_name}].{n}": v for n, v in submitted.items() if v is not None}
        return _edit(store, form_, fields, actor=actor, names=set(by_name))
    fields = {}
    for n, v in submitted.items():
        f = by_name[n]
        if f.path is None:
            continue
        if shown is not None and n in shown and fingerprint(values.get(n)) == shown[n]:
            continue  # unchanged in the form: whatever is stored now stays
        fields[f.path] = v
    dated = DATED.get(base)
    if today and dated and dated in by_name and fields and by_name[dated].path not in fields:
        fields[by_name[dated].path] = today.isoformat()
    return _edit(store, form_, fields, actor=actor, names=set(by_name))


def _edit(store: Any, form_: Form, fields: dict[str, Any], *, actor: str, names: set[str],
          add: list | None = None) -> list:
    try:
        return store.edit_profile(form_.account_id, fields, add=add or (), source="slack", actor=actor)
    except ValidationError as exc:
        raise EditError(_field_errors(exc, names)) from exc


# ------------------------------------------------------------------ required fields -> forms


def target_for_required(path: str) -> tuple[str, dict[str, str]]:
    """The form that fills a required field (a path of settings.kam_required_fields), with values to preset:
    `finance.budget` -> ("finance", {}), `contacts.decision_maker` -> ("contacts", {"role": "decision_maker"}),
    `competitors.items` -> ("competitors.items", {}), `industry` -> ("background", {})."""
    head, _, rest = path.partition(".")
    if head == "contacts":
        roles = typing.get_args(_unwrap(Contact.model_fields["role"].annotation)[0])
        return "contacts", ({"role": rest} if rest in roles else {})
    if head in DIMENSIONS:
        return (f"{head}.items", {}) if rest == "items" and head in ("competitors", "suppliers", "downstream") \
            else (head, {})
    if head == "metrics":
        return "metrics", {}
    return "background", {}  # industry, region and other top-level fields


# ------------------------------------------------------------------ "Save to account": which account a message is about


def guess_account(candidates: list[tuple[str, str, list[str]]], text: str, channel_name: str | None = None
                  ) -> str | None:
    """The account a Slack message is most likely about, among (id, name, aliases) the saver may edit: a name or
    alias in the text (the longest match wins), else the channel's name (`#acme-industrial`, `acct-hanshan`),
    else None (the saver chooses)."""
    from knowledge.store import name_key

    def words(s: str) -> str:
        return " " + " ".join("".join(ch if ch.isalnum() else " " for ch in name_key(s)).split()) + " "

    body = words(text)
    best: tuple[int, str] | None = None
    for aid, name, aliases in candidates:
        for label in (name, *aliases, aid):
            key = words(label).strip()
            short = key.split(" ")[0] if key else ""
            for probe in (key, short if len(short) >= 4 and name_key(label) == name_key(name) else ""):
                found = probe and (f" {probe} " in body or (not probe.isascii() and probe in body))
                if found and (best is None or len(probe) > best[0]):
                    best = (len(probe), aid)
    if best:
        return best[1]
    if channel_name:  # a channel per account: its name holds the account's name or first word (`acct-hanshan`)
        channel = words(channel_name.replace("_", " "))
        hits = []
        for aid, name, aliases in candidates:
            for label in (name, *aliases, aid):
                key = words(label).strip()
                first = key.split(" ")[0] if key else ""
                if key and (f" {key} " in channel or (len(first) >= 4 and f" {first} " in channel)):
                    hits.append(aid)
                    break
        if len(set(hits)) == 1:
            return hits[0]
    return None
