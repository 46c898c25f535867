"""Reading profile and people YAML files into validated models, with errors that name the file, line and field."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge import limits
from knowledge.profile import AccountProfile, Person

try:  # the C loader is ~10x faster on large imports
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader


class ProfileError(Exception):
    """A problem in one input file, located as precisely as we can."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, field: str | None = None):
        self.path, self.message, self.line, self.field = str(path), message, line, field
        self.loc: tuple | None = None  # the field's location in the profile, when the line is not known yet
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:  # type: ignore[override]
        """Any value a constructor cannot build (`!!timestamp notadate`, `!!int x`, a 5,000-digit number)
        becomes a located YAML error instead of a traceback."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {_short(node)} ({node.tag.rsplit(':', 1)[-1]}): "
                            f"{_short(str(exc))}", node.start_mark) from exc

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: a key must be a plain value
                raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value, not a list or "
                                                                    "mapping", key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        """An impossible date (2026-02-31) stays text, so validation reports it with its field and line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_yaml_timestamp)


def _short(value: Any, limit: int = 80) -> str:
    """A value for an error message: never the whole of a megabyte string."""
    text = value.value if isinstance(value, yaml.ScalarNode) else value
    text = text if isinstance(text, str) else repr(text)
    return repr(text[:limit] + "…") if len(text) > limit else repr(text)


def shown(path: Path | str) -> str:
    """A path as it can be printed and stored: bytes of a non-UTF-8 file name become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def read_bytes(path: Path, max_bytes: int = limits.MAX_PROFILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; anything else is an error naming the file."""
    if shown(path) != os.fspath(path):
        raise ProfileError(shown(path), "the file name is not valid UTF-8; rename the file")
    try:
        return limits.read_bounded(path, max_bytes)
    except limits.InputRefused as exc:
        raise ProfileError(path, str(exc)) from None


def read_text(path: Path, max_bytes: int = limits.MAX_PROFILE_BYTES, data: bytes | None = None) -> str:
    """Read a UTF-8 regular file of at most `max_bytes`; anything else is an error naming the file (or line)."""
    if data is None:
        data = read_bytes(path, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProfileError(path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                           line=line) from exc


_NUMBER = re.compile(r"[-+]?[0-9_.,]+(?:[eE][-+]?[0-9]+)?")


def check_structure(path: Path, text: str) -> None:
    """Refuse, before building anything, YAML that nests deeper than MAX_DEPTH, has more than MAX_YAML_NODES
    nodes, aliases a list or mapping (`*a` can repeat a large anchor exponentially), uses a list or mapping as a
    key, or writes a number with more than MAX_NUMBER_DIGITS digits. The event stream is flat: no recursion."""
    collections: set[str] = set()  # anchors of lists and mappings
    stack: list[list[int]] = []  # per open collection: [is a mapping, items seen]
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            if not isinstance(event, yaml.NodeEvent):
                if isinstance(event, yaml.CollectionEndEvent) and stack:
                    stack.pop()
                    if stack:
                        stack[-1][1] += 1
                continue
            nodes += 1
            line = event.start_mark.line + 1
            if nodes > limits.MAX_YAML_NODES:
                raise ProfileError(path, f"more than {limits.MAX_YAML_NODES:,} values in one file", line=line)
            as_key = bool(stack) and stack[-1][0] == 1 and stack[-1][1] % 2 == 0
            if isinstance(event, yaml.AliasEvent):
                if event.anchor in collections:
                    raise ProfileError(path, f"the alias *{event.anchor} repeats a list or mapping; write the "
                                             "values out (aliases of single values are fine)", line=line)
            elif isinstance(event, yaml.CollectionStartEvent):
                if as_key:
                    raise ProfileError(path, "a key must be a plain value, not a list or mapping", line=line)
                if len(stack) >= limits.MAX_DEPTH:
                    raise ProfileError(path, f"nested more than {limits.MAX_DEPTH} levels deep", line=line)
                if event.anchor:
                    collections.add(event.anchor)
                stack.append([1 if isinstance(event, yaml.MappingStartEvent) else 0, 0])
                continue
            elif (isinstance(event, yaml.ScalarEvent) and not event.style and len(event.value) > 20
                  and sum(c.isdigit() for c in event.value) > limits.MAX_NUMBER_DIGITS
                  and _NUMBER.fullmatch(event.value)):
                raise ProfileError(path, f"a number with more than {limits.MAX_NUMBER_DIGITS} digits", line=line)
            if stack:
                stack[-1][1] += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ProfileError(path, f"malformed YAML: {exc.problem or exc}", line=mark.line + 1 if mark else None
                           ) from exc
    except yaml.YAMLError as exc:
        raise ProfileError(path, f"malformed YAML: {exc}") from exc


def parse_yaml(path: Path, text: str) -> Any:
    check_structure(path, text)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ProfileError(path, f"malformed YAML: {exc.problem or exc}", line=line) from exc
    except yaml.YAMLError as exc:
        raise ProfileError(path, f"malformed YAML: {exc}") from exc


def _line_of(text: str, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location (mapping keys and list indexes)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                break
            key, node = match[0]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _field_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Walk the model along an error location to list the keys allowed where an unknown key was found."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return []
        current = nxt
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def validation_error(path: Path, text: str, model: type[BaseModel], exc: ValidationError,
                     prefix: tuple = ()) -> ProfileError:
    """Turn the first pydantic error into a located ProfileError (the rest are summarised by count)."""
    errors = exc.errors()
    err = errors[0]
    loc = prefix + tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, tuple(err["loc"]))
        hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        message = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        if allowed:
            message += f"; allowed here: {', '.join(allowed)}"
    elif err["type"] == "missing":
        message = "required field is missing"
    else:
        value = err.get("input")
        if not isinstance(value, dict | list):
            message += f" (got {_short(value)})"
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''} in this file)"
    return ProfileError(path, message, line=_line_of(text, loc), field=_field_name(loc))


line_of = _line_of  # for importers that locate a field found invalid after loading (a merge)
field_name = _field_name


@dataclass
class LoadedProfile:
    profile: AccountProfile
    path: Path
    text: str


def load_profile(path: Path, data: bytes | None = None) -> LoadedProfile:
    """Load and validate one account profile file (`data`: its bytes, when already read)."""
    path = Path(path)
    text = read_text(path, data=data)
    data = parse_yaml(path, text)
    if not isinstance(data, dict):
        raise ProfileError(path, "expected a mapping of profile keys (account: ..., owner: ...) at the top level",
                           line=1)
    try:
        profile = AccountProfile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, text, AccountProfile, exc) from exc
    return LoadedProfile(profile, path, text)


def load_people(path: Path) -> list[Person]:
    """Load people.yaml: a list of people, each email unique, managers referring to listed people."""
    path = Path(path)
    text = read_text(path, limits.MAX_PEOPLE_BYTES)
    data = parse_yaml(path, text)
    if data is None:
        return []
    if isinstance(data, dict) and "people" in data:
        data = data["people"]
        prefix: tuple = ("people",)
    else:
        prefix = ()
    if not isinstance(data, list):
        raise ProfileError(path, "expected a list of people (- email: ..., role: rep|manager|admin)", line=1)
    if len(data) > limits.MAX_PEOPLE:
        raise ProfileError(path, f"more than {limits.MAX_PEOPLE:,} people", line=1)
    people: list[Person] = []
    seen: dict[str, int] = {}
    slack_ids: dict[str, int] = {}
    for i, item in enumerate(data):
        try:
            person = Person.model_validate(item)
        except ValidationError as exc:
            shifted = ValidationError.from_exception_data(exc.title, exc.errors())  # type: ignore[arg-type]
            raise validation_error(path, text, Person, shifted, prefix=(*prefix, i)) from exc
        if person.email in seen:
            raise ProfileError(path, f"duplicate person {person.email!r} (also entry {seen[person.email] + 1})",
                               line=_line_of(text, (*prefix, i)), field=f"[{i}].email")
        if person.slack_id and person.slack_id in slack_ids:
            raise ProfileError(path, f"duplicate slack_id {person.slack_id!r} (also entry "
                                     f"{slack_ids[person.slack_id] + 1}): one Slack user is one person",
                               line=_line_of(text, (*prefix, i, "slack_id")), field=f"[{i}].slack_id")
        seen[person.email] = i
        if person.slack_id:
            slack_ids[person.slack_id] = i
        people.append(person)
    for i, person in enumerate(people):
        if person.manager and person.manager not in seen:
            raise ProfileError(path, f"manager {person.manager!r} is not listed in this file",
                               line=_line_of(text, (*prefix, i, "manager")), field=f"[{i}].manager")
    cycle = _manager_cycle(people)
    if cycle:
        i = seen[cycle[0]]
        raise ProfileError(path, "managers form a cycle: " + " -> ".join([*cycle, cycle[0]]),
                           line=_line_of(text, (*prefix, i, "manager")), field=f"[{i}].manager")
    return people


def _manager_cycle(people: list[Person]) -> list[str] | None:
    """The first chain of managers that leads back to itself (a -> b -> a), found iteratively; else None."""
    manager = {p.email: p.manager for p in people if p.manager}
    state: dict[str, int] = {}  # 1: on the current chain, 2: known to end
    for start in manager:
        chain: list[str] = []
        node: str | None = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            chain.append(node)
            node = manager.get(node)
        if node is not None and state.get(node) == 1:
            return chain[chain.index(node):]
        for done in chain:
            state[done] = 2
    return None
